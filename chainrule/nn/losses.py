"""Loss functions: how unhappy we are with the scores, as functions and as Modules.

Each loss is a function here (``cross_entropy(scores, y)``, PyTorch's ``F.cross_entropy``) and a
Module in ``loss_modules`` (``CrossEntropyLoss()(scores, y)``), with PyTorch's arguments and
values: the reductions "mean", "sum" and "none", class weights, ``ignore_index``, label
smoothing and probability targets behave as there. Options after the first three arguments are
keyword-only in the functions.

Cross-entropy splits into the entropy of the targets and the KL divergence from the targets to the
model (the lecture's H(P, Q) = H(P) + KL(P || Q)); with a one-hot P, H(P) = 0 and it is
-log Q(y). Checked numerically with ``entropy`` and ``kl_div``::

    >>> s, p = cr.randn(4, 3, dtype=cr.float64), cr.softmax(cr.randn(4, 3, dtype=cr.float64), -1)
    >>> h_pq = cross_entropy(s, p, reduction="none")
    >>> kl = kl_div(cr.log_softmax(s, -1), p, reduction="none").sum(-1)
    >>> bool(abs(h_pq - (entropy(p) + kl)).max() < 1e-12)
    True

Weights (``weight``, ``pos_weight``) are constants, as in PyTorch: one that requires grad is
refused rather than silently cut off. Float targets receive gradients, as in PyTorch. Targets and
weights given as Tensors must be on the input's device (an error names both devices otherwise);
given as lists or arrays, they are put there.
"""

from __future__ import annotations

import warnings
from typing import Any

from ..autograd.grad_mode import state
from ..autograd.tensor import Tensor, to_array
from ..backend import (
    canonical_dtype,
    device_of,
    is_array,
    is_floating,
    namespace,
    ndarray,
    to_device,
)
from ..creation import as_tensor
from ..ops import cast, exp, log, log_softmax, relu, where
from ..ops.elementwise import values
from ..ops.losses import (
    BinaryCrossEntropy,
    BinaryCrossEntropyWithLogits,
    CrossEntropy,
    check_targets,
    class_axis,
)
from ..ops.losses import NLLLoss as _NLLLossOp

__all__ = [
    "cross_entropy",
    "nll_loss",
    "multi_margin_loss",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "entropy",
]

_REDUCTIONS = ("mean", "sum", "none")


# ----- checks at the boundary -----
def _check_reduction(reduction: str, fn: str, allowed: tuple[str, ...] = _REDUCTIONS) -> str:
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{fn}: reduction must be one of {names}; got {reduction!r}")
    return reduction


def _input(input: Any, fn: str, name: str = "input") -> Tensor:
    """A floating Tensor (arrays and lists are converted), with at least one dimension."""
    x = input if isinstance(input, Tensor) else as_tensor(input)
    if x.dtype.kind != "f":
        raise TypeError(
            f"{fn}: expected {name} of a floating dtype (float32 or float64); got {x.dtype}. "
            f"Convert it with {name}.float()."
        )
    return x


def _float_target(target: Any, x: Tensor, fn: str) -> Tensor:
    """A floating target of the same shape as the input (a Tensor, which may require grad)."""
    t = target if isinstance(target, Tensor) else as_tensor(target, device=x.device)
    if t.dtype.kind != "f":
        raise TypeError(
            f"{fn}: expected a floating target (float32 or float64) of shape {tuple(x.shape)}; "
            f"got dtype {t.dtype}. Convert it with target.float()."
        )
    return t


def _same_shape(t: Tensor, x: Tensor, fn: str) -> None:
    if t.shape != x.shape:
        raise ValueError(
            f"{fn}: expected a target of the input's shape {tuple(x.shape)}; got "
            f"{tuple(t.shape)}. Reshape one of them (e.g. target.reshape(input.shape))."
        )


def _warn_broadcast(t: Tensor, x: Tensor, fn: str) -> None:
    if t.shape != x.shape:  # PyTorch broadcasts too, with this warning: usually a bug
        warnings.warn(
            f"{fn}: the target's shape {tuple(t.shape)} differs from the input's "
            f"{tuple(x.shape)}; they are broadcast, which is probably not what you want. Make "
            "them the same shape.",
            UserWarning,
            stacklevel=3,
        )


