"""Argument handling shared by the ops: PyTorch's dim/keepdim and NumPy's axis/keepdims."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def reduce_axes(dim: Any, axis: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """Normalise ``dim`` (PyTorch) or ``axis`` (NumPy) to a sorted tuple of axes, or None (all)."""
    if dim is not None and axis is not None:
        raise TypeError(f"{op}: pass dim or axis, not both")
    d = dim if dim is not None else axis
    if d is None:
        return None
    dims = (d,) if isinstance(d, int) else tuple(d)
    axes = tuple(sorted({normalize_dim(k, ndim, op) for k in dims}))
    return axes if ndim else ()  # a 0-d tensor takes dim 0 or -1, as PyTorch: nothing to reduce


def keep(keepdim: bool, keepdims: bool | None) -> bool:
    return bool(keepdims) if keepdims is not None else bool(keepdim)


def normalize_dim(dim: Any, ndim: int, op: str) -> int:
    """A dimension index in [0, ndim); negative counts from the end, as in NumPy."""
    try:
        d = int(dim.__index__())
    except (AttributeError, TypeError):
        raise TypeError(f"{op}: dim must be an integer; got {type(dim).__name__}") from None
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(
            f"{op}: dimension {d} is out of range for a tensor with {ndim} dimension(s) "
            f"(expected one in [{-n}, {n - 1}])"
        )
    return d % n


def shape_arg(shape: Sequence[Any], op: str) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike, as PyTorch does."""
    if len(shape) == 1 and not isinstance(shape[0], int) and hasattr(shape[0], "__len__"):
        shape = tuple(shape[0])
    try:
        return tuple(int(s.__index__()) for s in shape)
    except (AttributeError, TypeError):
        raise TypeError(f"{op}: expected a shape of integers; got {shape!r}") from None
