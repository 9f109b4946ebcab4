"""Fused loss functions: one op for a loss whose parts, composed, would be slow or unstable.

* ``CrossEntropy``: softmax and negative log-likelihood of class indices in one op. Forward takes
  log-softmax shifted by the row maximum (finite for scores of +-1e4); backward is the classic
  softmax(s) - onehot(y), scaled by the upstream gradient, the class weights and the reduction.
* ``NLLLoss``: -x[y] (x are log-probabilities); backward puts -w[y] at the target index.
* ``BinaryCrossEntropy``: -(t log x + (1 - t) log(1 - x)), each log clamped at -100 and the
  gradient (x - t) / max(x (1 - x), 1e-12), exactly as PyTorch computes both.
* ``BinaryCrossEntropyWithLogits``: the same on logits, through softplus: stable for +-1e4.

The functions users call, with the argument checks, are in ``chainrule.nn.losses``; these ops
expect validated arguments: integer targets in range (or ``ignore_index``), a weight array of
shape (C,) in the input's dtype or None, and a reduction of "mean", "sum" or "none".
``ignore_index`` may be None when no target equals it: the common case, in which every position
counts with weight 1 and the ops build no masks (``_targets``).

Class axis: 0 for a single sample x of shape (C,), else 1 (x of shape (N, C, d1, ...)); the target
holds one class index per position, of x's shape without the class axis.

Forward computes through the namespace of its input's array (``backend.namespace``); backward,
as every built-in op's, through ``ctx.xp``, so that with ``create_graph=True`` it runs on Tensors
and is itself differentiable. What it keeps besides the inputs is constant: the per-position
target weights, the target indices, and the row maximum, by which softmax is shifted
(softmax(x - c) = softmax(x) for any constant c, so treating it as constant is exact). Constants
a backward builds (a one-hot target) are built on arrays, with the namespace of the input's
array: the Array API standard has no assignment through index arrays, so they are scattered with
the backend's ``scatter_add``.
"""

from __future__ import annotations

import struct
from typing import Any

from ..autograd.function import Function, call
from ..autograd.tensor import Tensor
from ..backend import namespace, ndarray
from .activations import Sigmoid

#: PyTorch's floor for the BCE gradient's denominator x (1 - x): 1e-12 rounded to float32, as
#: PyTorch stores it (so that float64 gradients at x = 0 or 1 agree to the last digit).
BCE_EPSILON = struct.unpack("f", struct.pack("f", 1e-12))[0]


def class_axis(x: Any) -> int:
    """The class axis of scores or log-probabilities: 0 for (C,), 1 for (N, C, d1, ...)."""
    return 0 if x.ndim == 1 else 1


def check_targets(target: Any, n_classes: int, ignore_index: int | None, fn: str) -> bool:
    """Raise an IndexError naming ``fn`` when a class index of ``target`` is outside
    [0, n_classes) and is not ``ignore_index``; return whether every index is a class.

    Run on the arrays by the ops that take class indices, at every call (a replay of
    ``cr.compile`` too): an index out of range would otherwise wrap around (-1 is the last
    class) or fail in NumPy's words.
    """
    if not target.size or _all_classes(target, n_classes):
        return True
    xp = namespace(target)
    bad = (target < 0) | (target >= n_classes)
    if ignore_index is not None:
        bad &= target != ignore_index
    if xp.any(bad):
        found = target[bad]
        ignore = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
        raise IndexError(
            f"{fn}: target {int(found[0])} is out of range: expected class indices in "
            f"[0, {n_classes - 1}]{ignore} for {n_classes} classes; found {found.size} value(s) "
            f"outside, from {int(xp.min(found))} to {int(xp.max(found))}"
        )
    return False


