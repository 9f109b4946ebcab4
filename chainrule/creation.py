"""Making tensors: from data, filled with constants, ranges, and random values."""

from __future__ import annotations

import numbers
from typing import Any

from . import dtypes
from .autograd.tensor import Tensor, to_array
from .backend import NUMPY, canonical_dtype, device_of, is_array, ndarray, resolve
from .backend import from_numpy as _on_device
from .ops._util import shape_arg


def tensor(
    data: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    name: str | None = None,
    device: Any = None,
) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Args:
        data: a number, a (nested) list, a NumPy array or a tensor.
        dtype: the dtype; by default Python floats become float32 (see ``set_default_dtype``),
            ints int64, bools bool, and NumPy arrays keep their own dtype.
        requires_grad: whether backward should compute a gradient for it (floating dtypes only).
        name: an optional label, shown in reprs and graph drawings.
        device: where it lives: ``"cpu"`` (the default for Python data), ``"cuda"``,
            ``"cuda:1"``, ``"strict"`` or a ``cr.device``; by default an array stays on its own.

    Example:
        >>> cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True).shape
        (2, 2)
    """
    if type(data) is float and dtype is None and device is None and name is None:
        # the lean path for a Python number (the lecture's leaves): the default dtype, which is
        # always floating, so it may require grad without requires_grad_'s check
        return Tensor._make(_asarray(data, dtype=dtypes.get_default_dtype()), bool(requires_grad))
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name, device=device)


_asarray = NUMPY.asarray


def from_numpy(array: ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (no copy; its dtype is kept)."""
    if not isinstance(array, ndarray):
        raise TypeError(f"from_numpy expects a NumPy array; got {type(array).__name__}")
    return Tensor._make(to_array(array, copy=False))


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory when it already is an array of that dtype there."""
    where = resolve(device)
    source = data._data if isinstance(data, Tensor) else data
    if is_array(source):
        kept = (dtype is None or canonical_dtype(source.dtype) == dtypes.to_dtype(dtype)) and (
            where is None or device_of(source) == where
        )
        if not kept:
            # a copy into another dtype or device, made as cr.tensor makes one: cr.compile
            # notes it, so that a replay copies the array's values again
            return Tensor(data, dtype=dtype, device=device)
        if isinstance(data, Tensor):
            return data
    return Tensor._make(to_array(data, dtype, copy=False, device=where))


def _filled(
    fill: Any, size: tuple, dtype: Any, requires_grad: bool, default: Any, device: Any
) -> Tensor:
    shape = shape_arg(size, "size")
    d = dtypes.to_dtype(dtype) if dtype is not None else default
    return _made(NUMPY.full(shape, fill, dtype=d), requires_grad, device)


def _made(values: Any, requires_grad: bool, device: Any) -> Tensor:
    """A new leaf holding NumPy array ``values``, put on ``device``."""
    t = Tensor._make(_on_device(values, resolve(device)))
    return t.requires_grad_(True) if requires_grad else t


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of zeros: ``cr.zeros(2, 3)`` or ``cr.zeros((2, 3))``."""
    return _filled(0, size, dtype, requires_grad, dtypes.get_default_dtype(), device)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of ones."""
    return _filled(1, size, dtype, requires_grad, dtypes.get_default_dtype(), device)


def full(
    size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """A tensor filled with ``fill_value``; its dtype follows the value (float, int or bool)."""
    default = to_array(fill_value).dtype
    return _filled(fill_value, (size,), dtype, requires_grad, default, device)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of the given size (filled with zeros here: NumPy's empty gives no speed-up)."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad, device=device)


def zeros_like(
    input: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """Zeros of ``input``'s shape and dtype."""
    where = device if device is not None else input.device
    return zeros(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad, device=where)


def ones_like(
    input: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """Ones of ``input``'s shape and dtype."""
    where = device if device is not None else input.device
    return ones(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad, device=where)


def full_like(
    input: Tensor,
    fill_value: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """``fill_value`` in ``input``'s shape and dtype, on its device."""
    where = device if device is not None else input.device
    d = dtype or input.dtype
    return full(input.shape, fill_value, dtype=d, requires_grad=requires_grad, device=where)


def eye(
    n: int,
    m: int | None = None,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """An n x m identity matrix (m = n by default)."""
    d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    return _made(NUMPY.eye(n, m, dtype=d), requires_grad, device)


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """Values from ``start`` to ``end`` (excluded) by ``step``; ``arange(n)`` is 0..n-1.

    int64 when all arguments are integers, else the default float dtype.
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    default = dtypes.int64 if ints else dtypes.get_default_dtype()
    d = dtypes.to_dtype(dtype) if dtype is not None else default
    return _made(NUMPY.astype(NUMPY.arange(start, end, step), d), requires_grad, device)


def linspace(
    start: float,
    end: float,
    steps: int,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    if steps < 0:
        raise ValueError(f"linspace: steps must be non-negative; got {steps}")
    d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    return _made(NUMPY.astype(NUMPY.linspace(start, end, steps), d), requires_grad, device)
