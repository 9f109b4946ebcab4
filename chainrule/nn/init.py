"""Weight initialisation, in place, with PyTorch's names and formulas.

Each function fills a tensor from chainrule's seeded generator (``cr.manual_seed``), on the
tensor's device, and returns it; a seed gives the same weights on every device. ``fan_in`` of a
(out_features, in_features) weight is in_features; the gain scales the variance for the
activation that follows (``calculate_gain``).
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..backend import is_floating, namespace
from ..dtypes import float64
from ..random import normal, uniform

_GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4,
}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation: 1 for linear/sigmoid, 5/3 tanh, sqrt(2) relu,
    sqrt(2 / (1 + slope^2)) leaky_relu (slope 0.01 unless given)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in _GAINS:
        raise ValueError(
            f"calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one of "
            f"{sorted([*_GAINS, 'leaky_relu'])}"
        )
    return _GAINS[nonlinearity]


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out need a tensor with at least 2 dimensions; got shape "
            f"{tuple(tensor.shape)}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write ``values`` (a number, or a tensor of ``tensor``'s shape) into ``tensor``."""
    _check(tensor)
    with no_grad():
        data = tensor._data
        if isinstance(values, Tensor):  # a draw, on data's device: into data's dtype
            values = values._data
            if values.dtype != data.dtype:
                values = namespace(values).astype(values, data.dtype)
        data[...] = values
        tensor._version += 1
    return tensor


def _check(tensor: Any) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"expected a Tensor to fill; got {type(tensor).__name__}")


def _draw_args(tensor: Tensor) -> dict[str, Any]:
    """Draw in the tensor's dtype (float64 for integers, then cast) on its device."""
    _check(tensor)
    dtype = tensor.dtype if is_floating(tensor.dtype) else float64
    return {"dtype": dtype, "device": tensor.device}


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with values drawn uniformly from [a, b)."""
    return _fill(tensor, uniform(a, b, tensor.shape, **_draw_args(tensor)))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with values drawn from N(mean, std^2)."""
    return _fill(tensor, normal(mean, std, tensor.shape, **_draw_args(tensor)))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros (the lecture warns: all-zero weights keep every unit identical)."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return _fill(tensor, 1)


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out'; got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot: uniform in [-a, a], a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He: uniform in [-bound, bound], bound = gain * sqrt(3 / fan), gain for ``nonlinearity``
    (with negative slope ``a`` for leaky_relu)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He: N(0, std^2), std = gain / sqrt(fan)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)