def _all_classes(y: Any, n_classes: int) -> bool:
    """Whether every index in (non-empty) ``y`` is in [0, n_classes): the common case."""
    if type(y) is ndarray:
        # NumPy, in one comparison: read as unsigned, a negative index is a huge number
        unsigned = y.dtype.str.replace("i", "u")  # "<i8" -> "<u8": the same size and byte order
        return bool(y.view(unsigned).max() < n_classes)
    xp = namespace(y)
    return int(xp.min(y)) >= 0 and int(xp.max(y)) < n_classes


def _targets(
    xp: Any,
    x: Any,
    target: Any,
    weight: Any,
    ignore_index: int | None,
    ax: int,
    fn: str,
    kept: bool = False,
) -> tuple:
    """Index arrays for a class-index target, made with namespace ``xp`` on x's device, after
    ``check_targets``. ``kept``: the key is kept for backward, so it holds a copy of the
    target, never the target's own array (which the caller may change in place before
    backward: a new batch read into the same tensor).

    Returns:
        key: an index with ``x[key]`` = the target class's entry at every position (target's
            shape); positions with ignore_index use class 0 (they count 0).
        valid: float 1/0 mask of the positions that count (target != ignore_index), or None
            when every position counts (no target equals ignore_index: it is None, or every
            target is a class and it is none).
        wy: the weight of each position's target class, 0 where ignored; None when every
            position counts with weight 1 (no weights, nothing ignored): then the loss needs
            neither array, and the total weight is the number of positions.
    """
    y, valid = target, None
    n_classes = x.shape[ax]
    classes = check_targets(target, n_classes, ignore_index, fn)
    if ignore_index is not None and (not classes or 0 <= ignore_index < n_classes):
        keep = target != ignore_index
        if not xp.all(keep):
            y = xp.where(keep, target, 0)
            valid = xp.astype(keep, x.dtype)
    if weight is None:
        wy = valid
    else:
        wy = weight[y] if valid is None else weight[y] * valid
    if kept and y is target:
        y = xp.asarray(target, copy=True)
    if ax == 0:
        return (y,), valid, wy
    if y.ndim == 1:  # (N, C), the usual batch: row n, column y[n]
        return (xp.arange(y.shape[0], device=x.device), y), valid, wy
    shape = target.shape
    grids = []
    for k, n in enumerate(shape):  # an arange along each non-class axis, as NumPy's ogrid
        view = [1] * len(shape)
        view[k] = n
        grids.append(xp.reshape(xp.arange(n, device=x.device), tuple(view)))
    return (grids[0], y, *grids[1:]), valid, wy


def _keep_axis(x: Any, ax: int) -> tuple:
    """x's shape with the class axis as size 1: per-position values broadcast over classes."""
    shape = list(x.shape)
    shape[ax] = 1
    return tuple(shape)


def _class_vector(weight: Any, x: Any, ax: int) -> Any:
    """Weight (C,), an array, shaped to broadcast along the class axis of x: (C,) or (1, C, ...)."""
    shape = [1] * x.ndim
    shape[ax] = x.shape[ax]
    return namespace(weight).reshape(weight, tuple(shape))


def _one_hot(xp: Any, x: Any, y: Any, ax: int, kshape: tuple) -> Any:
    """1 where the class axis of x (an array) holds y's class, else 0, in x's dtype."""
    classes = [1] * x.ndim
    classes[ax] = x.shape[ax]
    grid = xp.reshape(xp.arange(x.shape[ax], device=x.device), tuple(classes))
    return xp.astype(grid == xp.reshape(y, kshape), x.dtype)


def _total_weight(xp: Any, x: Any, target: Any, wy: Any) -> Any:
    """The denominator of "mean": the summed target weight, or the position count if wy is None.

    The count is in x's dtype (with NumPy 1, float32 / a Python int would give float64).
    """
    if wy is None:
        return xp.asarray(target.size, dtype=x.dtype, device=x.device)
    return xp.sum(wy)


