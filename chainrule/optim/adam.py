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

Each parameter's update is the backend's ``adam_update`` (``chainrule._fused``): on CuPy one
CUDA kernel that reads and writes each number once, elsewhere the dozen in-place operations the
rule spells out. A small model's parameters (``FLAT_LIMIT`` numbers in all, at most) are updated
as one flat array on NumPy: each parameter's ``exp_avg`` and ``exp_avg_sq`` are then views of
two flat arrays, and a step is a dozen calls for the whole group rather than a dozen per
parameter. The numbers are the same. (Array modules whose views the standard leaves
unspecified update parameter by parameter, see ``_arith``; CuPy does too, as one kernel per
parameter is fewer launches than the flat update's dozen plus one per parameter.)

Coupled weight decay is L2 regularization (``weight_decay = 2 * lambda`` for the term
``lambda * (W**2).sum()``), but Adam then divides it by sqrt(v) like the rest of the gradient, so
weights with large gradients are barely decayed. AdamW decays every weight by the same fraction
``lr * weight_decay`` per step (Loshchilov and Hutter, "Decoupled Weight Decay Regularization").
"""

from __future__ import annotations

from typing import Any

from .. import _arith, _fused
from .._arith import Arith
from .._fused import AdamScalars
from ..autograd import Tensor
from ..backend import ndarray
from .optimizer import Optimizer, ParamsT, check_hyperparameter


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
        self._flats: dict[int, _FlatMoments] = {}  # id(group) -> its flat moments (see _flat)

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
        flat = self._flat(group, params)
        if flat is not None:
            self._update_flat(group, params, flat)
            return
        amsgrad, maximize = group["amsgrad"], group["maximize"]
        decay_mode = _fused.NO_DECAY
        if group["weight_decay"] != 0:
            decay_mode = _fused.DECOUPLED if group["decoupled_weight_decay"] else _fused.COUPLED
        state = self.state
        made_for = None  # the (step, dtype, device) of the scalars below
        for p in params:
            w, grad, p_state = p._data, p._grad._data, state[p]
            arith = _arith.of(w)
            if not p_state:
                zeros_like = arith.xp.zeros_like  # on w's device
                p_state["step"] = 0
                p_state["exp_avg"] = zeros_like(w)
                p_state["exp_avg_sq"] = zeros_like(w)
                if amsgrad:
                    p_state["max_exp_avg_sq"] = zeros_like(w)
            p_state["step"] = t = p_state["step"] + 1
            key = (t, w.dtype, None if type(w) is ndarray else w.device)
            if key != made_for:  # once per step, unless step counts, dtypes or devices differ
                made_for = key
                sc = _scalars(group, arith, w, t)

            v_max = None
            if amsgrad:
                v_max = p_state.get("max_exp_avg_sq")
                if v_max is None:  # amsgrad was switched on after the first step
                    v_max = p_state["max_exp_avg_sq"] = arith.xp.zeros_like(w)
            # one kernel on a GPU, the chain of in-place operations elsewhere (see _fused)
            arith.xp.adam_update(
                w, grad, p_state["exp_avg"], p_state["exp_avg_sq"], v_max, sc, maximize, decay_mode
            )

    # ----- small models: a group's moments as two flat arrays -----
    def _flat(self, group: dict[str, Any], params: list[Tensor]) -> _FlatMoments | None:
        """The group's moments as flat arrays, when the group can take one flat update.

        That needs an array module with views and no fused kernel (NumPy), parameters of one
        dtype on one device, all at the same step, at most ``FLAT_LIMIT`` numbers in all, and an
        update that never needs the weights as one array (no amsgrad, no coupled weight decay).
        The flat arrays are made on the first such step (or when something, such as
        ``load_state_dict``, replaced a parameter's moments): each parameter's ``exp_avg`` and
        ``exp_avg_sq`` in ``state`` become views of them, so the state reads as before.
        """
        if group["amsgrad"] or (group["weight_decay"] != 0 and not group["decoupled_weight_decay"]):
            return None
        if not params:
            return None
        state = self.state
        step = state[params[0]].get("step", 0)
        flat = self._flats.get(id(group))
        if flat is not None and flat.group is group and len(flat.views) == len(params):
            for p, (mv, vv) in zip(params, flat.views):  # still this group's, all at one step?
                p_state = state[p]
                if p_state.get("exp_avg") is not mv or p_state.get("exp_avg_sq") is not vv:
                    break
                if p_state["step"] != step:
                    return None
            else:
                return flat
        first = params[0]._data
        arith = _arith.of(first)
        if not arith.views or sum(p._data.size for p in params) > FLAT_LIMIT:
            return None
        if arith.xp.adam_update is not _fused.adam_update:  # a fused kernel: one call a parameter
            return None
        dtype, where = first.dtype, getattr(first, "device", None)
        for p in params:
            w = p._data
            if w.dtype != dtype or type(w) is not type(first) or state[p].get("step", 0) != step:
                return None
            if getattr(w, "device", None) != where:
                return None
        flat = self._flats[id(group)] = _FlatMoments(group, params, state)
        return flat

    def _update_flat(self, group: dict[str, Any], params: list[Tensor], flat: _FlatMoments) -> None:
        """The same update as ``_update_group``'s loop, on all of the group's numbers at once."""
        state = self.state
        t = state[params[0]]["step"] + 1
        for p in params:
            state[p]["step"] = t
        arith = flat.arith
        sc = _scalars(group, arith, flat.m, t)
        ravel = arith.ravel
        g = arith.xp.concat([ravel(p._grad._data) for p in params])  # a copy: ours to change
        if group["maximize"]:
            arith.negative(g, out=g)
        if group["weight_decay"] != 0:  # decoupled (_flat rules out the coupled kind)
            for p in params:
                p._data *= sc.shrink
        _fused.adam_moments(g, flat.m, flat.v, sc)
        _fused.adam_step(arith, flat.m, flat.v, sc, out=flat.step)
        for p, step in zip(params, flat.steps):
            p._data -= step


#: A group whose parameters hold at most this many numbers in all is updated as one flat array:
#: for small arrays NumPy's cost per call, not per number, sets the time of a step.
FLAT_LIMIT = 1 << 16


def _scalars(group: dict[str, Any], arith: Arith, like: Any, t: int) -> AdamScalars:
    """A step's constants in the parameters' dtype (see ``as_scalars``)."""
    lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
    return AdamScalars(
        *arith.scalars(
            like,
            beta1,
            beta2,
            1 - beta1,
            1 - beta2,
            group["eps"],
            wd,
            1 - lr * wd,
            (1 - beta2**t) ** 0.5,
            lr / (1 - beta1**t),
        )
    )


class _FlatMoments:
    """A group's exp_avg and exp_avg_sq as two flat arrays; each parameter's state holds views.

    Made from the parameters' current moments (zeros for a parameter's first step). ``step`` is
    the buffer the update is computed in, ``steps`` its view for each parameter.
    """

    def __init__(self, group: dict[str, Any], params: list[Tensor], state: dict) -> None:
        self.group = group
        self.arith = arith = _arith.of(params[0]._data)
        xp = arith.xp
        # three flat arrays of the parameters' dtype, on their device
        self.m, self.v, self.step = (
            xp.concat([xp.reshape(p._data, (-1,)) for p in params]) for _ in range(3)
        )
        self.views, self.steps = [], []
        start = 0
        for p in params:
            shape, stop = p._data.shape, start + p._data.size
            p_state = state[p]
            mv = xp.reshape(self.m[start:stop], shape)  # views: _flat asks for a module with them
            vv = xp.reshape(self.v[start:stop], shape)
            mv[...] = p_state.get("exp_avg", 0)
            vv[...] = p_state.get("exp_avg_sq", 0)
            p_state.setdefault("step", 0)
            p_state["exp_avg"], p_state["exp_avg_sq"] = mv, vv
            self.views.append((mv, vv))
            self.steps.append(xp.reshape(self.step[start:stop], shape))
            start = stop


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
