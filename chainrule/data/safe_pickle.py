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

A pickle can also refer to one object many times (the memo), so a 200-byte file can describe a
list of lists nested ten levels deep with each level repeating the one below ("billion laughs"),
or 1,500 arrays over one 1 MB string. Nothing is copied while the file is read: arrays stay
descriptions until every reference is turned into its own plain value, and each one's size
counts against a budget of about twice the file's size (an honest pickle stores every value it
holds once). The file is refused as soon as the budget runs out, long before the memory does.
Memo indices must be the consecutive ones a pickler writes: a 9-byte pickle that stores an
object at memo index 2^27 would make the C unpickler allocate 2 GB for its memo table.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import pickletools
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataFormatError

# numeric dtypes an array may have; object arrays (which could hold anything) are refused
_DTYPES = {"b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8"}
_MAX_DEPTH = 32
_MAX_NDIM = 32

#: The values built from a file may take about this many times the file's size in memory (every
#: reference to a shared object counted in full), plus ``BUDGET_SLACK`` bytes.
BUDGET_FACTOR = 2
BUDGET_SLACK = 1 << 20

# what a value costs in the budget, in bytes: CPython's sizes on a 64-bit machine, roughly
_SLOT = 8  # a reference in a list, tuple or dict
_COST = {list: 56, tuple: 40, dict: 64, bytes: 33, str: 49, bytearray: 57, int: 28, float: 24}
_ARRAY = 112


class _Refused(pickle.UnpicklingError):
    pass


def _text(v: Any) -> str:
    return v.decode("latin1") if isinstance(v, (bytes, bytearray)) else v


class _StandIn:
    """Base of the stand-ins: no ``__dict__``, and no state from the file unless they ask.

    Without this, the BUILD opcode could set attributes on them (even on the shared
    ``_NDARRAY``), as it may on any plain Python object.
    """

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise _Refused(f"state given to {type(self).__name__.lstrip('_')}")


class _NDArrayType(_StandIn):
    """Stands in for ``numpy.ndarray`` as the first argument of ``_reconstruct``."""

    __slots__ = ()


_NDARRAY = _NDArrayType()


class _DType(_StandIn):
    """Stands in for ``numpy.dtype(name, align, copy)``; ``__setstate__`` gets the byte order."""

    __slots__ = ("name", "byteorder")

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


class _Latin1(_StandIn):
    """Stands in for ``_codecs.encode(text, "latin1")``: the bytes are made when resolved."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def encode(self) -> bytes:
        try:
            return self.text.encode("latin1")
        except UnicodeEncodeError:
            raise _Refused("_codecs.encode of text that is not latin1") from None


class _LazyArray(_StandIn):
    """An array described by the file (raw bytes, dtype, shape, order), checked but not built."""

    __slots__ = ("raw", "dtype", "shape", "fortran")

    def __init__(self, raw: Any, dtype: Any, shape: Any, fortran: bool) -> None:
        if not isinstance(dtype, _DType):
            raise _Refused("array without a numeric dtype")
        if not (
            isinstance(shape, tuple)
            and len(shape) <= _MAX_NDIM
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
        ):
            raise _Refused(f"array shape {shape!r}")
        if not isinstance(raw, (bytes, bytearray, str, _Latin1)):
            raise _Refused("array data that is not raw bytes (e.g. an object array)")
        itemsize = dtype.to_numpy().itemsize
        # a zero dimension makes the size 0 whatever the others are; NumPy still refuses shapes
        # whose other dimensions multiply past its index range
        if math.prod(s or 1 for s in shape) * itemsize > sys.maxsize:
            raise _Refused(f"array shape {shape!r} is larger than any array can be")
        n = len(raw.text if isinstance(raw, _Latin1) else raw)
        if n != math.prod(shape) * itemsize:
            raise _Refused(
                f"array of shape {shape} and dtype {dtype.to_numpy()} needs "
                f"{math.prod(shape) * itemsize} bytes, but {n} are stored"
            )
        self.raw, self.dtype, self.shape, self.fortran = raw, dtype, shape, fortran

    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.to_numpy().itemsize

    def build(self) -> np.ndarray:
        raw = self.raw
        if isinstance(raw, _Latin1):
            raw = raw.encode()
        elif isinstance(raw, str):  # a Python 2 str decoded as text: its code points are bytes
            raw = _Latin1(raw).encode()
        dt = self.dtype.to_numpy()
        a = np.frombuffer(raw, dtype=dt).reshape(self.shape, order="F" if self.fortran else "C")
        return a.astype(dt.newbyteorder("="), copy=True)  # native byte order, writable, owned


class _ArrayStub(_StandIn):
    """Stands in for the empty array ``_reconstruct`` makes; ``__setstate__`` describes it."""

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: _LazyArray | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Refused("malformed array state")
        shape, dtype, fortran, raw = state[-4:]
        self.array = _LazyArray(raw, dtype, shape, bool(fortran))


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> _ArrayStub:
    if cls is not _NDARRAY:
        raise _Refused("_reconstruct of something other than numpy.ndarray")
    return _ArrayStub()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> _LazyArray:
    return _LazyArray(buf, dtype, shape, order == "F")


def _encode(text: Any, encoding: Any = "latin1") -> _Latin1:
    # Python 3 pickles bytes with protocol 2 as _codecs.encode(text, "latin1")
    if not isinstance(text, str) or _text(encoding).replace("-", "") != "latin1":
        raise _Refused("_codecs.encode with an encoding other than latin1")
    return _Latin1(text)


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
    """An Unpickler that builds plain data and array descriptions and never calls anything else.

    Use ``load_pickle``, which also checks the memo indices before unpickling and turns the
    array descriptions into arrays within a memory budget.

    Args:
        file: a binary file object.

    Example:
        >>> with open("data_batch_1", "rb") as f:
        ...     raw = SafeUnpickler(f).load()   # plain data; arrays still stand-ins
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