def _on_input_device(value: Any, x: Tensor, fn: str, name: str = "target") -> Any:
    """The array of ``value`` on x's device: a Tensor's own (refused on another device), or a
    list's or an array's, put there."""
    if isinstance(value, Tensor):
        data = value._data
        if type(data) is ndarray and type(x._data) is ndarray:
            return data  # both on the CPU: the common case, without the devices' comparison
        if device_of(data) != x.device:
            raise RuntimeError(
                f"{fn}: expected {name} on the input's device, {x.device}; got it on "
                f"{device_of(data)}. Move it with {name}.to({str(x.device)!r})"
            )
        return data
    data = value if is_array(value) else to_array(value, copy=False)
    if type(data) is ndarray and type(x._data) is ndarray:
        return data
    return to_device(data, x.device)


def _index_target(x: Tensor, target: Any, ignore_index: int | None, fn: str) -> tuple:
    """Class indices as an integer array of x's shape without its class axis.

    Returns the indices and the ignore_index to pass to the op (an int, or None). Their values
    are checked by the op itself, at every call (``ops.losses.check_targets``), so that a
    replay of ``cr.compile`` checks a new batch's too.
    """
    y = _on_input_device(target, x, fn)
    ax = class_axis(x)
    expected = tuple(x.shape[:ax] + x.shape[ax + 1 :])
    if canonical_dtype(y.dtype).kind not in "iu":
        also = (
            f" (or class probabilities: a float tensor of shape {tuple(x.shape)})"
            if fn == "cross_entropy"
            else ""
        )
        raise TypeError(
            f"{fn}: expected class indices as an integer tensor of shape {expected}{also}; got "
            f"a {y.dtype} tensor of shape {tuple(y.shape)}. Convert indices with target.long()."
        )
    if y.shape != expected:
        raise ValueError(
            f"{fn}: expected a target of shape {expected}, one class index per sample of the "
            f"input of shape {tuple(x.shape)} (classes along dimension {ax}); got a target of "
            f"shape {tuple(y.shape)}"
        )
    return y, None if ignore_index is None else int(ignore_index)


def _checked_classes(y: Any, n_classes: int, fn: str) -> Any:
    """Class indices ``y`` checked in range (``check_targets``), as a copy of their own."""
    check_targets(y, n_classes, None, fn)
    return namespace(y).asarray(y, copy=True)


def _class_weight(weight: Any, n_classes: int, x: Tensor, fn: str) -> Any:
    """Class weights as a constant array of shape (C,) in x's dtype, or None."""
    if weight is None:
        return None
    _refuse_grad(weight, fn, "weight")
    w = _on_input_device(weight, x, fn, "weight")
    if w.shape != (n_classes,):
        raise ValueError(
            f"{fn}: expected weight of shape ({n_classes},), one per class of the input of "
            f"shape {tuple(x.shape)}; got shape {tuple(w.shape)}"
        )
    return _own_copy(weight, w, x)


def _own_copy(weight: Any, w: Any, x: Tensor) -> Any:
    """``w``, the array of ``weight``, as a contiguous array of its own in x's dtype.

    Made by an op (clone or cast), so that ``cr.compile`` records it and a replay copies the
    weight's values again: a copy made outside ops would be replayed as the recording's
    values, also after an in-place change of the weight. An array (a NumPy array on the CPU)
    goes in as a tensor that shares its memory, so a replay sees its changes too."""
    if not isinstance(weight, Tensor):
        weight = Tensor._make(w)
    return (weight.clone() if weight.dtype == x.dtype else cast(weight, x.dtype))._data


def _broadcast_weight(weight: Any, x: Tensor, fn: str, name: str) -> Any:
    """An elementwise weight, a constant array in x's dtype that broadcasts to x's shape."""
    if weight is None:
        return None
    _refuse_grad(weight, fn, name)
    w = _on_input_device(weight, x, fn, name)
    xp = namespace(w)
    try:
        ok = tuple(xp.broadcast_shapes(w.shape, x.shape)) == tuple(x.shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{fn}: expected {name} of a shape that broadcasts to the input's "
            f"{tuple(x.shape)}; got {tuple(w.shape)}"
        )
    return _own_copy(weight, w, x)