def _reduce(xp: Any, loss: Any, reduction: str, denom: Any) -> Any:
    """Sum or divide by ``denom`` (the total weight), or keep per position; NaN for 0 / 0."""
    if reduction == "none":
        return loss
    total = xp.sum(loss)
    if reduction == "sum":
        return total
    if not denom:  # no target counts (all ignored, or none at all): 0 / 0 = NaN, as in PyTorch
        with xp.errstate(invalid="ignore", divide="ignore"):
            return total / denom
    return total / denom  # (errstate only where needed: it costs a microsecond)


def _along_classes(v: Any, kshape: tuple) -> Any:
    """A per-position value (target's shape; an array or a Tensor) shaped to broadcast along the
    class axis.

    A scalar (the upstream gradient of "mean" or "sum", a weight of 1) stays as it is.
    """
    if not getattr(v, "ndim", 0):
        return v
    return v.reshape(kshape) if isinstance(v, Tensor) else namespace(v).reshape(v, kshape)


def _upstream(ctx: Any, grad: Any) -> Any:
    """The upstream gradient per position (target's shape), or a scalar."""
    if ctx.reduction == "mean":
        # everything ignored gives a NaN loss; its gradient is 0, as in PyTorch
        return grad * (1.0 / ctx.denom if ctx.denom != 0 else 0.0)
    return grad


class CrossEntropy(Function):
    """L = -(1 - eps) w[y] log softmax(x)[y] - (eps / C) sum_c w[c] log softmax(x)[c].

    The softmax classifier's loss with class-index targets y, class weights w (all 1 by default)
    and label smoothing eps (0 by default), per position; positions with y = ignore_index count 0.
    "mean" divides the sum by the total target weight sum w[y] over positions that count, as
    PyTorch does. dL/dx = a softmax(x) - T, with T = (1 - eps) w[y] onehot(y) + (eps / C) w the
    smoothed, weighted target and a = sum_c T[c]; without weights or smoothing that is
    softmax(x) - onehot(y).

    Args of forward: x (N, C, ...) or (C,); target int, x's shape without the class axis; weight
    (C,) or None; ignore_index; label_smoothing; reduction.
    """

    symbol = "cross_entropy"
    vjp = ("upstream * (softmax(x) - one_hot(target)), averaged",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, label_smoothing, reduction):
        xp = namespace(x)
        ax = class_axis(x)
        n_classes = x.shape[ax]
        kept = ctx.needs_input_grad[0]
        key, valid, wy = _targets(xp, x, target, weight, ignore_index, ax, "cross_entropy", kept)
        m = xp.max(x, axis=ax, keepdims=True)
        s = x - m  # <= 0: exp cannot overflow, the largest term is exactly 1
        e = xp.exp(s)
        se = xp.sum(e, axis=ax, keepdims=True)
        lse = xp.log(xp.reshape(se, target.shape))
        loss = lse - s[key]
        if wy is not None:
            loss *= wy
        eps = label_smoothing
        if eps:
            if weight is None:
                smooth = n_classes * lse - xp.sum(s, axis=ax)
            else:
                weighted = s * _class_vector(weight, x, ax)
                smooth = xp.sum(weight) * lse - xp.sum(weighted, axis=ax)
            if valid is not None:
                smooth *= valid
            loss = (1 - eps) * loss + (eps / n_classes) * smooth
        denom = _total_weight(xp, x, target, wy)
        if ctx.needs_input_grad[0]:
            e /= se  # e is now softmax(x): the first-order backward needs nothing else
            ctx.save_for_backward(x, e)
            ctx.shift = m
            ctx.key, ctx.valid, ctx.wy, ctx.denom, ctx.reduction = key, valid, wy, denom, reduction
        return _reduce(xp, loss, reduction, denom)

    @staticmethod
    def backward(ctx, grad):
        x, p = ctx.saved_tensors
        weight, _, eps = ctx.inputs[2:5]
        ax = class_axis(x)
        n_classes = x.shape[ax]
        kshape = _keep_axis(x, ax)
        g = _upstream(ctx, grad)
        key = ctx.key
        # None: every position counts with weight 1 (the masks were never built)
        valid = 1.0 if ctx.valid is None else ctx.valid
        wy = 1.0 if ctx.wy is None else ctx.wy
        # a = sum over classes of the smoothed target T: (1 - eps) w[y] + eps mean(w)
        a = (1 - eps) * wy
        if eps:
            wsum = n_classes if weight is None else namespace(weight).sum(weight)
            a = a + (eps / n_classes) * wsum * valid
        wc = 1.0 if weight is None else _class_vector(weight, x, ax)
        if isinstance(x, Tensor):
            # create_graph: softmax again, from the input itself, so that it is differentiated
            xp = ctx.xp
            e = xp.exp(x - ctx.shift)
            p = e / xp.sum(e, axis=ax, keepdims=True)
            # the smoothed, weighted target: a constant, built on arrays
            data = x._data
            target = _one_hot(namespace(data), data, key[ax], ax, kshape)
            target = target * _along_classes((1 - eps) * wy, kshape)
            if eps:
                target = target + (eps / n_classes) * wc * _along_classes(valid, kshape)
            g = _along_classes(g, kshape)
            return g * (p * _along_classes(a, kshape) - target), None, None, None, None, None
        # first order: scale softmax, then subtract the target where it is (no one-hot array);
        # one kernel on a GPU (see chainrule._fused)
        smooth = _along_classes(g * (eps / n_classes) * valid, kshape) if eps else None
        gx = namespace(p).cross_entropy_backward(
            p, key, ax, _along_classes(g * a, kshape), g * ((1 - eps) * wy), smooth, wc
        )
        return gx, None, None, None, None, None


