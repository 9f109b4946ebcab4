"""Saving and loading state dicts as safetensors files: plain tensors, never pickle.

A safetensors file is a JSON header (names, dtypes, shapes, offsets, optional string metadata)
followed by the raw bytes; loading it runs no code. Files written by ``cr.save`` load in PyTorch
with ``safetensors.torch.load_file`` and the other way round. Writes are atomic: the data goes to
a temporary file in the same folder, which then replaces the target in one step, so a crash never
leaves a half-written file.

Tensors on any device are saved; their values go through the CPU. A tensor saved from another
device than the CPU has its device recorded in the header (``chainrule.devices``), and
``load``'s ``map_location`` decides where each tensor goes, with PyTorch's meanings: by default
back to the device it was saved from; or to one device (``"cpu"``, ``"strict:1"``, a
``cr.device``); or by a dict ``{saved device: device}``; or by a function of the tensor (on the
CPU) and its saved device's name.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np  # safetensors reads and writes NumPy arrays: values pass through the CPU

from .autograd.tensor import Tensor
from .backend import CPU, device, device_of, from_numpy, is_array, resolve, to_numpy

#: The header's metadata key that records the devices of tensors not saved from the CPU.
DEVICES_KEY = "chainrule.devices"


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
        state_dict: e.g. ``model.state_dict()``; names must be strings. Tensors may be on any
            device; those not on the CPU have their device recorded for ``load``.
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
    devices = {}
    for k, v in state_dict.items():
        if not isinstance(k, str):
            raise TypeError(f"save: names must be strings; got {k!r}")
        data = v._data if isinstance(v, Tensor) else v
        if is_array(data):
            where = device_of(data)
            if where != CPU:
                devices[k] = str(where)
            arr = to_numpy(data)
        else:
            arr = np.asarray(data)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"save: {k!r} has unsupported dtype {arr.dtype}; expected numbers")
        arrays[k] = np.asarray(arr, order="C")  # (ascontiguousarray makes a 0-d array 1-d)
    meta = None
    if metadata is not None:
        meta = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"save: metadata must map strings to strings; got {k!r}: {v!r}")
            if k == DEVICES_KEY:
                raise ValueError(f"save: the metadata key {k!r} is chainrule's own; use another")
            meta[k] = v
    if devices:
        meta = dict(meta or {}, **{DEVICES_KEY: json.dumps(devices, sort_keys=True)})
    parent = Path(path).parent
    if not parent.is_dir():
        raise FileNotFoundError(f"save: the folder {str(parent)!r} does not exist")
    atomic_write_bytes(path, st.numpy.save(arrays, metadata=meta), durable)


def load(path: str | os.PathLike, map_location: Any = None, *, with_metadata: bool = False) -> Any:
    """Load a safetensors file as an ordered dict of name -> Tensor.

    Args:
        path: a file written by ``cr.save`` or by any safetensors writer.
        map_location: where the tensors go, as in PyTorch's ``torch.load``:

            - None: each to the device it was saved from (the CPU for files that do not say,
              such as those of other writers);
            - a device (``"cpu"``, ``"cuda:0"``, ``"strict:1"``, a ``cr.device``): all there;
            - a dict ``{saved device: device}``, e.g. ``{"cuda:1": "cuda:0"}``: a tensor saved
              from a key's device goes to its value, the others to where they were saved from;
            - a function ``f(tensor, location)``, called with each tensor on the CPU and the
              name of the device it was saved from (``"cpu"``, ``"cuda:1"``): it returns the
              tensor to use (moved where it should be), or None to take the default.
        with_metadata: also return the header's metadata dict (without chainrule's own record
            of devices).

    Returns:
        The state dict, or ``(state_dict, metadata)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a complete safetensors file (truncated, corrupt, or of
            another format); nothing is returned. Or a device named in ``map_location`` that
            does not exist.
        TypeError: ``map_location`` of another kind, or a function that returns no Tensor.
        RuntimeError: a tensor's device cannot be used here (not installed, no GPU); pass
            ``map_location="cpu"``.

    Example:
        >>> sd = cr.load("model.safetensors", map_location="cpu")
    """
    st = _safetensors()
    place = _placement(map_location)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no weight file at {str(path)!r}")
    try:
        with st.safe_open(str(path), framework="np") as f:
            metadata = dict(f.metadata() or {})
            arrays = OrderedDict((k, np.array(f.get_tensor(k))) for k in f.keys())
        saved = json.loads(metadata.pop(DEVICES_KEY, "{}"))
        if not isinstance(saved, dict):
            raise ValueError(f"{DEVICES_KEY} is not a JSON object")
    except Exception as e:  # the reader's own errors: header, offsets, sizes
        raise ValueError(
            f"load: {str(path)!r} is not a valid safetensors weight file "
            f"({type(e).__name__}: {e}); expected a file written by cr.save or safetensors"
        ) from None
    out = OrderedDict((k, place(k, a, str(saved.get(k, "cpu")))) for k, a in arrays.items())
    return (out, metadata) if with_metadata else out


def _placement(map_location: Any) -> Any:
    """``map_location`` as a function (name, NumPy array, saved location) -> Tensor, checked."""
    if map_location is None:
        return _to_device

    if isinstance(map_location, (str, device)):
        where = _device_arg(map_location, "map_location", usable=True)
        return lambda name, arr, saved: _to_device(name, arr, str(where))

    if isinstance(map_location, Mapping):
        remap = {}
        for k, v in map_location.items():
            to = _device_arg(v, f"map_location[{k!r}]", usable=True)
            remap[str(_device_arg(k, "a key of map_location"))] = str(to)
        return lambda name, arr, saved: _to_device(name, arr, remap.get(saved, saved))

    if callable(map_location):

        def call(name: str, arr: np.ndarray, saved: str) -> Tensor:
            t = map_location(Tensor._make(arr), saved)
            if t is None:
                return _to_device(name, arr, saved)
            if not isinstance(t, Tensor):
                raise TypeError(
                    f"load: map_location returned {type(t).__name__} for {name!r}; expected the "
                    "Tensor to use (e.g. tensor.to('cpu')) or None for the default"
                )
            return t

        return call

    raise TypeError(
        "load: map_location must be None, a device ('cpu', 'cuda:0', 'strict:1' or a "
        "cr.device), a dict {saved device: device} or a function (tensor, location) -> tensor; "
        f"got {type(map_location).__name__} {map_location!r}"
    )


def _device_arg(where: Any, what: str, usable: bool = False) -> device:
    """A device named in map_location; with ``usable``, one that exists here (a target)."""
    if not isinstance(where, (str, device)):
        raise TypeError(
            f"load: {what} must be a device ('cpu', 'cuda:0', 'strict:1' or a cr.device); got "
            f"{type(where).__name__} {where!r}"
        )
    try:
        d = device(where)
    except ValueError as e:
        raise ValueError(f"load: {what}: {e}") from None
    if usable:
        try:
            resolve(d)
            if d.type != "cpu":
                from_numpy(np.zeros(0), d)  # an index beyond the devices there is refused here
        except RuntimeError as e:
            raise ValueError(f"load: {what} names {d}, which cannot be used here: {e}") from None
    return d


def _to_device(name: str, arr: np.ndarray, where: str) -> Tensor:
    """The loaded array ``arr`` as a Tensor on the device named ``where``."""
    try:
        target = resolve(where)
    except (RuntimeError, ValueError) as e:
        raise RuntimeError(
            f"load: {name!r} goes to device {where}, which cannot be used here ({e}); pass "
            "map_location='cpu' (or another device) to load it elsewhere"
        ) from None
    return Tensor._make(from_numpy(arr, target))