def _refuse_grad(weight: Any, fn: str, name: str) -> None:
    if isinstance(weight, Tensor) and weight.requires_grad and state.grad_enabled:
        raise RuntimeError(
            f"{fn}: {name} requires grad, but it is a constant here (PyTorch does not "
            f"differentiate it either); pass {name}.detach()"
        )


def _in_unit_interval(a: Any, fn: str, name: str) -> None:
    if not a.size:
        return
    inside = (a >= 0) & (a <= 1)
    if not namespace(a).all(inside):
        bad = a[~inside]
        raise ValueError(
            f"{fn}: expected every element of {name} in [0, 1] (probabilities); found "
            f"{bad.size} outside, e.g. {float(bad[0])!r}. Apply sigmoid first, or use "
            "binary_cross_entropy_with_logits on the scores."
        )


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _xlogx(p: Tensor) -> Tensor:
    """p log p with 0 log 0 = 0 (its limit); the gradient at p = 0 is taken as 0."""
    positive = p._data > 0
    return p * log(where(positive, p, 1.0))


# ----- the functions -----
def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """The softmax classifier's loss: -log softmax(input)[target], as PyTorch's ``F.cross_entropy``.

    Stable for scores of 1e4 (log-softmax is shifted by the maximum); for class indices one fused
    op whose gradient is softmax(input) - onehot(target), scaled.

    Args:
        input: unnormalised scores (logits), (N, C), (C,) for one sample, or (N, C, d1, ...).
        target: class indices, an integer tensor of the input's shape without the class
            dimension ((N,), (), (N, d1, ...)), each in [0, C) or equal to ``ignore_index``; or
            class probabilities, a float tensor of the input's shape.
        weight: (C,) weight of each class, or None (all 1).
        ignore_index: a target value that counts nothing (index targets only).
        reduction: "mean" (divides by the summed weight of the counted targets; by the number of
            samples for probability targets), "sum", or "none" (one loss per sample).
        label_smoothing: eps in [0, 1]: the target becomes (1 - eps) onehot + eps / C.

    Returns:
        A scalar, or for "none" a tensor of the target's shape (index targets) or of the input's
        shape without the class dimension (probability targets).

    Example (the lecture's: scores cat 3.2, car 5.1, frog -1.7, true class cat):
        >>> round(cross_entropy(cr.tensor([[3.2, 5.1, -1.7]]), cr.tensor([0])).item(), 4)
        2.0404
    """
    fn = "cross_entropy"
    x = _input(input, fn)
    _check_reduction(reduction, fn)
    if x.ndim == 0:
        raise ValueError(f"{fn}: expected input of shape (N, C) or (C,); got a 0-d tensor")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: expected label_smoothing in [0, 1]; got {label_smoothing}")
    ax = class_axis(x)
    n_classes = x.shape[ax]
    w = _class_weight(weight, n_classes, x, fn)
    t = _on_input_device(target, x, fn)
    if is_floating(t.dtype) and t.shape == x.shape:  # class probabilities (soft labels)
        soft = target if isinstance(target, Tensor) else as_tensor(t)
        return _soft_cross_entropy(x, soft, w, label_smoothing, reduction)
    y, ignore = _index_target(x, t, ignore_index, fn)
    return CrossEntropy.apply(x, y, w, ignore, float(label_smoothing), reduction)


def _soft_cross_entropy(x: Tensor, t: Tensor, w: Any, eps: float, reduction: str) -> Tensor:
    """-sum_c w[c] t[c] log softmax(x)[c] per sample, composed (the target may require grad)."""
    ax = class_axis(x)
    n_classes = x.shape[ax]
    if eps:
        t = t * (1 - eps) + eps / n_classes
    prod = log_softmax(x, ax) * t
    if w is not None:
        shape = [1] * x.ndim
        shape[ax] = n_classes
        prod = prod * Tensor._make(w).reshape(tuple(shape))  # an op: a replay reshapes again
    return _reduce(-prod.sum(ax), reduction)  # "mean": over samples, never over weights


