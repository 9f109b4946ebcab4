"""Activation functions: the non-linearities between a network's layers.

As everywhere in the ops, forward computes with ``namespace(x)`` and backward with ``ctx.xp``:
the Array API standard's functions only, so each activation runs on any device.
"""

from __future__ import annotations

from ..autograd.function import Function, call
from ..autograd.tensor import Tensor
from ..backend import namespace
from ._registry import Expression, register
from .elementwise import Where, as_float, clamp, where


class Tanh(Function):
    """z = tanh(x). dz/dx = 1 - z^2."""

    symbol = "tanh"
    local_grad = "1 - tanh(x)^2"

    on_arrays = True
    overwrites_grad = True

    @staticmethod
    def forward(ctx, x):
        z = namespace(x).tanh(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        if ctx.owns_grad:  # nobody else holds grad (engine._spare): the product written in it
            return ctx.xp.multiply(grad, 1 - z * z, out=grad)
        return grad * (1 - z * z)


@register(
    Tanh,
    methods=("tanh",),
    expression=Expression("tanh", 1, 1, "hyperbolic tangent"),
    functional=True,
)
def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent, squashing to (-1, 1)."""
    return Tanh.apply(as_float(input))


class Sigmoid(Function):
    """z = 1 / (1 + e^-x). dz/dx = (1 - z) z: the lecture's sigmoid gate.

    Computed from e^-|x| <= 1, so no exponential overflows for scores of +-1e4.
    """

    symbol = "sigmoid"
    local_grad = "(1 - s) s"

    on_arrays = True
    overwrites_grad = True

    @staticmethod
    def forward(ctx, x):
        xp = namespace(x)
        e = xp.exp(-xp.abs(x))
        z = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        if ctx.owns_grad:  # nobody else holds grad (engine._spare): the products written in it
            g = ctx.xp.multiply(grad, 1 - z, out=grad)
            return ctx.xp.multiply(g, z, out=g)
        return grad * (1 - z) * z


@register(
    Sigmoid,
    methods=("sigmoid",),
    expression=Expression("sigmoid", 1, 1, "1 / (1 + e^-x)"),
    functional=True,
)
def sigmoid(input: Tensor) -> Tensor:
    """Logistic sigmoid 1 / (1 + e^-x), squashing to (0, 1)."""
    return Sigmoid.apply(as_float(input))


class ReLU(Function):
    """z = max(0, x). dz/dx = 1 where x > 0, else 0: a gate that passes or blocks.

    The Jacobian is diagonal, so backward multiplies by the 0/1 mask instead of forming it,
    cast to the gradient's dtype first: the standard multiplies no bool arrays. (``xp.where``
    with a 0 and ``xp.sign(z)`` say the same but cost NumPy two to three times as much on a
    256x100 batch; the cast costs one small pass.) Where the engine proves that nobody else
    holds the upstream gradient array (``ctx.owns_grad``), the mask is applied in it, NumPy
    casting the mask as it goes: no new array, and one pass less over a ConvNet's activations.
    """

    symbol = "relu"
    local_grad = "1 if x > 0 else 0"
    pattern = "max gate routes"

    on_arrays = True
    overwrites_grad = True

    @staticmethod
    def forward(ctx, x):
        z = namespace(x).maximum(x, 0)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        if ctx.owns_grad:  # a NumPy array nobody else holds (engine._spare): masked in place
            return ctx.xp.multiply(grad, z > 0, out=grad)
        return grad * ctx.xp.astype(z > 0, grad.dtype)


@register(
    ReLU, methods=("relu",), expression=Expression("relu", 1, 1, "max(0, x)"), functional=True
)
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(0, x), the default activation of modern networks. ``inplace`` is accepted as in
    PyTorch and computed out of place (the same result; the input keeps its values)."""
    return ReLU.apply(input)


class LeakyReLU(Function):
    """z = x where x > 0, else slope * x. dz/dx = 1 or slope."""

    symbol = "leaky_relu"

    @staticmethod
    def describe_local(position, args, other, const):
        return f"1 if x > 0 else {const(args[1])}"

    on_arrays = True

    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.save_for_backward(x)
        ctx.negative_slope = negative_slope
        return namespace(x).where(x > 0, x, x * negative_slope)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return ctx.xp.where(x > 0, grad, grad * ctx.negative_slope), None


