"""Elementwise arithmetic: each gate's local gradient, multiplied by the upstream gradient.

Gradients for broadcast inputs come back at the broadcast shape; the engine sums them down.
"""

from __future__ import annotations

from typing import Any

from .. import dtypes
from ..autograd.function import Function, call
from ..autograd.tensor import Tensor
from ..backend import device_of, to_device, xp
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
    """input / other (true division)."""
    return Div.apply(*_promote(input, other))


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
        gx = grad * p * x ** (p - 1) if need_x else None
        # where x = 0, x^p is flat in p (0 for p > 0): take log(1) = 0 rather than -inf
        gp = grad * z * ctx.xp.log(ctx.xp.where(x == 0, 1, x)) if need_p else None
        return gx, gp


@register(Pow, methods=("pow", "__pow__"), reflected=("__rpow__",))
def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001
    """input ** exponent; either may be a tensor."""
    return Pow.apply(*_promote(input, exponent))


class Abs(Function):
    """z = |x|. dz/dx = sign(x) (0 at x = 0, as in PyTorch)."""

    symbol = "abs"
    local_grad = "sign(x)"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.abs(x)

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
        z = xp.exp(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        return grad * z


@register(Exp, methods=("exp",), expression=Expression("exp", 1, 1, "e^x"))
def exp(input: Tensor) -> Tensor:
    """e ** input."""
    return Exp.apply(input)


class Log(Function):
    """z = ln x. dz/dx = 1/x."""

    symbol = "log"
    local_grad = "1/x"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


@register(Log, methods=("log",), expression=Expression("log", 1, 1, "natural logarithm"))
def log(input: Tensor) -> Tensor:
    """Natural logarithm."""
    return Log.apply(input)


class Sqrt(Function):
    """z = sqrt(x). dz/dx = 1 / (2 z)."""

    symbol = "sqrt"
    local_grad = "1/(2 sqrt(x))"

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        z = xp.sqrt(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        return grad / (2 * z)


@register(Sqrt, methods=("sqrt",), expression=Expression("sqrt", 1, 1, "square root"))
def sqrt(input: Tensor) -> Tensor:
    """Square root."""
    return Sqrt.apply(input)


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
        return xp.clip(x, lo, hi)

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
    return Clamp.apply(input, _scalar(min), _scalar(max))


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
        z = xp.maximum(x, y)
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            ctx.save_for_backward(_share(x > y, x == y, z.dtype))
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
        z = xp.minimum(x, y)
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            ctx.save_for_backward(_share(x < y, x == y, z.dtype))
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


def _share(wins: Any, ties: Any, dtype: Any) -> Any:
    """The first input's share of the gradient: 1 where it wins, 1/2 on a tie, else 0."""
    w = xp.asarray(wins, dtype=dtype if dtype.kind == "f" else xp.float64)
    return w + 0.5 * ties


class Where(Function):
    """z = x where cond else y. The gradient goes to x where cond holds and to y elsewhere."""

    symbol = "where"
    vjp = ("upstream routed elementwise: the Jacobian is diagonal{bcast}",)

    on_arrays = True

    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.save_for_backward(cond)
        return xp.where(cond, x, y)

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad[1:]
        gx = ctx.xp.where(cond, grad, 0) if need_x else None
        gy = ctx.xp.where(cond, 0, grad) if need_y else None
        return None, gx, gy


@register(Where)
def where(condition: Any, input: Any, other: Any) -> Tensor:
    """input where condition is true, else other (broadcasting all three)."""
    cond = _const(condition)
    cond = xp.asarray(cond)
    if cond.dtype != xp.bool_:
        raise TypeError(f"where: condition must be a bool tensor; got dtype {cond.dtype}")
    return Where.apply(cond, *_promote(input, other))


@register(Where, methods=("where",), export=False)
def where_method(input: Any, condition: Any, other: Any) -> Tensor:
    """``x.where(condition, y)``: x where condition is true, else y (PyTorch's Tensor.where)."""
    return where(condition, input, other)


class Cast(Function):
    """z = x converted to another dtype; the gradient is converted back."""

    symbol = "cast"
    local_grad = "1"

    on_arrays = True

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.in_dtype), None


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
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


@register(Clone)
def clone(input: Tensor) -> Tensor:
    """A copy of input that stays in the graph."""
    return Clone.apply(input)


@register(methods=("sign",))
def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of each value (no gradient: its derivative is 0)."""
    return Tensor._make(xp.sign(_const(input)))


def _promote(a: Any, b: Any) -> tuple[Any, Any]:
    """PyTorch's type promotion for a binary op, where it differs from NumPy's.

    An integer or bool tensor meeting a float (tensor or Python float) becomes float of that
    tensor's dtype (or the default dtype), and a 0-d float tensor does not widen a float tensor
    with dimensions: float32 + float64 scalar stays float32. A NumPy scalar (``np.float64(2)``)
    counts as the Python number it holds, as in PyTorch: float32 * np.float64 stays float32
    (NumPy itself would widen it). Otherwise NumPy's rules apply.
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
        fa, fb = da.kind == "f", db.kind == "f"
        if fa and not fb:
            return a, cast(b, da)
        if fb and not fa:
            return cast(a, db), b
        if fa and fb and (a._data.ndim == 0) != (b._data.ndim == 0):
            target = db if a._data.ndim == 0 else da
            return cast(a, target), cast(b, target)
        return a, b
    if ta and isinstance(b, float) and a._data.dtype.kind != "f":
        return cast(a, dtypes.get_default_dtype()), b
    if tb and isinstance(a, float) and b._data.dtype.kind != "f":
        return a, cast(b, dtypes.get_default_dtype())
    return a, b


def _scalar(x: Any) -> Any:
    """A NumPy scalar as the Python number it holds (weakly typed, as PyTorch reads it)."""
    return x.item() if isinstance(x, xp.generic) else x


def _const(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _compare(ufunc: Any, name: str, methods: tuple[str, ...]) -> Any:
    def compare(input: Any, other: Any) -> Tensor:
        return Tensor._make(xp.asarray(ufunc(_const(input), _const(other))))

    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{ufunc.__name__}`` as a bool tensor (no gradient)."
    return register(methods=methods)(compare)


# PyTorch's names (x.eq(y), cr.lt(x, y)), and its long aliases as methods (x.less(y))
eq = _compare(xp.equal, "eq", ("eq", "__eq__"))
ne = _compare(xp.not_equal, "ne", ("ne", "not_equal", "__ne__"))
lt = _compare(xp.less, "lt", ("lt", "less", "__lt__"))
le = _compare(xp.less_equal, "le", ("le", "less_equal", "__le__"))
gt = _compare(xp.greater, "gt", ("gt", "greater", "__gt__"))
ge = _compare(xp.greater_equal, "ge", ("ge", "greater_equal", "__ge__"))
logical_and = _compare(xp.logical_and, "logical_and", ("logical_and", "__and__"))
logical_or = _compare(xp.logical_or, "logical_or", ("logical_or", "__or__"))
logical_xor = _compare(xp.logical_xor, "logical_xor", ("logical_xor", "__xor__"))


@register(methods=("equal",))
def equal(input: Tensor, other: Tensor) -> bool:
    """True when both have the same shape and the same values, as ``torch.equal`` (one bool).

    Example:
        >>> cr.equal(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.0]))
        True
    """
    a, b = _const(input), _const(other)
    return bool(a.shape == b.shape and xp.array_equal(a, b))


@register(methods=("logical_not", "__invert__"))
def logical_not(input: Tensor) -> Tensor:
    """Elementwise not, as a bool tensor."""
    return Tensor._make(xp.logical_not(_const(input)))


@register(methods=("isnan",))
def isnan(input: Tensor) -> Tensor:
    return Tensor._make(xp.isnan(_const(input)))


@register(methods=("isfinite",))
def isfinite(input: Tensor) -> Tensor:
    return Tensor._make(xp.isfinite(_const(input)))
