"""Elementwise arithmetic: each gate's local gradient, multiplied by the upstream gradient.

Gradients for broadcast inputs come back at the broadcast shape; the engine sums them down.
Forward computes with the namespace of the arrays in hand (``namespace(x)``), backward with
``ctx.xp``: only the Array API standard's functions and operators, so every op runs on any
device. The standard neither multiplies by a bool array nor mixes an integer array with a Python
float: masks become floats (``xp.astype``, ``xp.where``) before arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .. import dtypes
from ..autograd.function import Function, call
from ..autograd.tensor import Tensor
from ..backend import (
    NUMPY,
    canonical_dtype,
    device_of,
    is_array,
    is_floating,
    namespace,
    ndarray,
    to_device,
)
from ._registry import Expression, alias, register


class Add(Function):
    """z = x + y. Both local gradients are 1: the add gate distributes the upstream gradient."""

    symbol = "+"
    local_grad = "1"
    pattern = "add gate distributes"

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


@register(Add, methods=("add", "__add__"), reflected=("__radd__",))
def add(input: Any, other: Any) -> Tensor:
    """input + other, broadcasting as NumPy does."""
    return Add.apply(*_promote(input, other))


class Sub(Function):
    """z = x - y. dz/dx = 1, dz/dy = -1."""

    symbol = "-"
    local_grad = ("1", "-1")

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        return x - y

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


@register(Sub, methods=("sub", "subtract", "__sub__"), reflected=("__rsub__",))
def sub(input: Any, other: Any) -> Tensor:
    """input - other."""
    return Sub.apply(*_promote(input, other))


class Mul(Function):
    """z = x * y. dz/dx = y, dz/dy = x: the mul gate swaps its inputs."""

    symbol = "*"
    pattern = "mul gate swaps"

    @staticmethod
    def describe_local(position, args, other, const):
        return other  # dz/dx = y, dz/dy = x

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        return (grad * y if need_x else None), (grad * x if need_y else None)


@register(Mul, methods=("mul", "multiply", "__mul__"), reflected=("__rmul__",))
def mul(input: Any, other: Any) -> Tensor:
    """input * other."""
    return Mul.apply(*_promote(input, other))


class Div(Function):
    """z = x / y. dz/dx = 1/y, dz/dy = -x/y^2."""

    symbol = "/"

    @staticmethod
    def describe_local(position, args, other, const):
        if position == 0:
            return f"1/{other}"
        if args[0] is not None:  # a constant c over x: -c/x^2
            return "-1/x^2" if float(args[0]) == 1 else f"-{const(args[0])}/x^2"
        return f"-{other}/x^2"

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x / y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        gx = grad / y if need_x else None
        gy = -grad * x / (y * y) if need_y else None
        return gx, gy


@register(Div, methods=("div", "divide", "__truediv__"), reflected=("__rtruediv__",))
def div(input: Any, other: Any) -> Tensor:
    """input / other (true division). Integers and bools divide as the default float dtype, as
    in PyTorch (NumPy would give float64): ``uint8_image / 255`` is float32."""
    x, y = _promote(input, other)
    if not (_is_float(x) or _is_float(y)):
        x, y = as_float(x), as_float(y)
    return Div.apply(x, y)


def as_float(input: Any) -> Any:
    """``input`` itself, or an integer or bool tensor in the default dtype: what a float
    function (exp, log, sqrt, tanh, sigmoid) of integers gives in PyTorch (NumPy: float64)."""
    if isinstance(input, Tensor) and not is_floating(input.dtype):
        return cast(input, dtypes.get_default_dtype())
    return input


def _is_float(v: Any) -> bool:
    """Whether an operand is a float tensor or a Python float."""
    return is_floating(v._data.dtype) if isinstance(v, Tensor) else isinstance(v, float)


class Neg(Function):
    """z = -x. dz/dx = -1."""

    symbol = "*(-1)"
    local_grad = "-1"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad):
        return -grad


@register(Neg, methods=("neg", "negative", "__neg__"))
def neg(input: Tensor) -> Tensor:
    """-input."""
    return Neg.apply(input)


class Pow(Function):
    """z = x ** p. dz/dx = p x^(p-1); dz/dp = x^p log(x) (when the exponent is a tensor)."""

    symbol = "**"

    @staticmethod
    def describe_local(position, args, other, const):
        # x is the input the gradient is taken for; ``other`` names the other operand
        if position == 1:  # d(b^x)/dx = b^x ln(b), b the base
            return f"{other}^x ln({other})"
        if args[1] is None:  # d(x^p)/dx with a tensor exponent p
            return f"{other} x^({other} - 1)"
        p = float(args[1])
        named = {-1.0: "-1/x^2", 2.0: "2x", 0.5: "1/(2 sqrt(x))"}
        return named.get(p, f"{const(p)} x^{const(p - 1)}")

    on_arrays = True

    @staticmethod
    def forward(ctx, x, p):
        z = x**p
        ctx.save_for_backward(x, p, z)
        return z

    @staticmethod
    def backward(ctx, grad):
        x, p, z = ctx.saved_tensors
        need_x, need_p = ctx.needs_input_grad
        gx = gp = None
        xp = ctx.xp
        if need_x and isinstance(p, (int, float)) and p == 0:
            # x^0 = 1 is flat, at x = 0 too, where p x^(p-1) would be 0 * inf = NaN: PyTorch's 0
            gx = xp.zeros(grad.shape, dtype=grad.dtype, device=grad.device)
        elif need_x and isinstance(p, (int, float)):
            gx = grad * p * x ** (p - 1)
        elif need_x:  # an exponent tensor: flat where it is 0 (x^1 there: no 0^-1 computed)
            gx = grad * xp.where(p == 0, 0, p * x ** xp.where(p == 0, 1, p - 1))
        if need_p:
            if isinstance(x, (int, float)):  # a constant base b (2 ** x): b^p ln(b)
                gp = grad * z * _log_base(x)
            else:
                # where x = 0, x^p is flat in p (0 for p > 0): take log(1) = 0 rather than -inf
                gp = grad * z * xp.log(xp.where(x == 0, 1, x))
        return gx, gp


@register(Pow, methods=("pow", "__pow__"), reflected=("__rpow__",))
def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001
    """input ** exponent; either may be a tensor."""
    return Pow.apply(*_promote(input, exponent))


def _log_base(b: float) -> float:
    """ln(b) of a constant base, as the tensor rule takes it: 0 at b = 0, nan below."""
    if b == 0:
        return 0.0
    return math.log(b) if b > 0 else math.nan


class Abs(Function):
    """z = |x|. dz/dx = sign(x) (0 at x = 0, as in PyTorch)."""

    symbol = "abs"
    local_grad = "sign(x)"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return namespace(x).abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.xp.sign(x)


@register(Abs, methods=("abs", "__abs__"), expression=Expression("abs", 1, 1, "|x|"))
def abs(input: Tensor) -> Tensor:  # noqa: A001
    """|input|."""
    return Abs.apply(input)


class Exp(Function):
    """z = e^x. dz/dx = e^x = z, so backward reuses the output."""

    symbol = "exp"
    local_grad = "e^x"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        z = namespace(x).exp(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        return grad * z


@register(Exp, methods=("exp",), expression=Expression("exp", 1, 1, "e^x"))
def exp(input: Tensor) -> Tensor:
    """e ** input."""
    return Exp.apply(as_float(input))


class Log(Function):
    """z = ln x. dz/dx = 1/x."""

    symbol = "log"
    local_grad = "1/x"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return namespace(x).log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


@register(Log, methods=("log",), expression=Expression("log", 1, 1, "natural logarithm"))
def log(input: Tensor) -> Tensor:
    """Natural logarithm."""
    return Log.apply(as_float(input))


class Sqrt(Function):
    """z = sqrt(x). dz/dx = 1 / (2 z)."""

    symbol = "sqrt"
    local_grad = "1/(2 sqrt(x))"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        z = namespace(x).sqrt(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        return grad / (2 * z)


@register(Sqrt, methods=("sqrt",), expression=Expression("sqrt", 1, 1, "square root"))
def sqrt(input: Tensor) -> Tensor:
    """Square root."""
    return Sqrt.apply(as_float(input))


class Clamp(Function):
    """z = min(max(x, lo), hi); either bound may be None, a number or a tensor (broadcasting).

    Each place's gradient goes to whichever of x, lo, hi z took its value from, by PyTorch's
    rules: x where lo <= x <= hi; lo where x < lo (and lo < hi when both bounds are given);
    hi where x > hi, or everywhere lo > hi (crossed bounds: z is hi). At a tie (x equal to a
    bound) x gets it; where lo == hi and x is outside, nobody does, as in PyTorch.
    """

    symbol = "clamp"
    local_grad = (
        "1 inside the bounds, else 0",
        "1 where x is below it, else 0",
        "1 where x is above it, else 0",
    )

    on_arrays = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        need_x, need_lo, need_hi = ctx.needs_input_grad
        if need_x or need_lo or need_hi:
            both = lo is not None and hi is not None
            masks = [None, None, None]
            if need_x:
                inside = True
                if lo is not None:
                    inside = x >= lo
                if hi is not None:
                    inside = inside & (x <= hi)
                masks[0] = inside
            if need_lo:
                masks[1] = (x < lo) & (lo < hi) if both else x < lo
            if need_hi:
                masks[2] = (x > hi) | (hi < lo) if both else x > hi
            ctx.save_for_backward(*masks)
        return namespace(x).clip(x, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        return tuple(None if m is None else ctx.xp.where(m, grad, 0) for m in ctx.saved_tensors)


@register(Clamp, methods=("clamp", "clip"))
def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit values to [min, max]; either bound may be omitted.

    Example:
        >>> cr.clamp(cr.tensor([-2.0, 0.5, 3.0]), min=0, max=1)
        tensor([0. , 0.5, 1. ], dtype=float32)
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    lo, hi = _scalar(min), _scalar(max)
    if isinstance(input, Tensor) and not is_floating(input.dtype):
        # an integer tensor with a float bound is clamped as floats, as in PyTorch: in the
        # bound tensor's dtype, or the default one (NumPy would give float64)
        floats = [b.dtype for b in (lo, hi) if isinstance(b, Tensor) and _is_float(b)]
        if floats or isinstance(lo, float) or isinstance(hi, float):
            input = cast(input, floats[0] if floats else dtypes.get_default_dtype())
    return Clamp.apply(input, lo, hi)


clip = alias(clamp, "clip")


class Maximum(Function):
    """z = max(x, y) elementwise: the max gate routes the gradient to the larger input.

    Ties split it evenly, half to each, as PyTorch does.
    """

    symbol = "max"
    local_grad = "1 if it is the larger, else 0 (ties: 1/2)"
    vjp = ("upstream routed elementwise: the Jacobian is diagonal{bcast}",)
    pattern = "max gate routes"

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        xp = namespace(x if type(x) is ndarray or is_array(x) else y)
        z = xp.maximum(x, y)
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            ctx.save_for_backward(_share(x > y, x == y, z.dtype, xp))
        return z

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        return grad * w, grad * (1 - w)


@register(
    Maximum, methods=("maximum",), expression=Expression("max", 2, 2, "max(x, y): elementwise")
)
def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise maximum; ties split the gradient evenly."""
    return Maximum.apply(*_promote(input, other))