class NLLLoss(Function):
    """L = -w[y] x[y] per position (x are log-probabilities); 0 where y = ignore_index.

    "mean" divides the sum by the total target weight, as ``CrossEntropy``. dL/dx is -w[y] at the
    target class and 0 elsewhere. Args of forward: x, target, weight, ignore_index, reduction.
    """

    symbol = "nll_loss"
    vjp = ("-upstream at the target class, 0 elsewhere, averaged",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        xp = namespace(x)
        ax = class_axis(x)
        kept = ctx.needs_input_grad[0]
        key, valid, wy = _targets(xp, x, target, weight, ignore_index, ax, "nll_loss", kept)
        if valid is None:  # every position counts
            loss = -x[key] if wy is None else -wy * x[key]
        else:
            with xp.errstate(invalid="ignore"):  # an ignored log-probability of -inf: -inf * 0
                loss = xp.astype(xp.where(valid > 0, -wy * x[key], 0), x.dtype, copy=False)
        denom = _total_weight(xp, x, target, wy)
        if ctx.needs_input_grad[0]:
            ctx.key, ctx.wy, ctx.denom, ctx.reduction = key, wy, denom, reduction
        return _reduce(xp, loss, reduction, denom)

    @staticmethod
    def backward(ctx, grad):
        data = ctx.inputs[0]._data
        xp = namespace(data)  # the local gradient is a constant: built on arrays
        kshape = _keep_axis(data, class_axis(data))
        local = xp.zeros(data.shape, dtype=data.dtype, device=data.device)
        # -w[y] added to 0 (0 + -0.0 is 0.0: no -0.0 where ignored)
        local = xp.scatter_add(local, ctx.key, -1.0 if ctx.wy is None else -ctx.wy)
        g = _along_classes(_upstream(ctx, grad), kshape)
        return g * local, None, None, None, None


def _mean_scale(ctx: Any, grad: Any, n: int) -> Any:
    """Upstream gradient of an elementwise loss: divided by the element count for "mean"."""
    return grad / n if ctx.reduction == "mean" else grad


def _numel(x: Any) -> int:
    return x.numel() if isinstance(x, Tensor) else x.size


def _elementwise_reduce(xp: Any, loss: Any, reduction: str) -> Any:
    if reduction == "none":
        return loss
    return xp.sum(loss) if reduction == "sum" else xp.mean(loss)


class BinaryCrossEntropy(Function):
    """L = -w (t log x + (1 - t) log(1 - x)) elementwise, x and t in [0, 1].

    Each log is clamped at -100, so x = 0 or 1 gives a finite loss (PyTorch's rule).
    dL/dx = w (x - t) / max(x (1 - x), 1e-12) (PyTorch's, finite at x = 0 and 1);
    dL/dt = w (log(1 - x) - log x). "mean" averages all elements.
    Args of forward: x, t (x's shape), w (a constant array that broadcasts to x) or None,
    reduction.
    """

    symbol = "bce"
    vjp = ("upstream * (p - y) / (p (1 - p)), averaged",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, t, w, reduction):
        xp = namespace(x)
        with xp.errstate(divide="ignore"):  # log 0 = -inf, then clamped
            log_x = xp.maximum(xp.log(x), -100.0)
            log_1mx = xp.maximum(xp.log1p(-x), -100.0)
        loss = -(t * log_x + (1 - t) * log_1mx)
        if w is not None:
            loss = loss * w
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            ctx.save_for_backward(x, t)
            ctx.reduction = reduction
        return _elementwise_reduce(xp, loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        w = ctx.inputs[2]
        need_x, need_t = ctx.needs_input_grad[:2]
        g = _mean_scale(ctx, grad, _numel(x))
        if w is not None:
            g = g * w
        gx = gt = None
        if need_x:
            gx = g * (x - t) / ctx.xp.maximum(x * (1 - x), BCE_EPSILON)
        if need_t:
            with ctx.xp.errstate(divide="ignore"):
                gt = g * (ctx.xp.log(1 - x) - ctx.xp.log(x))
        return gx, gt, None, None


def _softplus_neg(x: Any, xp: Any) -> Any:
    """log(1 + e^-x) = max(-x, 0) + log(1 + e^-|x|): no overflow for any x.

    ``xp``: x's namespace in forward, the backward's ``ctx.xp`` (arrays, or Tensors under
    create_graph) in backward.
    """
    return xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class BinaryCrossEntropyWithLogits(Function):
    """L = w (pw t softplus(-x) + (1 - t) softplus(x)) = w ((1 - t) x + l softplus(-x)),

    with l = 1 + (pw - 1) t: binary cross-entropy on sigmoid(x), computed from logits without
    overflow for x = +-1e4. pw (pos_weight) weighs the positive term.
    dL/dx = w ((1 - t) - l sigmoid(-x)); dL/dt = w ((pw - 1) softplus(-x) - x).
    Args of forward: x, t (x's shape), w and pw (constant arrays that broadcast to x) or None,
    reduction.
    """

    symbol = "bce"
    vjp = ("upstream * (sigmoid(x) - y), averaged",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, t, w, pw, reduction):
        xp = namespace(x)
        lw = 1 if pw is None else 1 + (pw - 1) * t
        loss = (1 - t) * x + lw * _softplus_neg(x, xp)
        if w is not None:
            loss = loss * w
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            ctx.save_for_backward(x, t)
            ctx.reduction = reduction
        return _elementwise_reduce(xp, loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        w, pw = ctx.inputs[2:4]
        need_x, need_t = ctx.needs_input_grad[:2]
        g = _mean_scale(ctx, grad, _numel(x))
        if w is not None:
            g = g * w
        gx = gt = None
        # under create_graph x and t are Tensors and pw an array: the Tensor goes first, as an
        # array module other than NumPy does not hand `array * Tensor` over to the Tensor
        if need_x:
            lw = 1 if pw is None else t * (pw - 1) + 1
            gx = g * ((1 - t) - lw * call(Sigmoid, -x))
        if need_t:
            gt = g * (-x if pw is None else _softplus_neg(x, ctx.xp) * (pw - 1) - x)
        return gx, gt, None, None, None
