"""Fused updates: chains of elementwise arithmetic that a GPU runs as one kernel.

Two chains of a training step read and write each number a few times and compute little on it:
Adam's update (``m``, ``v``, the bias corrections, the square root, the division: a dozen passes
over the parameters) and the softmax cross-entropy backward (scale the softmax, subtract the
target). On a GPU each pass is a kernel launch and a trip through memory; fused, the chain is
one kernel that reads each number once. The backend offers both as extras of every namespace:

* ``adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars, maximize,
  decay_mode)``: one Adam/AdamW step, in place on ``param`` and the moments;
* ``cross_entropy_backward(p, key, axis, scale, target_scale, smooth, class_weight)``: the
  gradient of the softmax cross-entropy with respect to the scores.

NumPy and array-api-strict run this module's generic implementations, written against the
namespace with ``_arith``'s in-place arithmetic (the optimizers' and losses' code as it was, moved
here: the numbers are the same to the bit). CuPy runs each chain as one ``ElementwiseKernel``
(``_backends``), built on first use from a ``Kernel`` below: its parameters in CuPy's notation
and its body, a string that is valid both as CUDA, in the kernel CuPy generates around it, and as
C++, in the harness tests/test_fused_kernels.py compiles with g++ to check its arithmetic against
the generic implementation on the CPU (and with nvcc, to check that it compiles as CUDA).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import _arith, backend
from ._arith import Arith


class Kernel(NamedTuple):
    """An elementwise kernel as ``cupy.ElementwiseKernel`` takes it.

    ``in_params`` and ``out_params`` are CuPy's comma-separated ``type name`` lists (``T``, ``I``:
    the types of the arrays given; ``bool``, ``int32``: scalars); outputs given as arrays are
    read and written in place. ``body`` runs once per element, with each parameter named as a
    value (arrays: the element at hand).
    """

    name: str
    in_params: str
    out_params: str
    body: str


# ----- Adam -----
#: ``decay_mode`` of ``adam_update``: no weight decay, coupled (Adam: into the gradient),
#: decoupled (AdamW: shrink the weights).
NO_DECAY, COUPLED, DECOUPLED = 0, 1, 2


class AdamScalars(NamedTuple):
    """A step's constants, in the parameters' dtype (``Arith.scalars``)."""

    b1: Any
    b2: Any
    one_minus_b1: Any
    one_minus_b2: Any
    eps: Any
    decay: Any  # weight_decay
    shrink: Any  # 1 - lr * weight_decay
    bias_correction2_sqrt: Any  # sqrt(1 - beta2^t)
    step_size: Any  # lr / (1 - beta1^t)


_ADAM_IN = (
    "T grad, T b1, T b2, T one_minus_b1, T one_minus_b2, T eps, T decay, T shrink, "
    "T bias_correction2_sqrt, T step_size, bool maximize, int32 decay_mode"
)
# Each operation in the generic implementation's order, so that C++ without contraction into
# fused multiply-adds gives its numbers to the bit (a GPU's compiler contracts: an ulp or so).
_ADAM_HEAD = """
T g = maximize ? -grad : grad;
if (decay_mode == 1) {
    g = g + decay * param;
} else if (decay_mode == 2) {
    param = param * shrink;
}
exp_avg = exp_avg * b1 + one_minus_b1 * g;
exp_avg_sq = exp_avg_sq * b2 + g * g * one_minus_b2;
T v = exp_avg_sq;
"""
# NumPy's maximum: NaN if either is NaN
_AMSGRAD = """
if (!(max_exp_avg_sq >= v || max_exp_avg_sq != max_exp_avg_sq)) {
    max_exp_avg_sq = v;
}
v = max_exp_avg_sq;
"""
_ADAM_TAIL = """
T denom = sqrt(v) / bias_correction2_sqrt + eps;
param = param - exp_avg / denom * step_size;
"""

ADAM = Kernel(
    "chainrule_adam", _ADAM_IN, "T param, T exp_avg, T exp_avg_sq", _ADAM_HEAD + _ADAM_TAIL
)
AMSGRAD = Kernel(
    "chainrule_adam_amsgrad",
    _ADAM_IN,
    "T param, T exp_avg, T exp_avg_sq, T max_exp_avg_sq",
    _ADAM_HEAD + _AMSGRAD + _ADAM_TAIL,
)


def adam_update(
    param: Any,
    grad: Any,
    exp_avg: Any,
    exp_avg_sq: Any,
    max_exp_avg_sq: Any,
    scalars: AdamScalars,
    maximize: bool,
    decay_mode: int,
) -> None:
    """One Adam step on one parameter, in place on param, exp_avg, exp_avg_sq (and
    max_exp_avg_sq with amsgrad; None without). The generic implementation (NumPy's and
    array-api-strict's); ``chainrule.optim.Adam`` states the rule."""
    arith = _arith.of(param)
    g = -grad if maximize else grad
    if decay_mode == DECOUPLED:
        param *= scalars.shrink
    elif decay_mode == COUPLED:
        g = g + scalars.decay * param
    adam_moments(g, exp_avg, exp_avg_sq, scalars)
    v = exp_avg_sq
    if max_exp_avg_sq is not None:
        arith.maximum(max_exp_avg_sq, v, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    param -= adam_step(arith, exp_avg, v, scalars)


def adam_operands(*args: Any) -> tuple[Kernel, tuple]:
    """``adam_update``'s arguments (the same, in its order) as its kernel takes them: (the
    kernel, its arguments in the order of its parameters, inputs then outputs)."""
    param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars, maximize, decay_mode = args
    ins = (grad, *scalars, bool(maximize), decay_mode)
    if max_exp_avg_sq is None:
        return ADAM, (*ins, param, exp_avg, exp_avg_sq)
    return AMSGRAD, (*ins, param, exp_avg, exp_avg_sq, max_exp_avg_sq)


def adam_moments(g: Any, m: Any, v: Any, sc: AdamScalars) -> None:
    """m = beta1 m + (1 - beta1) g and v = beta2 v + (1 - beta2) g^2, in place."""
    m *= sc.b1
    m += sc.one_minus_b1 * g
    v *= sc.b2
    g2 = g * g
    g2 *= sc.one_minus_b2
    v += g2


def adam_step(arith: Arith, m: Any, v: Any, sc: AdamScalars, out: Any = None) -> Any:
    """lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps), to subtract from w."""
    denom = arith.array(arith.sqrt(v, out=out))
    denom /= sc.bias_correction2_sqrt
    denom += sc.eps
    step = arith.divide(m, denom, out=denom)  # reuse the buffer: denom is not needed again
    step *= sc.step_size
    return step


# ----- softmax cross-entropy, backward -----
CROSS_ENTROPY_BACKWARD = Kernel(
    "chainrule_cross_entropy_backward",
    "T p, T scale, T target_scale, T smooth, T class_weight, I target, I cls, bool smoothing",
    "T grad_input",
    """
T r = p * scale;
if (cls == target) {
    r = r - target_scale;
}
if (smoothing) {
    r = r - smooth * class_weight;
}
grad_input = r;
""",
)


def cross_entropy_backward(
    p: Any,
    key: tuple,
    axis: int,
    scale: Any,
    target_scale: Any,
    smooth: Any,
    class_weight: Any,
) -> Any:
    """p * scale - target_scale at each position's target class - smooth * class_weight.

    The softmax cross-entropy's gradient with respect to the scores (``ops.losses.CrossEntropy``
    states the rule). The generic implementation (NumPy's and array-api-strict's).

    Args:
        p: softmax of the scores, (N, C, d1, ...) or (C,).
        key: the index of each position's target class in p (``x[key]``: target's shape);
            ``key[axis]`` holds the classes.
        axis: p's class axis.
        scale: per position, shaped to broadcast along the class axis, or a scalar.
        target_scale: per position (target's shape) or a scalar: taken off at the target.
        smooth: per position like ``scale``, or None (no label smoothing).
        class_weight: the class weights shaped to broadcast along the class axis, or 1.0.

    Returns:
        A new array of p's shape.
    """
    gx = p * scale
    gx = backend.namespace(gx).scatter_add(gx, key, -target_scale)
    if smooth is not None:
        gx -= smooth * class_weight
    return gx


def cross_entropy_operands(xp: Any, *args: Any) -> tuple:
    """``cross_entropy_backward``'s arguments (the same, in its order) as its kernel's inputs,
    made with ``xp`` (CuPy, or NumPy in the tests): the per-position values and the targets
    shaped to broadcast along the class axis, a class index along it, arrays in p's dtype."""
    p, key, axis, scale, target_scale, smooth, class_weight = args
    kshape = list(p.shape)
    n_classes, kshape[axis] = kshape[axis], 1
    kshape = tuple(kshape)
    target = key[axis].reshape(kshape)
    classes = [1] * p.ndim
    classes[axis] = n_classes
    cls = xp.arange(n_classes, dtype=target.dtype).reshape(classes)  # on the current device

    def typed(a: Any, shape: tuple | None = None) -> Any:
        if not backend.is_array(a):
            return a  # a Python or NumPy scalar: the kernel converts it
        if a.dtype != p.dtype:
            a = a.astype(p.dtype)
        return a if shape is None or a.ndim == 0 else a.reshape(shape)

    smoothing = smooth is not None
    return (
        p,
        typed(scale),
        typed(target_scale, kshape),
        typed(smooth) if smoothing else 0.0,
        typed(class_weight),
        target,
        cls,
        smoothing,
    )