class Minimum(Function):
    """z = min(x, y) elementwise: routes the gradient to the smaller input; ties split evenly."""

    symbol = "min"
    local_grad = "1 if it is the smaller, else 0 (ties: 1/2)"
    vjp = ("upstream routed elementwise: the Jacobian is diagonal{bcast}",)
    pattern = "min gate routes"

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        xp = namespace(x if type(x) is ndarray or is_array(x) else y)
        z = xp.minimum(x, y)
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            ctx.save_for_backward(_share(x < y, x == y, z.dtype, xp))
        return z

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        return grad * w, grad * (1 - w)


@register(
    Minimum, methods=("minimum",), expression=Expression("min", 2, 2, "min(x, y): elementwise")
)
def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise minimum; ties split the gradient evenly."""
    return Minimum.apply(*_promote(input, other))


def _share(wins: Any, ties: Any, dtype: Any, xp: Any) -> Any:
    """The first input's share of the gradient: 1 where it wins, 1/2 on a tie, else 0.

    Computed only when a gradient is needed, so ``dtype`` (the output's) is floating.
    """
    return xp.where(ties, 0.5, xp.astype(wins, dtype))


class Where(Function):
    """z = x where cond else y. The gradient goes to x where cond holds and to y elsewhere."""

    symbol = "where"
    vjp = ("upstream routed elementwise: the Jacobian is diagonal{bcast}",)

    on_arrays = True

    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.save_for_backward(cond)
        return namespace(cond).where(cond, x, y)

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad[1:]
        gx = ctx.xp.where(cond, grad, 0) if need_x else None
        gy = ctx.xp.where(cond, 0, grad) if need_y else None
        return None, gx, gy


@register(Where)
def where(condition: Any, input: Any, other: Any) -> Tensor:
    """input where condition is true, else other (broadcasting all three).

    A condition tensor must be on the inputs' device; any other condition (an array, a list,
    a bool) is taken as a constant and put there.
    """
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        # two numbers: the first as a tensor (a float in the default dtype, an int as int64)
        # where the condition is, so the result's dtype is PyTorch's (NumPy's float64 is not)
        where_ = device_of(condition._data) if isinstance(condition, Tensor) else None
        input = Tensor(_scalar(input), device=where_)
    x, y = _promote(input, other)
    cond = condition
    if not isinstance(cond, Tensor):  # a constant: put on the inputs' device
        like = next((t._data for t in (x, y) if isinstance(t, Tensor)), None)
        if type(cond) is ndarray and (like is None or type(like) is ndarray):
            pass  # the common case, on the CPU
        elif is_array(cond):
            if like is not None and device_of(cond) != device_of(like):
                cond = to_device(cond, device_of(like))
        elif like is None:
            cond = NUMPY.asarray(cond)
        else:
            cond = namespace(like).asarray(cond, device=like.device)
    dtype = canonical_dtype(cond.dtype)
    if dtype.kind != "b":
        raise TypeError(f"where: condition must be a bool tensor; got dtype {dtype}")
    return Where.apply(cond, x, y)


@register(Where, methods=("where",), export=False)
def where_method(input: Any, condition: Any, other: Any) -> Tensor:
    """``x.where(condition, y)``: x where condition is true, else y (PyTorch's Tensor.where)."""
    return where(condition, input, other)


@register(Where, methods=("masked_fill",))
def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``input`` with ``value`` where the bool ``mask`` (broadcast to input's shape) is true, as
    PyTorch's: value is a number or a 0-d tensor, taken in input's dtype; a value tensor that
    requires grad gets the gradient of every place it filled."""
    if not isinstance(mask, Tensor) or canonical_dtype(mask._data.dtype) != dtypes.bool:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"masked_fill: expected a bool mask tensor; got {got}")
    shape = tuple(input.shape)
    try:
        fits = NUMPY.broadcast_shapes(tuple(mask.shape), shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(
            f"masked_fill: the mask of shape {tuple(mask.shape)} does not broadcast to the "
            f"input's shape {shape}"
        )
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                f"masked_fill: value must be a number or a 0-d tensor; got shape "
                f"{tuple(value.shape)}"
            )
        value = value if value.dtype == input.dtype else cast(value, input.dtype)
    else:
        value = Tensor(value, dtype=input.dtype, device=device_of(input._data))
    return where(mask, value, input)


class Cast(Function):
    """z = x converted to another dtype; the gradient is converted back."""

    symbol = "cast"
    local_grad = "1"

    on_arrays = True

    @staticmethod
    def forward(ctx, x, dtype):
        xp = namespace(x)
        ctx.in_dtype = x.dtype
        return xp.astype(x, xp.native_dtype(dtype), copy=False)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.astype(grad, ctx.in_dtype), None


@register(Cast)
def cast(input: Tensor, dtype: Any) -> Tensor:
    """input converted to ``dtype`` (the same tensor when it has it already)."""
    d = dtypes.to_dtype(dtype)
    if input.dtype == d:
        return input
    return Cast.apply(input, d)


class ToDevice(Function):
    """z = x on another device. dz/dx = 1: the gradient goes back to x's device."""

    symbol = "to"
    local_grad = "1"

    on_arrays = True

    @staticmethod
    def describe_call(args):
        return f"to({args[1]})"

    @staticmethod
    def forward(ctx, x, where):
        ctx.source = device_of(x)
        return to_device(x, where)

    @staticmethod
    def backward(ctx, grad):
        return call(ToDevice, grad, ctx.source), None


@register(ToDevice, export=False)
def to_device_op(input: Tensor, device: Any) -> Tensor:
    """input on ``device`` (a cr.device); ``Tensor.to`` calls this."""
    return ToDevice.apply(input, device)


class Clone(Function):
    """z = a copy of x. dz/dx = 1."""

    symbol = "copy"
    local_grad = "1"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        return namespace(x).asarray(x, copy=True)

    @staticmethod
    def backward(ctx, grad):
        return grad


@register(Clone)
def clone(input: Tensor) -> Tensor:
    """A copy of input that stays in the graph."""
    return Clone.apply(input)


class Sign(Function):
    """z = sign(x): -1, 0 or 1. dz/dx = 0 (everywhere it has a derivative), as PyTorch's."""

    symbol = "sign"
    local_grad = "0"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        return namespace(x).sign(x)

    @staticmethod
    def backward(ctx, grad):  # zeros, not grad * 0: a NaN upstream still gives 0, as PyTorch's
        return ctx.xp.zeros(grad.shape, dtype=grad.dtype, device=grad.device)


@register(Sign, methods=("sign",))
def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of each value; its gradient is 0, as in PyTorch."""
    return Sign.apply(input)


def _unary_math(
    name: str,
    doc: str,
    symbol: str,
    local_grad: str,
    compute: Callable,
    vjp: Callable,
    of: str = "x",
) -> type:
    """A Function class for z = f(x) elementwise: ``compute(xp, x)`` with the array module's
    own function forward, and backward ``vjp(xp, grad, v)``, the upstream times dz/dx written
    from v, the input x or the output z (``of``: the one array saved), with ``xp``'s operations
    (the recorded namespace under create_graph, so that the second derivative follows). One
    piece of code for the trigonometric, hyperbolic, logarithmic and exponential functions
    below."""

    def forward(ctx: Any, x: Any) -> Any:
        z = compute(namespace(x), x)
        ctx.save_for_backward(x if of == "x" else z)
        return z

    def backward(ctx: Any, grad: Any) -> Any:
        (v,) = ctx.saved_tensors
        return vjp(ctx.xp, grad, v)

    attrs = {
        "__doc__": doc,
        "__module__": __name__,
        "__qualname__": name,
        "symbol": symbol,
        "local_grad": local_grad,
        "on_arrays": True,
        "forward": staticmethod(forward),
        "backward": staticmethod(backward),
    }
    return type(name, (Function,), attrs)


_LN2, _LN10 = math.log(2.0), math.log(10.0)
Sin = _unary_math(
    "Sin",
    "z = sin x. dz/dx = cos x.",
    "sin",
    "cos(x)",
    lambda xp, x: xp.sin(x),
    lambda xp, g, x: g * call(Cos, x),
)
Cos = _unary_math(
    "Cos",
    "z = cos x. dz/dx = -sin x.",
    "cos",
    "-sin(x)",
    lambda xp, x: xp.cos(x),
    lambda xp, g, x: -g * call(Sin, x),
)
Tan = _unary_math(
    "Tan",
    "z = tan x. dz/dx = 1 + z^2.",
    "tan",
    "1 + tan(x)^2",
    lambda xp, x: xp.tan(x),
    lambda xp, g, z: g * (1 + z * z),
    of="z",
)
Asin = _unary_math(
    "Asin",
    "z = asin x. dz/dx = 1 / sqrt(1 - x^2).",
    "asin",
    "1/sqrt(1-x^2)",
    lambda xp, x: xp.asin(x),
    lambda xp, g, x: g / xp.sqrt(1 - x * x),
)
Acos = _unary_math(
    "Acos",
    "z = acos x. dz/dx = -1 / sqrt(1 - x^2).",
    "acos",
    "-1/sqrt(1-x^2)",
    lambda xp, x: xp.acos(x),
    lambda xp, g, x: -g / xp.sqrt(1 - x * x),
)
Atan = _unary_math(
    "Atan",
    "z = atan x. dz/dx = 1 / (1 + x^2).",
    "atan",
    "1/(1+x^2)",
    lambda xp, x: xp.atan(x),
    lambda xp, g, x: g / (1 + x * x),
)
Sinh = _unary_math(
    "Sinh",
    "z = sinh x. dz/dx = cosh x.",
    "sinh",
    "cosh(x)",
    lambda xp, x: xp.sinh(x),
    lambda xp, g, x: g * call(Cosh, x),
)
Cosh = _unary_math(
    "Cosh",
    "z = cosh x. dz/dx = sinh x.",
    "cosh",
    "sinh(x)",
    lambda xp, x: xp.cosh(x),
    lambda xp, g, x: g * call(Sinh, x),
)
Asinh = _unary_math(
    "Asinh",
    "z = asinh x. dz/dx = 1 / sqrt(x^2 + 1).",
    "asinh",
    "1/sqrt(x^2+1)",
    lambda xp, x: xp.asinh(x),
    lambda xp, g, x: g / xp.sqrt(x * x + 1),
)
Acosh = _unary_math(
    "Acosh",
    "z = acosh x (x >= 1). dz/dx = 1 / sqrt(x^2 - 1).",
    "acosh",
    "1/sqrt(x^2-1)",
    lambda xp, x: xp.acosh(x),
    lambda xp, g, x: g / xp.sqrt(x * x - 1),
)
Atanh = _unary_math(
    "Atanh",
    "z = atanh x (|x| < 1). dz/dx = 1 / (1 - x^2).",
    "atanh",
    "1/(1-x^2)",
    lambda xp, x: xp.atanh(x),
    lambda xp, g, x: g / (1 - x * x),
)
Log1p = _unary_math(
    "Log1p",
    "z = ln(1 + x), exact for small x where ``log(1 + x)`` rounds 1 + x. dz/dx = 1/(1 + x).",
    "log1p",
    "1/(1+x)",
    lambda xp, x: xp.log1p(x),
    lambda xp, g, x: g / (1 + x),
)
Log2 = _unary_math(
    "Log2",
    "z = log2 x. dz/dx = 1 / (x ln 2).",
    "log2",
    "1/(x ln 2)",
    lambda xp, x: xp.log2(x),
    lambda xp, g, x: g / (x * _LN2),
)
Log10 = _unary_math(
    "Log10",
    "z = log10 x. dz/dx = 1 / (x ln 10).",
    "log10",
    "1/(x ln 10)",
    lambda xp, x: xp.log10(x),
    lambda xp, g, x: g / (x * _LN10),
)
Expm1 = _unary_math(
    "Expm1",
    "z = e^x - 1, exact for small x. dz/dx = e^x = z + 1.",
    "expm1",
    "e^x",
    lambda xp, x: xp.expm1(x),
    lambda xp, g, z: g * (z + 1),
    of="z",
)
Exp2 = _unary_math(
    "Exp2",
    "z = 2^x. dz/dx = 2^x ln 2 = z ln 2.",
    "exp2",
    "2^x ln 2",
    lambda xp, x: xp.pow(xp.asarray(2.0, dtype=x.dtype, device=x.device), x),
    lambda xp, g, z: g * (z * _LN2),
    of="z",
)


def _math(cls: type, name: str, doc: str) -> Callable[..., Tensor]:
    def fn(input: Tensor) -> Tensor:
        return cls.apply(as_float(input))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return register(cls, methods=(name,))(fn)


sin = _math(Sin, "sin", "Sine, of radians.")
cos = _math(Cos, "cos", "Cosine, of radians.")
tan = _math(Tan, "tan", "Tangent, of radians.")
asin = _math(Asin, "asin", "Arcsine, in radians; NaN outside [-1, 1].")
acos = _math(Acos, "acos", "Arccosine, in radians; NaN outside [-1, 1].")
atan = _math(Atan, "atan", "Arctangent, in radians.")
sinh = _math(Sinh, "sinh", "Hyperbolic sine.")
cosh = _math(Cosh, "cosh", "Hyperbolic cosine.")
asinh = _math(Asinh, "asinh", "Inverse hyperbolic sine.")
acosh = _math(Acosh, "acosh", "Inverse hyperbolic cosine; NaN below 1.")
atanh = _math(Atanh, "atanh", "Inverse hyperbolic tangent; NaN outside [-1, 1].")
log1p = _math(Log1p, "log1p", "ln(1 + input), accurate where input is small.")
log2 = _math(Log2, "log2", "Logarithm to base 2.")
log10 = _math(Log10, "log10", "Logarithm to base 10.")
expm1 = _math(Expm1, "expm1", "e^input - 1, accurate where input is small.")
exp2 = _math(Exp2, "exp2", "2 to the power input.")


class Atan2(Function):
    """z = atan2(y, x), the angle of the point (x, y) in radians. dz/dy = x / (x^2 + y^2),
    dz/dx = -y / (x^2 + y^2)."""

    symbol = "atan2"
    local_grad = ("x/(x^2+y^2)", "-y/(x^2+y^2)")

    on_arrays = True

    @staticmethod
    def forward(ctx, y, x):
        ctx.save_for_backward(y, x)
        return namespace(y).atan2(y, x)

    @staticmethod
    def backward(ctx, grad):
        y, x = ctx.saved_tensors
        g = grad / (x * x + y * y)
        return g * x, -g * y


@register(Atan2, methods=("atan2", "arctan2"))
def atan2(input: Any, other: Any) -> Tensor:
    """The angle of the point (other, input) in radians, in (-pi, pi], as PyTorch's
    ``atan2(input, other)``."""
    y, x = _promote(input, other)
    return Atan2.apply(as_float(y), as_float(x))


class Xlogy(Function):
    """z = x log y, and 0 where x = 0 (NaN where y is NaN), as PyTorch's ``xlogy``.
    dz/dx = log y (0 where x = 0 and y <= 0), dz/dy = x / y."""

    symbol = "xlogy"
    local_grad = ("log(y)", "x/y")

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        arr = x if is_array(x) else y
        xp = namespace(arr)
        dtype = xp.result_type(x, y)  # a number takes the array's dtype, as in PyTorch
        x, y = (v if is_array(v) else xp.asarray(v, dtype=dtype, device=arr.device) for v in (x, y))
        zero = x == 0
        out = xp.where(zero, xp.zeros_like(x), x * xp.log(xp.where(zero, xp.ones_like(y), y)))
        ctx.save_for_backward(x, y)
        return xp.where(xp.isnan(y), y, out)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        xp = ctx.xp
        flat = (x == 0) & (y <= 0)  # the value is 0 there whatever x: no slope along x
        gx = xp.where(flat, 0.0, grad * xp.log(xp.where(flat, 1.0, y)))
        return gx, grad * x / y


@register(Xlogy, methods=("xlogy",))
def xlogy(input: Any, other: Any) -> Tensor:
    """input * log(other), 0 where input is 0, as PyTorch's ``xlogy`` (an entropy's
    p log p is ``xlogy(p, p)``)."""
    x, y = _promote(input, other)
    return Xlogy.apply(as_float(x), as_float(y))


class Hypot(Function):
    """z = sqrt(x^2 + y^2), without overflow for large x, y. dz/dx = x / z, dz/dy = y / z."""

    symbol = "hypot"
    local_grad = ("x/z", "y/z")

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        z = namespace(x).hypot(x, y)
        ctx.save_for_backward(x, y, z)
        return z

    @staticmethod
    def backward(ctx, grad):
        x, y, z = ctx.saved_tensors
        g = grad / z
        return g * x, g * y


@register(Hypot, methods=("hypot",))
def hypot(input: Any, other: Any) -> Tensor:
    """sqrt(input^2 + other^2) elementwise, as PyTorch's ``hypot``."""
    x, y = _promote(input, other)
    return Hypot.apply(as_float(x), as_float(y))


@register(Div, methods=("reciprocal",))
def reciprocal(input: Tensor) -> Tensor:
    """1 / input."""
    return div(1.0, as_float(input))


@register(Pow, methods=("rsqrt",))
def rsqrt(input: Tensor) -> Tensor:
    """1 / sqrt(input), as a power of -1/2."""
    return pow(as_float(input), -0.5)


@register(Pow, methods=("square",))
def square(input: Tensor) -> Tensor:
    """input ** 2, as PyTorch computes it (a power of 2)."""
    return pow(input, 2)


class _Steps:
    """What floor, ceil, round and trunc share (a mixin of their Function classes): z is a
    step function of x, dz/dx = 0 wherever it has a derivative, so backward gives zeros, as
    PyTorch's (not grad * 0: a NaN upstream still gives 0). An integer tensor is its own floor:
    a copy of it, in its dtype (NumPy's would be float).
    """

    local_grad = "0"

    on_arrays = True

    @staticmethod
    def step(xp: Any, x: Any, *args: Any) -> Any:  # pragma: no cover - every subclass has one
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x, *args):
        xp = namespace(x)
        return cls.step(xp, x, *args) if is_floating(x.dtype) else xp.asarray(x, copy=True)

    @staticmethod
    def backward(ctx, grad):
        zeros = ctx.xp.zeros(grad.shape, dtype=grad.dtype, device=grad.device)
        return (zeros, *[None] * (len(ctx.inputs) - 1))


