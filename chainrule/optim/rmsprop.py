"""RMSprop: divide each step by a running root mean square of the gradient.

Per parameter w with gradient g (PyTorch's rule; Hinton's lecture 6e of "Neural Networks for
Machine Learning"):

    g = g + weight_decay * w                    (coupled weight decay)
    s = alpha * s + (1 - alpha) * g**2          (running mean of the squared gradient)
    centered:  a = alpha * a + (1 - alpha) * g  and the scale is  sqrt(s - a**2) + eps
    otherwise: the scale is  sqrt(s) + eps
    momentum > 0:  b = momentum * b + g / scale  and  w = w - lr * b
    otherwise:     w = w - lr * g / scale

The centered form divides by an estimate of the gradient's standard deviation rather than its
root mean square.
"""

from __future__ import annotations

from typing import Any

from .. import _arith
from .optimizer import Optimizer, ParamsT, check_hyperparameter


class RMSprop(Optimizer):
    """RMSprop, with optional centering, momentum and coupled weight decay.

    Args:
        params: the tensors to optimize, or parameter-group dicts (see ``Optimizer``).
        lr: the learning rate, >= 0.
        alpha: the decay rate of the running mean of the squared gradient, in [0, 1].
        eps: added to the denominator for numerical stability, >= 0.
        weight_decay: L2 penalty added to the gradient as ``weight_decay * w``, >= 0.
        momentum: the momentum factor, >= 0 (0: none).
        centered: divide by the running standard deviation instead of the root mean square.
        maximize: ascend the objective instead of descending it.

    Raises:
        ValueError: a hyperparameter out of range.

    Example:
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = cr.optim.RMSprop([w], lr=0.01, alpha=0.99)
        >>> (w * w).sum().backward()
        >>> opt.step()      # the first step is lr * g / sqrt(0.01 g**2) = 10 lr * sign(g)
        >>> w
        tensor([ 0.9, -1.9], dtype=float32, requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_hyperparameter("lr", group["lr"])
        check_hyperparameter("alpha", group["alpha"], high=1.0, high_inclusive=True)
        check_hyperparameter("eps", group["eps"])
        check_hyperparameter("weight_decay", group["weight_decay"])
        check_hyperparameter("momentum", group["momentum"])

    def _update(self, p: Any, grad: Any, state: dict[str, Any], group: dict) -> None:
        arith = _arith.of(p)
        zeros_like = arith.xp.zeros_like  # on p's device
        if not state:
            state["step"] = 0
            state["square_avg"] = zeros_like(p)
        state["step"] += 1
        alpha, momentum = group["alpha"], group["momentum"]

        g = -grad if group["maximize"] else grad
        weight_decay = group["weight_decay"]
        if weight_decay != 0:
            g = g + weight_decay * p

        s = state["square_avg"]
        s *= alpha
        s += (1 - alpha) * (g * g)
        if group["centered"]:
            a = state.get("grad_avg")
            if a is None:
                a = state["grad_avg"] = zeros_like(p)
            a *= alpha
            a += (1 - alpha) * g
            scale = arith.array(s - a * a)
            # s - a**2 >= 0 in exact arithmetic; rounding can take it just below 0 when the
            # gradient hardly varies, and sqrt would then give NaN
            arith.maximum(scale, 0.0, out=scale)
            arith.sqrt(scale, out=scale)
        else:
            scale = arith.array(arith.sqrt(s))
        scale += group["eps"]

        if momentum > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = zeros_like(p)
            buf *= momentum
            buf += arith.divide(g, scale, out=scale)
            p -= group["lr"] * buf
        else:
            step = arith.divide(g, scale, out=scale)
            step *= group["lr"]
            p -= step