_PUT = {"PUT", "BINPUT", "LONG_BINPUT"}


def _check_opcodes(data: bytes) -> None:
    """Walk the opcodes (pure Python, on the bytes in hand) before the C unpickler runs.

    A length field that claims more bytes than the file holds fails here, where the C
    unpickler would allocate the claimed size first. Memo indices must grow one at a time, as
    a pickler writes them (0, 1, 2, ...; Python 2's cPickle, which wrote the official CIFAR
    files, starts at 1): the C unpickler sizes its memo table by the largest index.
    """
    stores = 0
    for op, arg, pos in pickletools.genops(io.BytesIO(data)):
        if op.name == "MEMOIZE":
            stores += 1
        elif op.name in _PUT:
            if not isinstance(arg, int) or not 0 <= arg <= stores + 1:
                raise _Refused(
                    f"memo index {arg} at byte {pos}, after {stores} stores; a pickler numbers "
                    "them 0, 1, 2, ..."
                )
            stores += 1


class _Budget:
    """Bytes left for the values of one file: every reference is charged what it builds."""

    def __init__(self, limit: int) -> None:
        self.limit = self.left = limit

    def charge(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise _Refused(
                f"its values would take more than {self.limit} bytes, about {BUDGET_FACTOR} "
                "times the file's size: it refers to the same data over and over (a "
                "decompression bomb)"
            )


def _resolve(obj: Any, budget: _Budget, depth: int = 0) -> Any:
    """Turn the unpickled objects into plain values, each reference into its own value.

    Arrays are built here, one per reference; each value's size is charged to ``budget`` before
    it is built, so shared references cannot multiply the memory used.
    """
    if depth > _MAX_DEPTH:
        raise _Refused(f"nesting deeper than {_MAX_DEPTH} levels")
    budget.charge(_SLOT)
    if isinstance(obj, _ArrayStub):
        if obj.array is None:
            raise _Refused("an array without data")
        obj = obj.array
    if isinstance(obj, _LazyArray):
        budget.charge(_ARRAY + obj.nbytes())
        return obj.build()
    if isinstance(obj, _Latin1):
        budget.charge(_COST[bytes] + len(obj.text))
        return obj.encode()
    if obj is None or isinstance(obj, bool):
        return obj
    kind = type(obj)
    if kind in (bytes, str, bytearray):
        budget.charge(_COST[kind] + len(obj))
        return bytearray(obj) if kind is bytearray else obj  # a mutable value is not shared
    if kind in (int, float):
        budget.charge(_COST[kind] + (obj.bit_length() // 8 if kind is int else 0))
        return obj
    if kind is dict:
        budget.charge(_COST[dict] + 2 * _SLOT * len(obj))
        return {
            _resolve(k, budget, depth + 1): _resolve(v, budget, depth + 1) for k, v in obj.items()
        }
    if kind in (list, tuple):
        budget.charge(_COST[kind] + _SLOT * len(obj))
        items = [_resolve(v, budget, depth + 1) for v in obj]
        return items if kind is list else tuple(items)
    raise _Refused(f"an object of type {type(obj).__name__.lstrip('_')}")


def load_pickle(path: str | os.PathLike, what: str = "a pickled dict") -> Any:
    """Read a pickle file of plain data (and NumPy arrays) without running code from it.

    Args:
        path: the file.
        what: how to describe the expected content in error messages.

    Returns:
        The unpickled object: dicts, lists, tuples, bytes, str, numbers and arrays only; each
        reference in the file becomes its own value (no two lists or arrays are shared).

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: the file is truncated or corrupt, asks for any other object or
            callable (which is then never called), or its values would take more than about
            ``BUDGET_FACTOR`` times its size in memory (shared references repeated over and
            over: refused before that memory is used).

    Example:
        >>> batch = cr.data.safe_pickle.load_pickle("cifar-10-batches-py/data_batch_1")
        >>> batch[b"data"].shape
        (10000, 3072)
    """
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        _check_opcodes(data)
        obj = SafeUnpickler(io.BytesIO(data)).load()
        return _resolve(obj, _Budget(BUDGET_FACTOR * len(data) + BUDGET_SLACK))
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
