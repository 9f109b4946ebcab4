"""Making tensors: from data, filled with constants, ranges, and random values."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes
from .autograd.tensor import Tensor, to_array
from .ops._util import shape_arg


def tensor(
    data: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None
) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Args:
        data: a number, a (nested) list, a NumPy array or a tensor.
        dtype: the dtype; by default Python floats become float32 (see ``set_default_dtype``),
            ints int64, bools bool, and NumPy arrays keep their own dtype.
        requires_grad: whether backward should compute a gradient for it (floating dtypes only).
        name: an optional label, shown in reprs and graph drawings.

    Example:
        >>> cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True).shape
        (2, 2)
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (no copy; its dtype is kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a NumPy array; got {type(array).__name__}")
    return Tensor._make(to_array(array, copy=False))


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory when it already is an array of that dtype."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtypes.to_dtype(dtype)):
        return data
    return Tensor._make(to_array(data, dtype, copy=False))


def _filled(fill: Any, size: tuple, dtype: Any, requires_grad: bool, default: Any) -> Tensor:
    shape = shape_arg(size, "size")
    d = dtypes.to_dtype(dtype) if dtype is not None else default
    return Tensor(np.full(shape, fill, dtype=d), requires_grad=requires_grad)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``cr.zeros(2, 3)`` or ``cr.zeros((2, 3))``."""
    return _filled(0, size, dtype, requires_grad, dtypes.get_default_dtype())


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _filled(1, size, dtype, requires_grad, dtypes.get_default_dtype())


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``; its dtype follows the value (float, int or bool)."""
    default = to_array(fill_value).dtype
    return _filled(fill_value, (size,), dtype, requires_grad, default)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of the given size (filled with zeros here: NumPy's empty gives no speed-up)."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def zeros_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``input``'s shape and dtype."""
    return zeros(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def ones_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``input``'s shape and dtype."""
    return ones(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def full_like(
    input: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``fill_value`` in ``input``'s shape and dtype."""
    return full(input.shape, fill_value, dtype=dtype or input.dtype, requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An n x m identity matrix (m = n by default)."""
    d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    return Tensor(np.eye(n, m, dtype=d), requires_grad=requires_grad)


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from ``start`` to ``end`` (excluded) by ``step``; ``arange(n)`` is 0..n-1.

    int64 when all arguments are integers, else the default float dtype.
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    default = dtypes.int64 if ints else dtypes.get_default_dtype()
    d = dtypes.to_dtype(dtype) if dtype is not None else default
    return Tensor(np.arange(start, end, step).astype(d), requires_grad=requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    if steps < 0:
        raise ValueError(f"linspace: steps must be non-negative; got {steps}")
    d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    return Tensor(np.linspace(start, end, steps).astype(d), requires_grad=requires_grad)
