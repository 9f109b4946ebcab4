"""Adagrad: per-weight learning rates that shrink with the sum of that weight's squared gradients.

Per parameter w with gradient g, at step t = 1, 2, ... (PyTorch's rule; Duchi, Hazan and Singer,
2011):

    g = g + weight_decay * w                      (coupled weight decay)
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g**2                                  (s starts at initial_accumulator_value)
    w = w - clr * g / (sqrt(s) + eps)

Weights that have seen large gradients take small steps, rarely-updated weights large ones.
"""

from __future__ import annotations

from typing import Any

from .. import _arith
from .optimizer import Optimizer, ParamsT, check_hyperparameter


class Adagrad(Optimizer):
    """Adagrad, with optional learning-rate decay and coupled weight decay.

    Args:
        params: the tensors to optimize, or parameter-group dicts (see ``Optimizer``).
        lr: the learning rate, >= 0.
        lr_decay: the step-size decay: step t uses ``lr / (1 + (t - 1) * lr_decay)``, >= 0.
        weight_decay: L2 penalty added to the gradient as ``weight_decay * w``, >= 0.
        initial_accumulator_value: the starting value of the sum of squared gradients, >= 0.
        eps: added to the denominator for numerical stability, >= 0.
        maximize: ascend the objective instead of descending it.

    Raises:
        ValueError: a hyperparameter out of range.

    Example:
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = cr.optim.Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()      # the first step is lr * g / |g| = lr * sign(g)
        >>> w
        tensor([ 0.9, -1.9], dtype=float32, requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_hyperparameter("lr", group["lr"])
        check_hyperparameter("lr_decay", group["lr_decay"])
        check_hyperparameter("weight_decay", group["weight_decay"])
        check_hyperparameter("initial_accumulator_value", group["initial_accumulator_value"])
        check_hyperparameter("eps", group["eps"])

    def _update(self, p: Any, grad: Any, state: dict[str, Any], group: dict) -> None:
        arith = _arith.of(p)
        if not state:
            state["step"] = 0
            state["sum"] = arith.xp.full_like(p, group["initial_accumulator_value"])
        state["step"] += 1
        t = state["step"]

        g = -grad if group["maximize"] else grad
        weight_decay = group["weight_decay"]
        if weight_decay != 0:
            g = g + weight_decay * p

        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        std = arith.array(arith.sqrt(s))
        std += group["eps"]
        step = arith.divide(g, std, out=std)
        step *= clr
        p -= step