class Floor(_Steps, Function):
    """z = the largest integer <= x."""

    symbol = "floor"

    @staticmethod
    def step(xp, x):
        return xp.floor(x)


class Ceil(_Steps, Function):
    """z = the smallest integer >= x."""

    symbol = "ceil"

    @staticmethod
    def step(xp, x):
        return xp.ceil(x)


class Trunc(_Steps, Function):
    """z = x with its fraction cut off (towards 0)."""

    symbol = "trunc"

    @staticmethod
    def step(xp, x):
        return xp.trunc(x)


class Round(_Steps, Function):
    """z = x rounded to ``decimals`` places, halves to even (as PyTorch's and NumPy's)."""

    symbol = "round"

    @staticmethod
    def step(xp, x, decimals):
        if decimals == 0:
            return xp.round(x)
        scale = 10.0**decimals  # as PyTorch: x * 10^d rounded, then divided back
        return xp.round(x * scale) / scale


@register(Floor, methods=("floor",))
def floor(input: Tensor) -> Tensor:
    """The largest integer not above each value; its gradient is 0, as in PyTorch."""
    return Floor.apply(input)


@register(Ceil, methods=("ceil",))
def ceil(input: Tensor) -> Tensor:
    """The smallest integer not below each value; its gradient is 0, as in PyTorch."""
    return Ceil.apply(input)