@register(
    LeakyReLU,
    methods=("leaky_relu",),
    expression=Expression("leaky_relu", 1, 2, "max(slope x, x)"),
    functional=True,
)
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """max(slope * x, x); the lecture uses slope 0.1. PyTorch's default is 0.01. ``inplace``:
    as ``relu``'s."""
    return LeakyReLU.apply(input, float(negative_slope))


class ELU(Function):
    """z = x where x > 0, else alpha (e^x - 1). dz/dx = 1, or alpha e^x = z + alpha."""

    symbol = "elu"

    @staticmethod
    def describe_local(position, args, other, const):
        alpha = float(args[1])  # alpha e^x, written with alpha's value
        return "1 if x > 0 else e^x" if alpha == 1 else f"1 if x > 0 else {const(alpha)} e^x"

    on_arrays = True

    @staticmethod
    def forward(ctx, x, alpha):
        xp = namespace(x)
        z = xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))
        ctx.save_for_backward(x, z)
        ctx.alpha = alpha
        return z

    @staticmethod
    def backward(ctx, grad):
        x, z = ctx.saved_tensors
        return ctx.xp.where(x > 0, grad, grad * (z + ctx.alpha)), None


@register(
    ELU,
    methods=("elu",),
    expression=Expression("elu", 1, 2, "x if x > 0 else alpha (e^x - 1)"),
    functional=True,
)
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha (e^x - 1). ``inplace``: as ``relu``'s."""
    return ELU.apply(input, float(alpha))


class Softplus(Function):
    """z = log(1 + e^(beta x)) / beta, a smooth ReLU. dz/dx = sigmoid(beta x).

    As PyTorch's, it is linear (z = x, dz/dx = 1) where beta x > threshold. Computed as
    max(t, 0) + log(1 + e^-|t|) with t = beta x, so no exponential overflows.
    """

    symbol = "softplus"

    @staticmethod
    def describe_local(position, args, other, const):
        beta = float(args[1])  # 1 past the threshold, where softplus is x itself
        return "sigmoid(x)" if beta == 1 else f"sigmoid({const(beta)} x)"

    on_arrays = True

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = namespace(x)
        t = x * beta
        smooth = (xp.maximum(t, 0) + xp.log1p(xp.exp(-xp.abs(t)))) / beta
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        return xp.where(t > threshold, x, smooth)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        t = x * ctx.beta
        return ctx.xp.where(t > ctx.threshold, grad, grad * call(Sigmoid, t)), None, None


@register(
    Softplus,
    functional=True,
    expression=Expression("softplus", 1, 1, "log(1 + e^x), a smooth relu"),
)
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, linear above ``threshold``; as PyTorch's ``F.softplus``.

    Example:
        >>> cr.nn.functional.softplus(cr.tensor([-1.0, 0.0, 30.0]))
        tensor([ 0.3133,  0.6931, 30.    ], dtype=float32)
    """
    return Softplus.apply(input, float(beta), float(threshold))


class SiLU(Function):
    """z = x sigmoid(x) (swish). dz/dx = s (1 + x (1 - s)) with s = sigmoid(x)."""

    symbol = "silu"
    local_grad = "s(1 + x(1 - s))"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * call(Sigmoid, x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        s = call(Sigmoid, x)
        return grad * (s * (1 + x * (1 - s)))


@register(SiLU, functional=True, export=False)
def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x sigmoid(x), the swish of modern networks, as PyTorch's ``F.silu``."""
    return SiLU.apply(input)


class LogSigmoid(Function):
    """z = log(sigmoid(x)) = min(x, 0) - log(1 + e^-|x|), with no overflow and no loss of
    precision at either end. dz/dx = 1 - sigmoid(x) = sigmoid(-x)."""

    symbol = "logsigmoid"
    local_grad = "sigmoid(-x)"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        xp = namespace(x)
        ctx.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * call(Sigmoid, -x)


@register(LogSigmoid, functional=True, export=False)
def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), computed stably, as PyTorch's ``F.logsigmoid``."""
    return LogSigmoid.apply(input)


@register(Where, functional=True, export=False)
def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """x clamped to [min_val, max_val], as PyTorch's ``F.hardtanh``: the gradient passes
    strictly inside the interval only (0 at its ends, where clamp's would pass)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is above max_val {max_val}")
    inside = (input > min_val) & (input < max_val)
    return where(inside, input, clamp(input.detach(), min_val, max_val))


@register(Where, functional=True, export=False)
def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(0, x), 6), as PyTorch's ``F.relu6`` (hardtanh on [0, 6])."""
    return hardtanh(input, 0.0, 6.0)
