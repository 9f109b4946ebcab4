"""Saving and loading state dicts as safetensors files: plain tensors, never pickle.

A safetensors file is a JSON header (names, dtypes, shapes, offsets, optional string metadata)
followed by the raw bytes; loading it runs no code. Files written by ``cr.save`` load in PyTorch
with ``safetensors.torch.load_file`` and the other way round. Writes are atomic: the data goes to
a temporary file in the same folder, which then replaces the target in one step, so a crash never
leaves a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .autograd.tensor import Tensor


def _safetensors() -> Any:
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(
            "saving and loading weights needs the safetensors package: "
            "pip install 'chainrule[weights]' (or pip install safetensors)"
        ) from None
    return safetensors


_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: the mode a plainly created file would get


@contextmanager
def atomic_open(path: str | os.PathLike, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` only when the block ends without an error.

    The data goes to a temporary file in the same folder, which is renamed over ``path`` in one
    step; on an error the temporary file is removed and ``path`` is untouched, so readers see the
    old file or the new one, never a part, and so does a process killed at any moment.

    Args:
        path: the file to replace.
        durable: flush the data to disk (fsync) before the rename, so that the new file also
            survives a crash of the machine (a power cut), where the system's cache is lost: some
            file systems can then show a file renamed before its data reached the disk as empty.
            False skips that wait, for a file that can be written again from another (see
            ``sync_file`` to flush it later).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; give it a new file's mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see ``atomic_open``)."""
    with atomic_open(path, durable) as f:
        f.write(data)


def sync_file(path: str | os.PathLike) -> None:
    """Flush a file written with ``durable=False`` to disk (fsync), as ``durable`` would have."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(
    state_dict: Mapping[str, Any],
    path: str | os.PathLike,
    metadata: Mapping[str, str] | None = None,
    *,
    durable: bool = True,
) -> None:
    """Save a state dict (name -> Tensor or array) to a safetensors file, atomically.

    Args:
        state_dict: e.g. ``model.state_dict()``; names must be strings.
        path: the file to write (conventionally ``*.safetensors``); its folder must exist.
        metadata: optional string -> string pairs stored in the header.
        durable: flush the file to disk before it replaces ``path`` (see ``atomic_open``).

    Example:
        >>> cr.save(model.state_dict(), "model.safetensors", metadata={"epoch": "3"})
    """
    st = _safetensors()
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"save: expected a mapping of names to tensors; got {type(state_dict).__name__}"
        )
    arrays = {}
    for k, v in state_dict.items():
        if not isinstance(k, str):
            raise TypeError(f"save: names must be strings; got {k!r}")
        arr = v._data if isinstance(v, Tensor) else np.asarray(v)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"save: {k!r} has unsupported dtype {arr.dtype}; expected numbers")
        arrays[k] = np.ascontiguousarray(arr)
    meta = None
    if metadata is not None:
        meta = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"save: metadata must map strings to strings; got {k!r}: {v!r}")
            meta[k] = v
    parent = Path(path).parent
    if not parent.is_dir():
        raise FileNotFoundError(f"save: the folder {str(parent)!r} does not exist")
    atomic_write_bytes(path, st.numpy.save(arrays, metadata=meta), durable)


def load(path: str | os.PathLike, with_metadata: bool = False) -> Any:
    """Load a safetensors file as an ordered dict of name -> Tensor.

    Args:
        path: a file written by ``cr.save`` or by any safetensors writer.
        with_metadata: also return the header's metadata dict.

    Returns:
        The state dict, or ``(state_dict, metadata)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a complete safetensors file (truncated, corrupt, or of
            another format); nothing is returned.
    """
    st = _safetensors()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no weight file at {str(path)!r}")
    try:
        with st.safe_open(str(path), framework="np") as f:
            metadata = dict(f.metadata() or {})
            out = OrderedDict((k, Tensor._make(np.array(f.get_tensor(k)))) for k in f.keys())
    except Exception as e:  # the reader's own errors: header, offsets, sizes
        raise ValueError(
            f"load: {str(path)!r} is not a valid safetensors weight file "
            f"({type(e).__name__}: {e}); expected a file written by cr.save or safetensors"
        ) from None
    return (out, metadata) if with_metadata else out