def nll_loss(
    input: Tensor,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood -input[target] of log-probabilities, as PyTorch's ``F.nll_loss``.

    ``nll_loss(log_softmax(s, 1), y)`` equals ``cross_entropy(s, y)``.

    Args:
        input: log-probabilities, (N, C), (C,) or (N, C, d1, ...).
        target: class indices of the input's shape without the class dimension.
        weight: (C,) class weights or None.
        ignore_index: a target value that counts nothing.
        reduction: "mean" (divides by the summed weight of the counted targets), "sum", "none".

    Returns:
        A scalar, or for "none" a tensor of the target's shape.

    Example:
        >>> round(nll_loss(cr.log(cr.tensor([[0.25, 0.75]])), cr.tensor([1])).item(), 4)
        0.2877
    """
    fn = "nll_loss"
    x = _input(input, fn)
    _check_reduction(reduction, fn)
    if x.ndim == 0:
        raise ValueError(f"{fn}: expected input of shape (N, C) or (C,); got a 0-d tensor")
    w = _class_weight(weight, x.shape[class_axis(x)], x, fn)
    y, ignore = _index_target(x, target, ignore_index, fn)
    return _NLLLossOp.apply(x, y, w, ignore, reduction)


def multi_margin_loss(
    input: Tensor,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    *,
    reduction: str = "mean",
) -> Tensor:
    """The multiclass SVM (hinge) loss, as PyTorch's ``F.multi_margin_loss``.

    Per sample: sum over classes i != y of w[y] max(0, margin - x[y] + x[i])^p / C. (PyTorch's
    documentation puts w[y] inside the power; its code, which this follows, multiplies after.)

    Args:
        input: scores, (N, C) or (C,).
        target: class indices, (N,) or ().
        p: 1 (hinge) or 2 (squared hinge).
        margin: the required gap between the true class's score and every other.
        weight: (C,) class weights or None.
        reduction: "mean" (over samples), "sum" or "none".

    Returns:
        A scalar, or for "none" a tensor of the target's shape.

    Example (the lecture's SVM loss for cat, divided by C = 3):
        >>> round(multi_margin_loss(cr.tensor([3.2, 5.1, -1.7]), cr.tensor(0)).item(), 4)
        0.9667
    """
    fn = "multi_margin_loss"
    x = _input(input, fn)
    _check_reduction(reduction, fn)
    if x.ndim not in (1, 2):
        raise ValueError(
            f"{fn}: expected input of shape (N, C) or (C,); got shape {tuple(x.shape)}"
        )
    if p not in (1, 2):
        raise ValueError(f"{fn}: expected p = 1 or 2 (as PyTorch); got {p!r}")
    n_classes = x.shape[-1]
    w = _class_weight(weight, n_classes, x, fn)
    y = _index_target(x, target, None, fn)[0]
    xp = namespace(y)
    # what depends on the labels is computed by ops on y, so that cr.compile replays it: their
    # check too
    yt = target if isinstance(target, Tensor) and target._data is y else Tensor._make(y)
    yt = values(_checked_classes, yt, n_classes, fn)
    if yt.ndim != 1:
        yt = yt.reshape(-1)
    x2 = x if x.ndim == 2 else x.reshape(1, n_classes)
    rows = xp.arange(x2.shape[0], dtype=y.dtype, device=y.device)
    h = relu(x2 - x2[rows, yt].reshape(-1, 1) + margin)  # max(0, margin - x[y] + x[i])
    if p == 2:
        h = h * h
    # the i = y term is excluded; w[y] / C scales the rest (a constant)
    eye = Tensor._make(xp.eye(n_classes, dtype=x._data.dtype, device=y.device))
    scale = (1.0 - eye[yt]) * (1.0 / n_classes)  # 1 where i != y, exactly
    if w is not None:
        scale = scale * Tensor._make(w)[yt].reshape(-1, 1)
    loss = (h * scale).sum(1)
    if x.ndim == 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def mse_loss(input: Tensor, target: Any, *, reduction: str = "mean") -> Tensor:
    """Mean squared error (input - target)^2, as PyTorch's ``F.mse_loss``.

    Args:
        input: any shape.
        target: the same shape (a different one is broadcast, with a warning, as in PyTorch).
        reduction: "mean" (over all elements), "sum" or "none" (elementwise).

    Returns:
        A scalar, or for "none" the elementwise losses.

    Example:
        >>> mse_loss(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0])).item()
        2.5
    """
    fn = "mse_loss"
    x = _input(input, fn)
    t = _float_target(target, x, fn)
    _check_reduction(reduction, fn)
    _warn_broadcast(t, x, fn)
    d = x - t
    return _reduce(d * d, reduction)


def l1_loss(input: Tensor, target: Any, *, reduction: str = "mean") -> Tensor:
    """Mean absolute error |input - target|, as PyTorch's ``F.l1_loss`` (gradient 0 at a tie).

    Args:
        input: any shape.
        target: the same shape (a different one is broadcast, with a warning, as in PyTorch).
        reduction: "mean" (over all elements), "sum" or "none" (elementwise).

    Returns:
        A scalar, or for "none" the elementwise losses.

    Example:
        >>> l1_loss(cr.tensor([1.0, -2.0]), cr.tensor([0.0, 0.0])).item()
        1.5
    """
    fn = "l1_loss"
    x = _input(input, fn)
    t = _float_target(target, x, fn)
    _check_reduction(reduction, fn)
    _warn_broadcast(t, x, fn)
    return _reduce(abs(x - t), reduction)


def smooth_l1_loss(
    input: Tensor, target: Any, *, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """0.5 d^2 / beta where d = |input - target| < beta, else d - 0.5 beta, as PyTorch's
    ``F.smooth_l1_loss`` (beta 0: the L1 loss). Quadratic near the target, linear far from it.

    Example:
        >>> smooth_l1_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0])).item()
        1.3125
    """
    return _piecewise("smooth_l1_loss", input, target, reduction, beta, scaled=False)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where d = |input - target| < delta, else delta (d - 0.5 delta), as PyTorch's
    ``F.huber_loss``: smooth_l1_loss times delta.

    Example:
        >>> huber_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]), delta=2.0).item()
        1.0625
    """
    return _piecewise("huber_loss", input, target, reduction, delta, scaled=True)


