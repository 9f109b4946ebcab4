"""The array module a tensor lives on.

Every op computes on the arrays of one module, NumPy today. Ops import ``xp`` from here rather than
NumPy itself, so that another array module with NumPy's interface (CuPy) can take its place in one
spot.
"""

from __future__ import annotations

import numpy

xp = numpy

#: The array type the engine stores in ``Tensor._data``.
ndarray = numpy.ndarray

_FLOAT_KINDS = frozenset("f")


def is_floating(dtype: numpy.dtype) -> bool:
    """True for the dtypes that can carry gradients (float16, float32, float64)."""
    return dtype.kind in _FLOAT_KINDS
