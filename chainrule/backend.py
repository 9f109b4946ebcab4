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


def as_strided(x: ndarray, shape: tuple[int, ...], strides: tuple[int, ...]) -> ndarray:
    """A read-only view of ``x`` with the given shape and strides (in bytes); no copy.

    An extra beyond the Array API standard (which has no strided views), implemented once per
    array library: the sliding windows of a convolution or a pooling are such a view.
    """
    return numpy.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