@register(Trunc, methods=("trunc", "fix"))
def trunc(input: Tensor) -> Tensor:
    """Each value with its fraction cut off, towards 0; its gradient is 0, as in PyTorch."""
    return Trunc.apply(input)


@register(Round, methods=("round",))
def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 - PyTorch's name
    """Each value rounded to ``decimals`` places, halves to even; its gradient is 0."""
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int; got {decimals!r}")
    return Round.apply(input, decimals)


class Remainder(Function):
    """z = x - floor(x / y) y, the remainder with the sign of y (Python's %, PyTorch's
    ``remainder``). dz/dx = 1, dz/dy = -floor(x / y)."""

    symbol = "%"
    local_grad = ("1", "-floor(x/y)")

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return _dividing(x, y, "remainder (%)", "remainder")

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        gy = None
        if need_y:
            gy = -grad * ctx.xp.floor(x / y)
        return (grad if need_x else None), gy


@register(Remainder, methods=("remainder", "__mod__"), reflected=("__rmod__",))
def remainder(input: Any, other: Any) -> Tensor:
    """input % other, with the sign of other (Python's %), as PyTorch's ``remainder``."""
    return Remainder.apply(*_promote(input, other))


class FloorDivide(Function):
    """z = floor(x / y), Python's //. As in PyTorch it has no derivative: a backward that
    reaches it raises (a float result still records the op, so that the error is raised)."""

    symbol = "//"
    differentiable = False  # in no graph to compare: its backward raises, as PyTorch's

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        return _dividing(x, y, "floor_divide (//)", "floor_divide")

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError(
            "floor_divide (//) has no derivative, as in PyTorch: detach its inputs, or use "
            "torch-style x.div(y) and floor() (whose gradient is 0)"
        )


