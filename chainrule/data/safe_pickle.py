"""Reading the pickled CIFAR batches without running any code from the file.

A pickle is a little program: its opcodes may name any importable callable (``os.system``) and
call it. This unpickler names none: ``find_class`` refuses every global except the three that
the official CIFAR-10 files use to describe a NumPy array (``numpy.core.multiarray._reconstruct``,
``numpy.ndarray``, ``numpy.dtype``), plus the two a Python 3 pickle of an array may use
(``numpy._core.numeric._frombuffer`` and ``_codecs.encode``). Even those do not reach NumPy:
each is replaced by a stand-in here that only records plain values (a shape, a numeric dtype
name, raw bytes), and the array is built afterwards with ``np.frombuffer`` once its size has been
checked. Everything else in the file must be dicts, lists, tuples, bytes, strings, numbers,
booleans or None.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import pickletools
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataFormatError

# numeric dtypes an array may have; object arrays (which could hold anything) are refused
_DTYPES = {"b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8"}
_MAX_DEPTH = 32


class _Refused(pickle.UnpicklingError):
    pass


def _text(v: Any) -> str:
    return v.decode("latin1") if isinstance(v, (bytes, bytearray)) else v


class _NDArrayType:
    """Stands in for ``numpy.ndarray`` as the first argument of ``_reconstruct``."""


_NDARRAY = _NDArrayType()


class _DType:
    """Stands in for ``numpy.dtype(name, align, copy)``; ``__setstate__`` gets the byte order."""

    def __init__(self, name: Any, align: Any = False, copy: Any = False) -> None:
        name = _text(name)
        if not isinstance(name, str) or name not in _DTYPES:
            raise _Refused(f"array dtype {name!r} is not a plain numeric dtype")
        self.name = name
        self.byteorder = "|"

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) < 2:
            raise _Refused("malformed dtype state")
        order = _text(state[1])
        if order not in ("<", ">", "|", "="):
            raise _Refused(f"dtype byte order {order!r}")
        self.byteorder = order

    def to_numpy(self) -> np.dtype:
        order = "=" if self.byteorder == "|" else self.byteorder
        return np.dtype(self.name).newbyteorder(order)


def _array_from(raw: Any, dtype: _DType, shape: Any, fortran: bool) -> np.ndarray:
    if not isinstance(dtype, _DType):
        raise _Refused("array without a numeric dtype")
    if not (isinstance(shape, tuple) and all(isinstance(s, int) and s >= 0 for s in shape)):
        raise _Refused(f"array shape {shape!r}")
    if isinstance(raw, str):  # a Python 2 str decoded as text: its code points are the bytes
        raw = raw.encode("latin1")
    if not isinstance(raw, (bytes, bytearray)):
        raise _Refused("array data that is not raw bytes (e.g. an object array)")
    dt = dtype.to_numpy()
    if len(raw) != math.prod(shape) * dt.itemsize:
        raise _Refused(
            f"array of shape {shape} and dtype {dt} needs {math.prod(shape) * dt.itemsize} "
            f"bytes, but {len(raw)} are stored"
        )
    a = np.frombuffer(raw, dtype=dt).reshape(shape, order="F" if fortran else "C")
    return a.astype(dt.newbyteorder("="), copy=True)  # native byte order, writable, owned


class _ArrayStub:
    """Stands in for the empty array ``_reconstruct`` makes; ``__setstate__`` fills it."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Refused("malformed array state")
        shape, dtype, fortran, raw = state[-4:]
        self.array = _array_from(raw, dtype, shape, bool(fortran))


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> _ArrayStub:
    if cls is not _NDARRAY:
        raise _Refused("_reconstruct of something other than numpy.ndarray")
    return _ArrayStub()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    return _array_from(
        bytes(buf) if isinstance(buf, bytearray) else buf, dtype, shape, order == "F"
    )


def _encode(text: Any, encoding: Any = "latin1") -> bytes:
    # Python 3 pickles bytes with protocol 2 as _codecs.encode(text, "latin1")
    if not isinstance(text, str) or _text(encoding).replace("-", "") != "latin1":
        raise _Refused("_codecs.encode with an encoding other than latin1")
    return text.encode("latin1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DType,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _encode,
}


class SafeUnpickler(pickle.Unpickler):
    """An Unpickler that builds plain data and NumPy arrays and never calls anything else.

    Args:
        file: a binary file object.

    Example:
        >>> with open("data_batch_1", "rb") as f:
        ...     batch = SafeUnpickler(f).load()   # {b"data": uint8 array, b"labels": [...], ...}
    """

    def __init__(self, file: Any) -> None:
        # Python 2 str objects (the CIFAR files were written by Python 2) come back as bytes
        super().__init__(file, encoding="bytes")

    def find_class(self, module: str, name: str) -> Any:
        key = (_text(module), _text(name))
        if key in _ALLOWED:
            return _ALLOWED[key]
        raise _Refused(
            f"the file asks to load the global {key[0]}.{key[1]}; only plain data and NumPy "
            "arrays are allowed, so nothing was run"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("persistent references are not allowed")


def _resolve(obj: Any, depth: int = 0) -> Any:
    """Replace array stand-ins by arrays and check that only plain data remain."""
    if depth > _MAX_DEPTH:
        raise _Refused(f"nesting deeper than {_MAX_DEPTH} levels")
    if isinstance(obj, _ArrayStub):
        if obj.array is None:
            raise _Refused("an array without data")
        return obj.array
    if isinstance(obj, (np.ndarray, str, bytes, bytearray, int, float, bool, type(None))):
        return obj
    if isinstance(obj, dict):
        return {_resolve(k, depth + 1): _resolve(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_resolve(v, depth + 1) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_resolve(v, depth + 1) for v in obj)
    raise _Refused(f"an object of type {type(obj).__name__}")


def load_pickle(path: str | os.PathLike, what: str = "a pickled dict") -> Any:
    """Read a pickle file of plain data (and NumPy arrays) without running code from it.

    Args:
        path: the file.
        what: how to describe the expected content in error messages.

    Returns:
        The unpickled object: dicts, lists, tuples, bytes, str, numbers and arrays only.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: the file is truncated or corrupt, or asks for any other object or
            callable (which is then never called).

    Example:
        >>> batch = cr.data.safe_pickle.load_pickle("cifar-10-batches-py/data_batch_1")
        >>> batch[b"data"].shape
        (10000, 3072)
    """
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        # Walk the opcodes first (pure Python, on the bytes in hand): a length field that
        # claims more bytes than the file holds is refused here, where the C unpickler would
        # allocate the claimed size before finding out.
        for _ in pickletools.genops(io.BytesIO(data)):
            pass
        obj = SafeUnpickler(io.BytesIO(data)).load()
        return _resolve(obj)
    except _Refused as e:
        raise DataFormatError(
            f"{path}: refused to unpickle: {e}. Expected {what}; the file is not an official "
            "data file: delete it and download it again"
        ) from None
    except Exception as e:  # truncation (EOFError), bad opcodes, wrong arguments, ...
        raise DataFormatError(
            f"{path}: expected {what}; found a truncated or corrupt pickle "
            f"({type(e).__name__}: {e}). Delete it and download it again"
        ) from None
