"""Random tensors from one seeded generator: ``cr.manual_seed(0)`` makes a run repeat exactly.

One generator, NumPy's PCG64 on the CPU, draws the values for every device: a tensor asked for
on another device (``cr.randn(3, device="cuda")``) is drawn on the CPU, then moved there. So
``manual_seed`` seeds every device at once, and a seed gives the same values on each of them (a
model initialised on the GPU starts exactly where one on the CPU does), at the price of one copy
to the device per draw. PyTorch instead keeps a generator per device, whose values differ
between the CPU and a GPU; chainrule prefers runs that repeat across devices.
"""

from __future__ import annotations

from typing import Any

import numpy as np  # NumPy's Generator is chainrule's one source of random numbers

from . import dtypes
from .autograd.tensor import Tensor
from .backend import NUMPY, from_numpy, resolve
from .ops._util import shape_arg

_generator = [np.random.default_rng()]


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the generator behind ``rand``, ``randn``, ``randint`` (and initializers, shuffles,
    dropout), for every device: all of them draw from it (see the module's docstring).

    Returns the new generator.

    Example:
        >>> _ = cr.manual_seed(0); a = cr.randn(2)
        >>> _ = cr.manual_seed(0); b = cr.randn(2, device="strict:1")
        >>> a.tolist() == b.tolist()
        True
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


def _made(values: np.ndarray, dtype: Any, device: Any, requires_grad: bool = False) -> Tensor:
    """A new leaf holding the CPU draw ``values`` as ``dtype``, moved to ``device``."""
    where = resolve(device)
    t = Tensor._make(from_numpy(NUMPY.astype(values, dtype, copy=False), where))
    return t.requires_grad_(True) if requires_grad else t


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform values in [0, 1), on ``device`` (default: the CPU)."""
    d = _float(dtype)
    values = _generator[0].random(shape_arg(size, "rand"), dtype=np.float64)
    return _made(values, d, device, requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Standard normal values (mean 0, variance 1), on ``device`` (default: the CPU)."""
    d = _float(dtype)
    values = _generator[0].standard_normal(shape_arg(size, "randn"))
    return _made(values, d, device, requires_grad)


def normal(
    mean: float = 0.0,
    std: float = 1.0,
    size: Any = (),
    *,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """Values from N(mean, std^2) of shape ``size``, as ``torch.normal(mean, std, size)``.

    Example:
        >>> cr.normal(2.0, 0.5, (2, 3)).shape
        (2, 3)
    """
    if not std >= 0:
        raise ValueError(f"normal: std must be non-negative; got {std!r}")
    d = _float(dtype)
    shape = shape_arg((size,), "normal") if not isinstance(size, int) else (size,)
    values = _generator[0].normal(mean, std, shape)
    return _made(values, d, device, requires_grad)


def uniform(
    low: float = 0.0, high: float = 1.0, size: Any = (), *, dtype: Any = None, device: Any = None
) -> Tensor:
    """Values drawn uniformly from [low, high) of shape ``size`` (what ``nn.init`` fills with)."""
    d = _float(dtype)
    shape = shape_arg((size,), "uniform") if not isinstance(size, int) else (size,)
    return _made(_generator[0].uniform(low, high, shape), d, device)


def randint(
    low: int, high: int | None = None, size: Any = (), dtype: Any = None, device: Any = None
) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` starts from 0), as int64 by default."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    shape = shape_arg((size,), "randint") if not isinstance(size, int) else (size,)
    return _made(_generator[0].integers(low, high, shape), d, device)


def randperm(n: int, dtype: Any = None, device: Any = None) -> Tensor:
    """A random permutation of 0..n-1."""
    d = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    return _made(_generator[0].permutation(n), d, device)


def rand_like(
    input: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """Uniform values in [0, 1) of ``input``'s shape and dtype, on its device."""
    where = device if device is not None else input.device
    d = dtype or input.dtype
    return rand(input.shape, dtype=d, requires_grad=requires_grad, device=where)


def randn_like(
    input: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """Standard normal values of ``input``'s shape and dtype, on its device."""
    where = device if device is not None else input.device
    d = dtype or input.dtype
    return randn(input.shape, dtype=d, requires_grad=requires_grad, device=where)


def randint_like(
    input: Tensor, low: int, high: int | None = None, dtype: Any = None, device: Any = None
) -> Tensor:
    """Random integers of ``input``'s shape, on its device."""
    where = device if device is not None else input.device
    return randint(low, high, input.shape, dtype=dtype or input.dtype, device=where)