@register(FloorDivide, methods=("floor_divide", "__floordiv__"), reflected=("__rfloordiv__",))
def floor_divide(input: Any, other: Any) -> Tensor:
    """input // other: the quotient rounded down (Python's //); no derivative, as in PyTorch."""
    return FloorDivide.apply(*_promote(input, other))


def _dividing(x: Any, y: Any, op: str, fn: str) -> Any:
    """``xp.<fn>(x, y)`` for // and %: a float division by 0 gives inf or NaN quietly, an
    integer one raises, as in PyTorch (NumPy would give 0 with a warning)."""
    xp = namespace(x) if is_array(x) else namespace(y)
    kinds = [v.dtype if is_array(v) else NUMPY.asarray(v).dtype for v in (x, y)]
    if not any(is_floating(k) for k in kinds) and bool(xp.any(y == 0)):
        raise RuntimeError(f"ZeroDivisionError: integer division by zero in {op}")
    with NUMPY.errstate(invalid="ignore", divide="ignore"):
        return getattr(xp, fn)(x, y)


class ValueFunction(Function):
    """A function of values whose result carries no gradient: comparisons, logical ops,
    ``isnan``, ``isfinite``, ``argmax``, ``one_hot``, pooling's winner indices.

    ``forward(ctx, fn, *args)`` returns ``fn(*args)``, a bool or integer array, computed on the
    arrays. It is an op all the same, applied like every other, so that ``cr.compile`` records
    it and a replay computes it again from the new values: a tensor made from values outside
    any op would be taken for a constant of the step, and a mask or an arg-max that happened to
    be equal in the two recordings would be replayed as it was.
    """

    symbol = "value"
    differentiable = False  # its results are never floating: backward never runs

    on_arrays = True

    @staticmethod
    def forward(ctx, fn, *args):
        return fn(*args)

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - a bool or integer result has no gradient
        raise RuntimeError(f"{ctx.inputs[0].__name__} has no gradient")


