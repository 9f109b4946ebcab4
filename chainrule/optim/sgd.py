"""SGD: stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

The lecture's vanilla gradient descent,

    weights += -step_size * weights_grad

is ``SGD(params, lr=step_size)`` with every other option at its default. The options change the
direction the step takes (per parameter w with gradient g, learning rate lr):

    g = g + weight_decay * w                  (weight decay, coupled into the gradient)
    b = g on the first step, else b = momentum * b + (1 - dampening) * g
    g = g + momentum * b  with nesterov, else  g = b      (only when momentum > 0)
    w = w - lr * g

Weight decay and L2 regularization are the same thing here: the regularization term
lambda * R(W), with R(W) the sum of the squared weights, has the gradient 2 * lambda * W, so
minimizing ``loss + lambda * (W**2).sum()`` with plain SGD and minimizing ``loss`` with
``SGD(..., weight_decay=2 * lambda)`` give the same updates.
"""

from __future__ import annotations

from typing import Any

from .. import _arith
from ..autograd import Tensor
from ..backend import ndarray
from .optimizer import Optimizer, ParamsT, check_hyperparameter


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), PyTorch's update rule.

    Args:
        params: the tensors to optimize, or parameter-group dicts (see ``Optimizer``).
        lr: the learning rate (the lecture's step size), >= 0.
        momentum: the momentum factor, >= 0 (0: none).
        dampening: scales the new gradient in the momentum buffer by ``1 - dampening``.
        weight_decay: L2 penalty added to the gradient as ``weight_decay * w``, >= 0;
            ``weight_decay = 2 * lambda`` is the regularization ``lambda * (W**2).sum()``.
        nesterov: use Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
        maximize: ascend the objective instead of descending it.

    Raises:
        ValueError: a hyperparameter out of range, or nesterov without momentum or with
            dampening.

    Example:
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> loss = (w * w).sum()
        >>> loss.backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8, -1.6], dtype=float32, requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_hyperparameter("lr", group["lr"])
        check_hyperparameter("momentum", group["momentum"])
        check_hyperparameter("dampening", group["dampening"], low=float("-inf"))
        check_hyperparameter("weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum > 0 and zero dampening; got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        momentum, dampening, nesterov = group["momentum"], group["dampening"], group["nesterov"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        dtype = where = None
        state = self.state
        for p in params:
            w, g = p._data, p._grad._data
            # the scalars in w's dtype (see as_scalars), made once per step unless the group
            # mixes dtypes or devices
            if w.dtype is not dtype or (type(w) is not ndarray and w.device != where):
                dtype, arith = w.dtype, _arith.of(w)
                where = None if type(w) is ndarray else w.device
                lr, decay, mu, undamped = arith.scalars(
                    w, group["lr"], weight_decay, momentum, 1 - dampening
                )
            if maximize:
                g = -g
            if weight_decay != 0:
                g = g + decay * w  # a new array: the .grad itself is never changed
            if momentum != 0:
                p_state = state[p]
                buf = p_state.get("momentum_buffer")
                if buf is None:  # the first step starts the buffer at g, undampened
                    buf = p_state["momentum_buffer"] = arith.copy(g, w)
                else:
                    buf *= mu
                    buf += g if dampening == 0 else undamped * g
                g = g + mu * buf if nesterov else buf
            arith.sub_scaled(w, lr, g)
