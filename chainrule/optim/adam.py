"""Adam and AdamW: steps scaled per weight by running averages of the gradient and its square.

Per parameter w with gradient g, at step t = 1, 2, ... (PyTorch's rule):

    g = g + weight_decay * w                 (Adam: weight decay coupled into the gradient)
    w = w * (1 - lr * weight_decay)          (AdamW instead: decoupled, applied to w directly)
    m = beta1 * m + (1 - beta1) * g          (first moment)
    v = beta2 * v + (1 - beta2) * g**2       (second moment)
    v_max = max(v_max, v)                    (amsgrad only; v_max then replaces v below)
    w = w - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

The two bias corrections undo the pull of m and v towards their zero start; eps is added after
the square root and its bias correction, as in PyTorch.

Coupled weight decay is L2 regularization (``weight_decay = 2 * lambda`` for the term
``lambda * (W**2).sum()``), but Adam then divides it by sqrt(v) like the rest of the gradient, so
weights with large gradients are barely decayed. AdamW decays every weight by the same fraction
``lr * weight_decay`` per step (Loshchilov and Hutter, "Decoupled Weight Decay Regularization").
"""

from __future__ import annotations

from typing import Any

from ..autograd import Tensor
from ..backend import xp
from .optimizer import Optimizer, ParamsT, as_scalars, check_hyperparameter


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with optional AMSGrad and coupled weight decay.

    Args:
        params: the tensors to optimize, or parameter-group dicts (see ``Optimizer``).
        lr: the learning rate, >= 0.
        betas: the decay rates (beta1, beta2) of the running averages of the gradient and of its
            square, each in [0, 1).
        eps: added to the denominator for numerical stability, >= 0.
        weight_decay: L2 penalty added to the gradient as ``weight_decay * w``, >= 0.
        amsgrad: divide by the largest second moment seen so far (Reddi et al., 2018).
        maximize: ascend the objective instead of descending it.
        decoupled_weight_decay: decay the weights directly, as AdamW does.

    Raises:
        ValueError: a hyperparameter out of range.

    Example:
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = cr.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()      # the first step moves each weight by about lr, against its gradient
        >>> w
        tensor([ 0.9, -1.9], dtype=float32, requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_hyperparameter("lr", group["lr"])
        check_hyperparameter("eps", group["eps"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2); got {betas!r}")
        check_hyperparameter("beta1 (betas[0])", betas[0], high=1.0)
        check_hyperparameter("beta2 (betas[1])", betas[1], high=1.0)
        check_hyperparameter("weight_decay", group["weight_decay"])

    def _update_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        amsgrad, maximize = group["amsgrad"], group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        state = self.state
        made_for = None  # the (step, dtype) of the scalars below
        for p in params:
            w, grad, p_state = p._data, p._grad._data, state[p]
            if not p_state:
                p_state["step"] = 0
                p_state["exp_avg"] = xp.zeros_like(w)
                p_state["exp_avg_sq"] = xp.zeros_like(w)
                if amsgrad:
                    p_state["max_exp_avg_sq"] = xp.zeros_like(w)
            p_state["step"] = t = p_state["step"] + 1
            # the scalars as 0-d arrays of w's dtype (see as_scalars), made once per step unless
            # the group's parameters differ in step count or dtype
            if (t, w.dtype) != made_for:
                made_for = (t, w.dtype)
                dtype = w.dtype
                b1, b2, one_minus_b1, one_minus_b2 = as_scalars(
                    dtype, beta1, beta2, 1 - beta1, 1 - beta2
                )
                eps, decay, shrink = as_scalars(
                    dtype, group["eps"], weight_decay, 1 - lr * weight_decay
                )
                bias_correction2_sqrt, step_size = as_scalars(
                    dtype, (1 - beta2**t) ** 0.5, lr / (1 - beta1**t)
                )

            g = -grad if maximize else grad
            if weight_decay != 0:
                if decoupled:
                    w *= shrink
                else:
                    g = g + decay * w

            m, v = p_state["exp_avg"], p_state["exp_avg_sq"]
            m *= b1
            m += one_minus_b1 * g
            v *= b2
            g2 = g * g
            g2 *= one_minus_b2
            v += g2
            if amsgrad:
                v_max = p_state.get("max_exp_avg_sq")
                if v_max is None:  # amsgrad was switched on after the first step
                    v_max = p_state["max_exp_avg_sq"] = xp.zeros_like(w)
                xp.maximum(v_max, v, out=v_max)
                v = v_max

            denom = xp.sqrt(v)
            denom /= bias_correction2_sqrt
            denom += eps
            step = xp.divide(m, denom, out=denom)  # reuse the buffer: denom is not needed again
            step *= step_size
            w -= step


class AdamW(Adam):
    """Adam with decoupled weight decay: each step also shrinks w by ``lr * weight_decay * w``.

    The same arguments as ``Adam`` (without ``decoupled_weight_decay``), with PyTorch's default
    ``weight_decay=1e-2``.

    Example:
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = cr.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.grad = cr.zeros(2)     # no gradient: only the decay acts
        >>> opt.step()
        >>> w
        tensor([ 0.95, -1.9 ], dtype=float32, requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As ``Optimizer.load_state_dict``; the groups stay decoupled whatever was saved."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # AdamW always decouples, even from an Adam state dict
            group["decoupled_weight_decay"] = True
