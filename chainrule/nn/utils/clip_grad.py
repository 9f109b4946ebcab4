"""Gradient clipping, in place, as PyTorch's ``torch.nn.utils``; on any device."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ...autograd.tensor import Tensor
from ...backend import device_of, namespace


def _with_grads(parameters: Iterable[Tensor] | Tensor) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def _norm(g: object, norm_type: float) -> float:
    """The norm of one gradient array (``norm_type``-th power summed, for a finite norm)."""
    xp = namespace(g)
    if norm_type == math.inf:
        return float(xp.max(xp.abs(g))) if g.size else 0.0
    return float(xp.sum(xp.abs(g) ** norm_type))


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so that their total norm is at most ``max_norm``.

    Returns:
        The total norm before clipping (a 0-d tensor, on the first gradient's device), as in
        PyTorch.
    """
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative; got {max_norm}")
    params = _with_grads(parameters)
    if not params:
        return Tensor(0.0)
    grads = [p.grad._data for p in params]
    norms = [_norm(g, norm_type) for g in grads]
    if norm_type == math.inf:  # Python's max would skip a NaN: NumPy's and PyTorch's keep it
        total = math.nan if any(math.isnan(n) for n in norms) else max(norms)
    else:
        total = float(sum(norms)) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of the gradients is {total}; set "
            "error_if_nonfinite=False to clip anyway"
        )
    scale = max_norm / (total + 1e-6)
    if not scale >= 1:  # a NaN total makes every gradient NaN, as in PyTorch
        for p in params:
            p.grad._data *= scale
            p.grad._version += 1
    return Tensor(total, dtype=params[0].grad.dtype, device=device_of(grads[0]))


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient value to [-clip_value, clip_value]."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative; got {clip_value}")
    for p in _with_grads(parameters):
        g = p.grad._data
        g[...] = namespace(g).clip(g, -clip_value, clip_value)
        p.grad._version += 1