def values(fn: Any, *args: Any) -> Tensor:
    """``fn`` on the arrays of ``args`` (tensors, arrays or numbers), as an op without gradient
    (``ValueFunction``): its bool or integer result as a tensor."""
    return ValueFunction.apply(fn, *args)


def _promote(a: Any, b: Any) -> tuple[Any, Any]:
    """PyTorch's type promotion for a binary op, where it differs from NumPy's.

    An integer or bool tensor meeting a float (tensor or Python float) becomes float of that
    tensor's dtype (or the default dtype), and a 0-d tensor does not widen a tensor of the same
    kind with dimensions: float32 + a float64 0-d tensor stays float32, int32 + an int64 0-d
    tensor int32. A NumPy scalar (``np.float64(2)``) counts as the Python number it holds, as
    in PyTorch: float32 * np.float64 stays float32 (NumPy itself would widen it). Otherwise
    NumPy's rules apply.
    """
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if not tb:
        b = _scalar(b)
    if not ta:
        a = _scalar(a)
    if ta and tb:
        da, db = a._data.dtype, b._data.dtype
        if da is db or da == db:
            return a, b
        fa, fb = is_floating(da), is_floating(db)
        if fa and not fb:
            return a, cast(b, a.dtype)
        if fb and not fa:
            return cast(a, b.dtype), b
        bools = canonical_dtype(da) == dtypes.bool, canonical_dtype(db) == dtypes.bool
        same_kind = fa == fb and bools[0] == bools[1]
        if same_kind and (a._data.ndim == 0) != (b._data.ndim == 0):
            target = b.dtype if a._data.ndim == 0 else a.dtype
            return cast(a, target), cast(b, target)
        return a, b
    if ta and isinstance(b, float) and not is_floating(a._data.dtype):
        return cast(a, dtypes.get_default_dtype()), b
    if tb and isinstance(a, float) and not is_floating(b._data.dtype):
        return a, cast(b, dtypes.get_default_dtype())
    return a, b


