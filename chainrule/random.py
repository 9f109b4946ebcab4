"""Random tensors from one seeded generator: ``cr.manual_seed(0)`` makes a run repeat exactly."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes
from .autograd.tensor import Tensor
from .ops._util import shape_arg

_generator = [np.random.default_rng()]


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the generator behind ``rand``, ``randn``, ``randint`` (and initializers, shuffles).

    Returns the new generator.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative integer; got {seed!r}")
    _generator[0] = np.random.default_rng(int(seed))
    return _generator[0]


def default_generator() -> np.random.Generator:
    """The generator chainrule draws from."""
    return _generator[0]


def get_rng_state() -> dict:
    """The generator's state (a plain dict), to restore later with ``set_rng_state``."""
    return _generator[0].bit_generator.state


def set_rng_state(rng_state: dict) -> None:
    """Restore a state returned by ``get_rng_state``."""
    _generator[0].bit_generator.state = rng_state


def _float(dtype: Any) -> np.dtype:
    d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if d.kind != "f":
        raise TypeError(f"expected a floating dtype; got {d}")
    return d


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform values in [0, 1)."""
    d = _float(dtype)
    values = _generator[0].random(shape_arg(size, "rand"), dtype=np.float64).astype(d)
    return Tensor(values, requires_grad=requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal values (mean 0, variance 1)."""
    d = _float(dtype)
    values = _generator[0].standard_normal(shape_arg(size, "randn")).astype(d)
    return Tensor(values, requires_grad=requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` starts from 0), as int64 by default."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    shape = shape_arg((size,), "randint") if not isinstance(size, int) else (size,)
    return Tensor(_generator[0].integers(low, high, shape).astype(d))


def randperm(n: int, dtype: Any = None) -> Tensor:
    """A random permutation of 0..n-1."""
    d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    return Tensor(_generator[0].permutation(n).astype(d))


def rand_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform values in [0, 1) of ``input``'s shape and dtype."""
    return rand(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randn_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal values of ``input``'s shape and dtype."""
    return randn(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randint_like(input: Tensor, low: int, high: int | None = None, dtype: Any = None) -> Tensor:
    """Random integers of ``input``'s shape."""
    return randint(low, high, input.shape, dtype=dtype or input.dtype)
