"""Data types, as NumPy dtypes under PyTorch's names, and the default floating dtype."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool = np.dtype("bool")  # noqa: A001  (PyTorch's name)

half, float, double = float16, float32, float64  # noqa: A001
int, long = int32, int64  # noqa: A001

_default = [float32]


def get_default_dtype() -> np.dtype:
    """The dtype Python floats become (float32 unless changed)."""
    return _default[0]


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype Python floats become: float32 (the default) or float64.

    Example:
        >>> cr.set_default_dtype(cr.float64)   # e.g. for gradient checks
    """
    d = to_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype (float32, float64); got {d}")
    _default[0] = d


def to_dtype(dtype: Any) -> np.dtype:
    """Normalise ``dtype`` (a chainrule/NumPy dtype, a type such as float, or a name) to a dtype."""
    if dtype is builtins.float:  # Python's float means the default floating dtype
        return _default[0]
    try:
        d = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"expected a dtype such as cr.float32 or cr.int64; got {dtype!r}") from e
    if d.kind not in "biuf":
        raise TypeError(
            f"unsupported dtype {d}: chainrule tensors hold booleans, integers or floats"
        )
    return d