def _scalar(x: Any) -> Any:
    """A NumPy scalar as the Python number it holds (weakly typed, as PyTorch reads it)."""
    t = type(x)
    if t.__module__ == "numpy" and t is not ndarray and getattr(x, "ndim", 1) == 0:
        return x.item()
    return x


def _const(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _namespace_of(*values: Any) -> Any:
    """The namespace of the first array among ``values``; NumPy's when all are numbers."""
    for v in values:
        if type(v) is ndarray:
            return NUMPY
        if is_array(v):
            return namespace(v)
    return NUMPY


def _comparable(xp: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """Operands the standard compares: an integer or bool array meeting a float (a Python
    float or a floating array) is compared as floats, as NumPy and PyTorch do (the standard
    refuses to mix them)."""
    fa = is_floating(a.dtype) if is_array(a) else isinstance(a, float)
    fb = is_floating(b.dtype) if is_array(b) else isinstance(b, float)
    if fb and not fa and is_array(a):
        a = xp.astype(a, b.dtype if is_array(b) else xp.float64)
    elif fa and not fb and is_array(b):
        b = xp.astype(b, a.dtype if is_array(a) else xp.float64)
    return a, b


def _compare(function: str, name: str, methods: tuple[str, ...]) -> Any:
    on_cpu = getattr(NUMPY, function)

    def on_arrays(a: Any, b: Any) -> Any:
        xp = _namespace_of(a, b)
        if xp is NUMPY:
            return on_cpu(a, b)
        return getattr(xp, function)(*_comparable(xp, a, b))

    on_arrays.__name__ = function

    def compare(input: Any, other: Any) -> Tensor:
        return values(on_arrays, input, other)

    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{function}`` as a bool tensor (no gradient)."
    return register(ValueFunction, methods=methods)(compare)


# PyTorch's names (x.eq(y), cr.lt(x, y)), and its long aliases as methods (x.less(y))
eq = _compare("equal", "eq", ("eq", "__eq__"))
ne = _compare("not_equal", "ne", ("ne", "not_equal", "__ne__"))
lt = _compare("less", "lt", ("lt", "less", "__lt__"))
le = _compare("less_equal", "le", ("le", "less_equal", "__le__"))
gt = _compare("greater", "gt", ("gt", "greater", "__gt__"))
ge = _compare("greater_equal", "ge", ("ge", "greater_equal", "__ge__"))
logical_and = _compare("logical_and", "logical_and", ("logical_and", "__and__"))
logical_or = _compare("logical_or", "logical_or", ("logical_or", "__or__"))
logical_xor = _compare("logical_xor", "logical_xor", ("logical_xor", "__xor__"))


@register(ValueFunction, methods=("equal",))
def equal(input: Tensor, other: Tensor) -> bool:
    """True when both have the same shape and the same values, as ``torch.equal`` (one bool).

    Example:
        >>> cr.equal(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.0]))
        True
    """
    if _const(input).shape != _const(other).shape:
        return False
    # an op and then a read of its value, which cr.compile sees as such (a step whose Python
    # branches on it is not replayed)
    return bool(values(_all_equal, input, other))


def _all_equal(a: Any, b: Any) -> Any:
    xp = _namespace_of(a, b)
    return xp.all(xp.equal(*_comparable(xp, a, b)))


def _elementwise(function: str) -> Any:
    """The array module's ``function`` of one array (or number), named for drawings."""

    def on_arrays(x: Any) -> Any:
        return getattr(_namespace_of(x), function)(x)

    on_arrays.__name__ = function
    return on_arrays


_logical_not, _isnan, _isfinite, _isinf = map(
    _elementwise, ("logical_not", "isnan", "isfinite", "isinf")
)


@register(ValueFunction, methods=("logical_not", "__invert__"))
def logical_not(input: Tensor) -> Tensor:
    """Elementwise not, as a bool tensor."""
    return values(_logical_not, input)


@register(ValueFunction, methods=("isnan",))
def isnan(input: Tensor) -> Tensor:
    """Where the values are NaN, as a bool tensor."""
    return values(_isnan, input)


@register(ValueFunction, methods=("isfinite",))
def isfinite(input: Tensor) -> Tensor:
    """Where the values are finite, as a bool tensor."""
    return values(_isfinite, input)


@register(ValueFunction, methods=("isinf",))
def isinf(input: Tensor) -> Tensor:
    """Where the values are +inf or -inf, as a bool tensor."""
    return values(_isinf, input)


def _isclose(a: Any, b: Any, rtol: float, atol: float, equal_nan: bool) -> Any:
    xp = namespace(a)
    with NUMPY.errstate(invalid="ignore"):  # inf - inf: NaN; equal infinities are close by ==
        near = xp.abs(a - b) <= atol + rtol * xp.abs(b)
        close = (a == b) | (near & xp.isfinite(a) & xp.isfinite(b))
    if equal_nan:
        close = close | (xp.isnan(a) & xp.isnan(b))
    return close


@register(ValueFunction, methods=("isclose",))
def isclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """Where |input - other| <= atol + rtol |other| (equal infinities included; NaNs only with
    ``equal_nan``), as a bool tensor, as PyTorch's."""
    x, y = _promote(input, other)
    return values(_isclose, x, y, float(rtol), float(atol), bool(equal_nan))


@register(ValueFunction, methods=("allclose",))
def allclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether ``isclose`` holds everywhere, as a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all())