def _piecewise(fn: str, input: Any, target: Any, reduction: str, k: float, scaled: bool) -> Tensor:
    """The smooth L1 (``scaled`` False: divided by beta) and Huber (True: times delta) losses:
    quadratic for |d| < k, linear past it, with the same value and slope where they meet."""
    x = _input(input, fn)
    t = _float_target(target, x, fn)
    _check_reduction(reduction, fn)
    _warn_broadcast(t, x, fn)
    if k < 0 or (scaled and k == 0):
        raise ValueError(
            f"{fn}: expected a {'positive' if scaled else 'non-negative'} width; got {k}"
        )
    d = abs(x - t)
    if k == 0:
        return _reduce(d, reduction)
    quadratic = 0.5 * d * d if scaled else 0.5 * d * d / k
    linear = k * (d - 0.5 * k) if scaled else d - 0.5 * k
    return _reduce(where(d < k, quadratic, linear), reduction)


def binary_cross_entropy(
    input: Tensor, target: Any, weight: Any = None, *, reduction: str = "mean"
) -> Tensor:
    """-w (t log x + (1 - t) log(1 - x)) on probabilities, as PyTorch's ``F.binary_cross_entropy``.

    Each log is clamped at -100, so x = 0 or 1 gives at most 100 per element, and the gradient
    (x - t) / max(x (1 - x), 1e-12) stays finite: PyTorch's rules.

    Args:
        input: probabilities x in [0, 1], any shape.
        target: probabilities t in [0, 1], the input's shape.
        weight: elementwise weight that broadcasts to the input's shape, or None.
        reduction: "mean" (over all elements), "sum" or "none".

    Returns:
        A scalar, or for "none" the elementwise losses.

    Example:
        >>> round(binary_cross_entropy(cr.tensor([0.8]), cr.tensor([1.0])).item(), 4)
        0.2231
    """
    fn = "binary_cross_entropy"
    x = _input(input, fn)
    t = _float_target(target, x, fn)
    _check_reduction(reduction, fn)
    _same_shape(t, x, fn)
    _in_unit_interval(x._data, fn, "input")
    _in_unit_interval(t._data, fn, "target")
    w = _broadcast_weight(weight, x, fn, "weight")
    return BinaryCrossEntropy.apply(x, t, w, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,
    *,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Binary cross-entropy of sigmoid(input), computed from the logits: stable for +-1e4.

    Per element w (pw t softplus(-x) + (1 - t) softplus(x)), as PyTorch's
    ``F.binary_cross_entropy_with_logits``.

    Args:
        input: logits x, any shape.
        target: probabilities t, the input's shape.
        weight: elementwise weight that broadcasts to the input's shape, or None.
        reduction: "mean" (over all elements), "sum" or "none".
        pos_weight: weight pw of the positive term, broadcast along the last dimension ((C,) for
            C binary labels per sample), or None.

    Returns:
        A scalar, or for "none" the elementwise losses.

    Example:
        >>> binary_cross_entropy_with_logits(cr.tensor([1e4, -1e4]), cr.tensor([1.0, 0.0])).item()
        0.0
    """
    fn = "binary_cross_entropy_with_logits"
    x = _input(input, fn)
    t = _float_target(target, x, fn)
    _check_reduction(reduction, fn)
    _same_shape(t, x, fn)
    w = _broadcast_weight(weight, x, fn, "weight")
    pw = _broadcast_weight(pos_weight, x, fn, "pos_weight")
    return BinaryCrossEntropyWithLogits.apply(x, t, w, pw, reduction)


def kl_div(
    input: Tensor, target: Any, *, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """Kullback-Leibler divergence KL(target || model) = sum t (log t - input), as ``F.kl_div``.

    As in PyTorch, ``input`` holds log-probabilities of the model, and ``target`` probabilities
    (log-probabilities with ``log_target=True``); terms with t = 0 count 0.

    Args:
        input: log-probabilities, any shape ((N, C) for a batch of distributions).
        target: the same shape.
        reduction: "batchmean" (the sum divided by N = input.shape[0]: the mathematical KL per
            sample), "mean" (divided by the number of elements, PyTorch's default), "sum", or
            "none" (elementwise terms; sum them over the class dimension for KL per sample).
        log_target: whether ``target`` holds log-probabilities.

    Returns:
        A scalar, or for "none" the elementwise terms.

    Example:
        >>> q = cr.tensor([[0.5, 0.5]])
        >>> round(kl_div(cr.log(q), cr.tensor([[0.9, 0.1]]), reduction="batchmean").item(), 4)
        0.3681
    """
    fn = "kl_div"
    x = _input(input, fn)
    t = _float_target(target, x, fn)
    _check_reduction(reduction, fn, ("mean", "batchmean", "sum", "none"))
    _warn_broadcast(t, x, fn)
    if log_target:
        loss = exp(t) * (t - x)
    else:
        loss = _xlogx(t) - t * x
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    return _reduce(loss, reduction)


def entropy(p: Any, dim: int = -1) -> Tensor:
    """Shannon entropy H(p) = -sum p log p along ``dim``, in nats, with 0 log 0 = 0.

    Not in PyTorch's ``F``. With ``kl_div`` it splits cross-entropy: H(P, Q) = H(P) + KL(P || Q).

    Args:
        p: probabilities, summing to 1 along ``dim``; any shape.
        dim: the dimension of the distribution.

    Returns:
        The entropies: p's shape without ``dim``.

    Example:
        >>> round(entropy(cr.tensor([0.5, 0.5, 0.0])).item(), 4)  # log 2
        0.6931
    """
    x = _input(p, "entropy", "p")
    return -_xlogx(x).sum(dim)


# ----- the Modules -----
