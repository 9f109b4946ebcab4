"""Elementwise arithmetic: each gate's local gradient, multiplied by the upstream gradient.

Gradients for broadcast inputs come back at the broadcast shape; the engine sums them down.
"""

from __future__ import annotations

from typing import Any

from .. import dtypes
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp


class Add(Function):
    """z = x + y. Both local gradients are 1: the add gate distributes the upstream gradient."""

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    """z = x - y. dz/dx = 1, dz/dy = -1."""

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        return x - y

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """z = x * y. dz/dx = y, dz/dy = x: the mul gate swaps its inputs."""

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


class Div(Function):
    """z = x / y. dz/dx = 1/y, dz/dy = -x/y^2."""

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


class Neg(Function):
    """z = -x. dz/dx = -1."""

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Pow(Function):
    """z = x ** p. dz/dx = p x^(p-1); dz/dp = x^p log(x) (when the exponent is a tensor)."""

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
        gp = grad * z * xp.log(xp.where(x == 0, 1, x)) if need_p else None
        return gx, gp


class Abs(Function):
    """z = |x|. dz/dx = sign(x) (0 at x = 0, as in PyTorch)."""

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * xp.sign(x)


class Exp(Function):
    """z = e^x. dz/dx = e^x = z, so backward reuses the output."""

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


class Log(Function):
    """z = ln x. dz/dx = 1/x."""

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


class Sqrt(Function):
    """z = sqrt(x). dz/dx = 1 / (2 z)."""

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


class Clamp(Function):
    """z = min(max(x, lo), hi); either bound may be None, a number or a tensor (broadcasting).

    Each place's gradient goes to whichever of x, lo, hi z took its value from, by PyTorch's
    rules: x where lo <= x <= hi; lo where x < lo (and lo < hi when both bounds are given);
    hi where x > hi, or everywhere lo > hi (crossed bounds: z is hi). At a tie (x equal to a
    bound) x gets it; where lo == hi and x is outside, nobody does, as in PyTorch.
    """

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
        return tuple(None if m is None else xp.where(m, grad, 0) for m in ctx.saved_tensors)


class Maximum(Function):
    """z = max(x, y) elementwise: the max gate routes the gradient to the larger input.

    Ties split it evenly, half to each, as PyTorch does.
    """

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


class Minimum(Function):
    """z = min(x, y) elementwise: routes the gradient to the smaller input; ties split evenly."""

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


def _share(wins: Any, ties: Any, dtype: Any) -> Any:
    """The first input's share of the gradient: 1 where it wins, 1/2 on a tie, else 0."""
    w = xp.asarray(wins, dtype=dtype if dtype.kind == "f" else xp.float64)
    return w + 0.5 * ties


class Where(Function):
    """z = x where cond else y. The gradient goes to x where cond holds and to y elsewhere."""

    on_arrays = True

    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.save_for_backward(cond)
        return xp.where(cond, x, y)

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad[1:]
        gx = xp.where(cond, grad, 0) if need_x else None
        gy = xp.where(cond, 0, grad) if need_y else None
        return None, gx, gy


class Cast(Function):
    """z = x converted to another dtype; the gradient is converted back."""

    on_arrays = True

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.in_dtype), None


class Clone(Function):
    """z = a copy of x. dz/dx = 1."""

    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


# ----- the functions users call (also bound as Tensor methods) -----
def add(input: Any, other: Any) -> Tensor:
    """input + other, broadcasting as NumPy does."""
    return Add.apply(*_promote(input, other))


def sub(input: Any, other: Any) -> Tensor:
    """input - other."""
    return Sub.apply(*_promote(input, other))


def mul(input: Any, other: Any) -> Tensor:
    """input * other."""
    return Mul.apply(*_promote(input, other))


def div(input: Any, other: Any) -> Tensor:
    """input / other (true division)."""
    return Div.apply(*_promote(input, other))


def neg(input: Tensor) -> Tensor:
    """-input."""
    return Neg.apply(input)


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001
    """input ** exponent; either may be a tensor."""
    return Pow.apply(*_promote(input, exponent))


def abs(input: Tensor) -> Tensor:  # noqa: A001
    """|input|."""
    return Abs.apply(input)


def exp(input: Tensor) -> Tensor:
    """e ** input."""
    return Exp.apply(input)


def log(input: Tensor) -> Tensor:
    """Natural logarithm."""
    return Log.apply(input)


def sqrt(input: Tensor) -> Tensor:
    """Square root."""
    return Sqrt.apply(input)


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit values to [min, max]; either bound may be omitted.

    Example:
        >>> cr.clamp(cr.tensor([-2.0, 0.5, 3.0]), min=0, max=1)
        tensor([0. , 0.5, 1. ], dtype=float32)
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clamp.apply(input, _scalar(min), _scalar(max))


clip = clamp


def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise maximum; ties split the gradient evenly."""
    return Maximum.apply(*_promote(input, other))


def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise minimum; ties split the gradient evenly."""
    return Minimum.apply(*_promote(input, other))


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """input where condition is true, else other (broadcasting all three)."""
    cond = _const(condition)
    cond = xp.asarray(cond)
    if cond.dtype != xp.bool_:
        raise TypeError(f"where: condition must be a bool tensor; got dtype {cond.dtype}")
    return Where.apply(cond, *_promote(input, other))


def cast(input: Tensor, dtype: Any) -> Tensor:
    """input converted to ``dtype`` (the same tensor when it has it already)."""
    d = dtypes.to_dtype(dtype)
    if input.dtype == d:
        return input
    return Cast.apply(input, d)


def clone(input: Tensor) -> Tensor:
    """A copy of input that stays in the graph."""
    return Clone.apply(input)


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


def _compare(ufunc: Any, name: str) -> Any:
    def compare(input: Any, other: Any) -> Tensor:
        return Tensor._make(xp.asarray(ufunc(_const(input), _const(other))))

    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{ufunc.__name__}`` as a bool tensor (no gradient)."
    return compare


# PyTorch's names (x.eq(y), cr.lt(x, y)); its long aliases (not_equal, less, ...) are bound too
eq, ne = _compare(xp.equal, "eq"), _compare(xp.not_equal, "ne")
lt, le = _compare(xp.less, "lt"), _compare(xp.less_equal, "le")
gt, ge = _compare(xp.greater, "gt"), _compare(xp.greater_equal, "ge")
logical_and = _compare(xp.logical_and, "logical_and")
logical_or = _compare(xp.logical_or, "logical_or")
logical_xor = _compare(xp.logical_xor, "logical_xor")


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both have the same shape and the same values, as ``torch.equal`` (one bool).

    Example:
        >>> cr.equal(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.0]))
        True
    """
    a, b = _const(input), _const(other)
    return bool(a.shape == b.shape and xp.array_equal(a, b))


def logical_not(input: Tensor) -> Tensor:
    """Elementwise not, as a bool tensor."""
    return Tensor._make(xp.logical_not(_const(input)))


def isnan(input: Tensor) -> Tensor:
    return Tensor._make(xp.isnan(_const(input)))


def isfinite(input: Tensor) -> Tensor:
    return Tensor._make(xp.isfinite(_const(input)))
