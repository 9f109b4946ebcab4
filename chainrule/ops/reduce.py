"""Reductions: sums, means, variances, maxima, log-sum-exp and softmax along axes.

Backward puts the reduced axes back (``expand_dims``) and broadcasts the gradient over them.
Forward computes through the namespace of its input's array (``backend.namespace``), backward
through ``ctx.xp``: the Array API standard's names, on any device.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

from .. import dtypes
from ..autograd.function import Function, call
from ..autograd.tensor import Tensor
from ..backend import canonical_dtype, is_floating, namespace
from ._registry import Expression, register
from ._util import keep, normalize_dim, reduce_axes
from .elementwise import (
    Maximum,
    Minimum,
    ValueFunction,
    cast,
    maximum,
    minimum,
    values,
    where,
)
from .indexing import Index, gather
from .shape import Flip, movedim


def _with_dims(symbol: str, args: tuple) -> str:
    """A reduction's label: ``sum``, or ``sum(dim=1)`` when it reduces some axes only."""
    if len(args) < 2 or args[1] is None:
        return symbol
    dims = args[1] if len(args[1]) != 1 else args[1][0]
    return f"{symbol}(dim={dims})"


def _unreduce(grad: Any, axes: tuple | None, keepdims: bool, ndim: int, xp: Any) -> Any:
    """Give a reduced gradient back its reduced axes (as size 1), ready to broadcast.

    ``xp`` is the backward's ``ctx.xp`` (arrays, or Tensors under create_graph).
    """
    if keepdims:
        return grad
    if axes is None:
        return xp.reshape(grad, (1,) * ndim)
    return xp.expand_dims(grad, axis=axes)


def _spread(grad: Any, shape: tuple, xp: Any) -> Any:
    """A gradient with the reduced axes as size 1, copied to every element of ``shape``.

    First order, a fresh array on grad's device: one fill is cheaper than NumPy's
    ``broadcast_to`` (Python code) for the small arrays where it matters, and a writable array
    can be stored in ``.grad`` without a copy. Under create_graph, a broadcast Tensor.
    """
    if isinstance(grad, Tensor):
        return xp.broadcast_to(grad, shape)
    out = xp.empty(shape, dtype=grad.dtype, device=grad.device)
    out[...] = grad
    return out


class Sum(Function):
    """z = sum of x over axes. dz/dx = 1: the gradient is copied to every summed element."""

    symbol = "sum"
    local_grad = "1"
    vjp = ("upstream copied to every summed element",)
    pattern = "add gate distributes"

    @staticmethod
    def describe_call(args):
        return _with_dims("sum", args)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        return namespace(x).sum(x, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        x, axes, keepdims = ctx.inputs
        return _spread(_unreduce(grad, axes, keepdims, x.ndim, ctx.xp), x.shape, ctx.xp), None, None


@register(
    Sum, methods=("sum",), expression=Expression("sum", 1, 2, "sum(x) or sum(x, dim)", dims=(1,))
)
def sum(  # noqa: A001
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or None for all), keeping them as size 1 if asked.

    ``axis``/``keepdims`` (NumPy's names) are accepted too.
    """
    return Sum.apply(input, reduce_axes(dim, axis, input.ndim, "sum"), keep(keepdim, keepdims))


class SumOfSquares(Function):
    """z = sum over every input p of sum(p ** 2), one node for all. dz/dp = 2 p.

    The L2 penalty of a whole model in one op, rather than a square, a sum and an add per
    parameter.
    """

    symbol = "sum of squares"
    local_grad = "2x"  # x: the parameter it is taken for (explain writes its name: 2 w0)
    vjp = ("upstream * 2 w",)

    on_arrays = True

    @staticmethod
    def forward(ctx, *tensors):
        ctx.save_for_backward(*tensors)
        xp = namespace(tensors[0])
        total = None
        for p in tensors:
            # a dot product of the flattened values (BLAS on NumPy): no p * p array; a 1-d p (a
            # bias) needs no flattening, which spares NumPy's reshape, a Python function
            flat = p if p.ndim == 1 else xp.reshape(p, (-1,))
            square = flat @ flat
            total = square if total is None else total + square
        return xp.asarray(total)

    @staticmethod
    def backward(ctx, grad):
        twice = grad * 2
        needs = ctx.needs_input_grad
        return tuple(twice * p if need else None for p, need in zip(ctx.saved_tensors, needs))


class Mean(Function):
    """z = mean of x over axes. dz/dx = 1/n for each of the n averaged elements."""

    symbol = "mean"
    local_grad = "1/n"
    vjp = ("upstream / n, copied to every averaged element",)

    @staticmethod
    def describe_call(args):
        return _with_dims("mean", args)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        return namespace(x).mean(x, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        x, axes, keepdims = ctx.inputs
        shape = x.shape
        n = _count(shape, axes)
        return (
            _spread(_unreduce(grad / n, axes, keepdims, len(shape), ctx.xp), shape, ctx.xp),
            None,
            None,
        )


@register(
    Mean,
    methods=("mean",),
    expression=Expression("mean", 1, 2, "mean(x) or mean(x, dim)", dims=(1,)),
)
def mean(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Mean over ``dim`` (all axes by default)."""
    return Mean.apply(input, reduce_axes(dim, axis, input.ndim, "mean"), keep(keepdim, keepdims))


class Var(Function):
    """z = sum((x - mean)^2) / (n - correction). dz/dx = 2 (x - mean) / (n - correction)."""

    symbol = "var"
    vjp = ("upstream * 2 (x - mean) / (n - correction)",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, axes, correction, keepdims):
        ctx.save_for_backward(x)
        return namespace(x).var(x, axis=axes, correction=correction, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return (_var_grad(ctx, x, grad), None, None, None)


def _var_grad(ctx: Any, x: Any, grad: Any) -> Any:
    """The gradient of var(x) (``ctx.inputs`` holding its axes, correction and keepdims) for
    upstream gradient ``grad``: 2 (x - mean) / (n - correction) times the upstream."""
    _, axes, correction, keepdims = ctx.inputs
    dof = _count(x.shape, axes) - correction
    xp = ctx.xp
    g = _unreduce(grad, axes, keepdims, x.ndim, xp)
    centered = x - xp.mean(x, axis=axes, keepdims=True)
    scale = 2.0 / dof if dof > 0 else math.inf  # as PyTorch: x - mean over 0 dof
    return g * centered * scale


class Std(Function):
    """z = sqrt(var(x)). dz/dx = dvar/dx / (2 z), and 0 where z = 0 (every value equal), as
    PyTorch's: there the square root's infinite slope meets var's zero slope, whose product
    would be NaN."""

    symbol = "std"
    vjp = ("upstream / (2 std) * 2 (x - mean) / (n - correction); 0 where std = 0",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, axes, correction, keepdims):
        xp = namespace(x)
        z = xp.sqrt(xp.var(x, axis=axes, correction=correction, keepdims=keepdims))
        ctx.save_for_backward(x, z)
        return z

    @staticmethod
    def backward(ctx, grad):
        x, z = ctx.saved_tensors
        xp = ctx.xp
        zero = z == 0
        upstream = xp.where(zero, 0.0, grad / xp.where(zero, 1.0, 2 * z))
        return _var_grad(ctx, x, upstream), None, None, None


@register(Var, methods=("var",))
def var(
    input: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: int | None = None,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Variance over ``dim``, dividing by n - correction (1 by default, as PyTorch does).

    ``unbiased=False`` is ``correction=0``: NumPy's default. PyTorch's positional forms too:
    ``x.var(0, False, True)`` (dim, unbiased, keepdim) and ``x.var(False)`` (unbiased alone).
    """
    axes, correction = _var_args(input, dim, unbiased, correction, axis, "var")
    return Var.apply(input, axes, correction, keep(keepdim, keepdims))


def _var_args(
    input: Tensor, dim: Any, unbiased: Any, correction: Any, axis: Any, fn: str
) -> tuple[Any, int]:
    """``var``/``std``'s axes and correction from PyTorch's spellings of them."""
    if isinstance(dim, bool):  # x.var(False): PyTorch's (input, unbiased) form
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{fn}: give unbiased or correction, not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    return reduce_axes(dim, axis, input.ndim, fn), correction


@register(Std, methods=("std",))
def std(
    input: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: int | None = None,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Standard deviation: the square root of ``var`` with the same arguments; its gradient is 0
    where every value it spans is equal, as in PyTorch."""
    axes, correction = _var_args(input, dim, unbiased, correction, axis, "std")
    return Std.apply(input, axes, correction, keep(keepdim, keepdims))


def _count(shape: tuple, axes: tuple | None) -> int:
    n = 1
    for k, s in enumerate(shape):
        if axes is None or k in axes:
            n *= s
    return n


class Amax(Function):
    """z = max of x over axes: the max gate routes the gradient to the winner.

    Ties split it evenly between the winners (the weights are 1/count at the maxima, else 0).
    """

    symbol = "max"
    local_grad = "1 if it is the larger, else 0 (ties: 1/2)"
    vjp = ("upstream routed to the maxima (ties split it evenly)",)
    pattern = "max gate routes"

    @staticmethod
    def describe_call(args):
        return _with_dims("max", args)

    on_arrays = True
    reduce = "max"  # the namespace's function

    @classmethod
    def forward(cls, ctx, x, axes, keepdims):
        xp = namespace(x)
        z = getattr(xp, cls.reduce)(x, axis=axes, keepdims=True)
        if ctx.needs_input_grad[0]:
            wins = xp.astype(x == z, x.dtype)
            ctx.save_for_backward(wins / xp.sum(wins, axis=axes, keepdims=True))
        return z if keepdims else xp.reshape(z, _reduced_shape(x.shape, axes))

    @staticmethod
    def backward(ctx, grad):
        (share,) = ctx.saved_tensors
        _, axes, keepdims = ctx.inputs
        return _unreduce(grad, axes, keepdims, share.ndim, ctx.xp) * share, None, None


@register(Amax, methods=("amax",), expression=Expression("max", 1, 1, "max(x): the largest value"))
def amax(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Maximum over ``dim``; the gradient goes to the maxima, split evenly between ties."""
    return Amax.apply(input, reduce_axes(dim, axis, input.ndim, "amax"), keep(keepdim, keepdims))


class Amin(Amax):
    """z = min of x over axes; routes the gradient to the minima, ties split evenly."""

    symbol = "min"
    local_grad = "1 if it is the smaller, else 0 (ties: 1/2)"
    vjp = ("upstream routed to the minima (ties split it evenly)",)
    pattern = "min gate routes"

    @staticmethod
    def describe_call(args):
        return _with_dims("min", args)

    reduce = "min"


@register(Amin, methods=("amin",), expression=Expression("min", 1, 1, "min(x): the smallest value"))
def amin(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Minimum over ``dim``; the gradient goes to the minima, split evenly between ties."""
    return Amin.apply(input, reduce_axes(dim, axis, input.ndim, "amin"), keep(keepdim, keepdims))


def _reduced_shape(shape: tuple, axes: tuple | None) -> tuple:
    if axes is None:
        return ()
    return tuple(s for k, s in enumerate(shape) if k not in axes)


def _kept_shape(shape: tuple, axes: tuple | None) -> tuple:
    """``shape`` with the reduced axes as size 1 (what keepdims=True gives)."""
    return tuple(1 if axes is None or k in axes else s for k, s in enumerate(shape))


class LogSumExp(Function):
    """z = log(sum(e^x)) over axes, computed as m + log(sum(e^(x - m))) with m = max(x).

    dz/dx = e^(x - z), the softmax of x.
    """

    symbol = "logsumexp"
    vjp = ("upstream * softmax(x)",)

    @staticmethod
    def describe_call(args):
        return _with_dims("logsumexp", args)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        xp = namespace(x)
        if _count(x.shape, axes):
            m = xp.max(x, axis=axes, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0.0)  # all -inf: keep x - m finite
        else:  # an empty axis: the sum of no terms is 0, its log -inf
            m = xp.zeros(_kept_shape(x.shape, axes), dtype=x.dtype, device=x.device)
        z = m + xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True))
        if not keepdims:
            z = xp.reshape(z, _reduced_shape(x.shape, axes))
        ctx.save_for_backward(x, z)
        return z

    @staticmethod
    def backward(ctx, grad):
        x, z = ctx.saved_tensors
        _, axes, keepdims = ctx.inputs
        g = _unreduce(grad, axes, keepdims, x.ndim, ctx.xp)
        zk = _unreduce(z, axes, keepdims, x.ndim, ctx.xp)
        return g * ctx.xp.exp(x - zk), None, None


@register(
    LogSumExp,
    methods=("logsumexp",),
    expression=Expression("logsumexp", 1, 2, "log(sum(exp(x)))", dims=(1,)),
)
def logsumexp(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over ``dim``, without overflow for large scores."""
    return LogSumExp.apply(input, reduce_axes(dim, None, input.ndim, "logsumexp"), keepdim)


class Softmax(Function):
    """p = e^x / sum(e^x) along one axis (shifted by the max: stable for scores of 1e4).

    The vector-Jacobian product is p * (g - sum(g * p)), never the Jacobian diag(p) - p p^T.
    """

    symbol = "softmax"
    vjp = ("p * (upstream - sum(upstream * p))",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, axis):
        xp = namespace(x)
        e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
        p = e / xp.sum(e, axis=axis, keepdims=True)
        ctx.save_for_backward(p)
        return p

    @staticmethod
    def backward(ctx, grad):
        (p,) = ctx.saved_tensors
        axis = ctx.inputs[1]
        return p * (grad - ctx.xp.sum(grad * p, axis=axis, keepdims=True)), None


@register(
    Softmax,
    methods=("softmax",),
    expression=Expression("softmax", 1, 2, "softmax(x) or softmax(x, dim)", dims=(1,)),
    functional=True,
)
def softmax(input: Tensor, dim: int = -1) -> Tensor:
    """Softmax along ``dim``: non-negative values that sum to 1 (stable for large scores)."""
    (d,) = reduce_axes(dim, None, input.ndim, "softmax") or (0,)
    return Softmax.apply(input, d)


class LogSoftmax(Function):
    """y = x - logsumexp(x) along one axis. dy/dx applied to g: g - softmax(x) * sum(g)."""

    symbol = "log_softmax"
    vjp = ("upstream - softmax(x) * sum(upstream)",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, axis):
        xp = namespace(x)
        s = x - xp.max(x, axis=axis, keepdims=True)
        y = s - xp.log(xp.sum(xp.exp(s), axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        axis = ctx.inputs[1]
        xp = ctx.xp
        return grad - xp.exp(y) * xp.sum(grad, axis=axis, keepdims=True), None


@register(
    LogSoftmax,
    methods=("log_softmax",),
    expression=Expression("log_softmax", 1, 2, "log(softmax(x))", dims=(1,)),
    functional=True,
)
def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    """Logarithm of the softmax along ``dim``, computed stably (no log of 0 for large scores)."""
    (d,) = reduce_axes(dim, None, input.ndim, "log_softmax") or (0,)
    return LogSoftmax.apply(input, d)


#: What ``max(x, dim)`` and ``min(x, dim)`` return, as in PyTorch.
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _extreme(name: str, reduce: Any, arg: Any, binary: Any) -> Any:
    def extreme(
        input: Tensor,
        dim: Any = None,
        keepdim: bool = False,
        *,
        axis: Any = None,
        keepdims: bool | None = None,
    ) -> Any:
        if isinstance(dim, Tensor):  # max(x, y): elementwise, as torch.max(input, other)
            return binary(input, dim)
        d = dim if dim is not None else axis
        k = keep(keepdim, keepdims)
        if d is None:
            return reduce(input)
        return ValuesIndices(reduce(input, d, k), arg(input, d, k))

    extreme.__name__ = name
    extreme.__doc__ = (
        f"The {name}imum of all values, or with ``dim`` a ``(values, indices)`` pair along it, as "
        f"in PyTorch. The gradient goes to the {name}ima, split evenly between ties. With a tensor "
        f"as second argument, the elementwise {name}imum."
    )
    return extreme


@register(ValueFunction, methods=("argmax",))
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (of the flattened tensor when ``dim`` is None); no gradient."""
    return _arg("argmax", input, dim, keepdim)


@register(ValueFunction, methods=("argmin",))
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the minimum; no gradient."""
    return _arg("argmin", input, dim, keepdim)


def _arg(name: str, input: Tensor, dim: Any, keepdim: bool) -> Tensor:
    axes = None if dim is None else reduce_axes(dim, None, input.ndim, name)
    return values(_arg_values, input, name, axes, keepdim)


def _arg_values(data: Any, name: str, axes: tuple | None, keepdim: bool) -> Any:
    """argmax or argmin of an array: of the flattened array (``axes`` None), along the one axis
    in ``axes``, or 0 for a 0-d array (``axes`` empty); int64."""
    xp = namespace(data)
    if axes is None:
        out = xp.asarray(getattr(xp, name)(data))  # NumPy returns a scalar
        if keepdim:
            out = xp.reshape(out, (1,) * data.ndim)
    elif not axes:  # a 0-d tensor: its one value is at index 0
        out = xp.zeros((), dtype=xp.int64, device=data.device)
    else:
        out = xp.asarray(getattr(xp, name)(data, axis=axes[0], keepdims=keepdim))
    return xp.astype(out, xp.int64, copy=False)


max = register(Amax, Maximum, methods=("max",))(_extreme("max", amax, argmax, maximum))  # noqa: A001
min = register(Amin, Minimum, methods=("min",))(_extreme("min", amin, argmin, minimum))  # noqa: A001


class Cumsum(Function):
    """z_i = x_0 + x_1 + ... + x_i along an axis. dz_i/dx_j = 1 for j <= i, so each x_j
    receives the sum of the upstream gradients from j to the end: backward is the cumulative
    sum of the upstream taken from the other end."""

    symbol = "cumsum"
    vjp = ("upstream summed from the end (a cumulative sum, reversed)",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, axis):
        xp = namespace(x)
        if x.ndim == 0:
            return xp.asarray(x, copy=True)
        scan = getattr(xp, "cumulative_sum", None)
        return scan(x, axis=axis) if scan is not None else xp.cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        axis = ctx.inputs[1]
        if grad.ndim == 0:
            return grad, None
        return call(Flip, call(Cumsum, call(Flip, grad, (axis,)), axis), (axis,)), None


def _accumulating(input: Tensor, dtype: Any) -> Tensor:
    """The input of a running sum or a product: cast to ``dtype`` when given, else integers and
    bools as int64 (PyTorch's accumulation type for them), floats as they are."""
    if dtype is not None:
        return cast(input, canonical_dtype(dtype))
    if not is_floating(input._data.dtype) and input.dtype != dtypes.int64:
        return cast(input, dtypes.int64)
    return input


@register(Cumsum, methods=("cumsum",))
def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """The running sum along ``dim``. Integers and bools sum as int64, as in PyTorch (unless
    ``dtype`` is given: the input is cast to it first)."""
    input = _accumulating(input, dtype)
    return Cumsum.apply(input, normalize_dim(dim, input.ndim, "cumsum"))


def _order(data: Any, axis: int, descending: bool) -> Any:
    """The stable arg-sort of an array along ``axis`` (int64): equal values keep their order,
    in either direction, and NaN sorts as the largest, as PyTorch's stable sort. Descending is
    the ascending sort of the reversed array, reversed back."""
    xp = namespace(data)
    if data.ndim == 0:
        return xp.zeros((), dtype=xp.int64, device=data.device)
    if not descending:
        return xp.astype(xp.argsort(data, axis=axis, stable=True), xp.int64, copy=False)
    n = data.shape[axis]
    up = xp.argsort(xp.flip(data, axis=axis), axis=axis, stable=True)
    return xp.astype((n - 1) - xp.flip(up, axis=axis), xp.int64, copy=False)


@register(ValueFunction, methods=("argsort",))
def argsort(
    input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False
) -> Tensor:
    """The indices that sort ``input`` along ``dim``; no gradient. The sort is stable (equal
    values keep their order) whatever ``stable`` says, as PyTorch's may be."""
    return values(_order, input, normalize_dim(dim, input.ndim, "argsort"), bool(descending))


@register(Index, methods=("sort",))
def sort(
    input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False
) -> ValuesIndices:
    """``(values, indices)``: ``input`` sorted along ``dim`` and where each value came from.
    The values are ``input`` gathered at the indices, so the gradient of each goes back to the
    place it came from."""
    indices = argsort(input, dim, descending)
    if input.ndim == 0:
        return ValuesIndices(input.clone(), indices)
    return ValuesIndices(gather(input, dim, indices), indices)


@register(Index, methods=("topk",))
def topk(
    input: Tensor,
    k: int,
    dim: int = -1,
    largest: bool = True,
    sorted: bool = True,  # noqa: A002
) -> ValuesIndices:
    """``(values, indices)`` of the ``k`` largest values along ``dim`` (the smallest with
    ``largest=False``), in order; the gradient of each value goes back to where it came from."""
    d = normalize_dim(dim, input.ndim, "topk")
    size = input.shape[d] if input.ndim else 1
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= size:
        raise RuntimeError(f"topk: k must be an int in [0, {size}] for dimension {d}; got {k!r}")
    order = argsort(input, d, largest)
    if input.ndim == 0:
        return ValuesIndices(input.clone(), order) if k else ValuesIndices(input[None][:0], order)
    indices = order[(slice(None),) * d + (slice(0, k),)]
    return ValuesIndices(gather(input, d, indices), indices)


def _truth(name: str) -> Any:
    def truth(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
        axes = None if dim is None else reduce_axes(dim, None, input.ndim, name)
        return values(_truth_values, input, name, axes, bool(keepdim))

    truth.__name__ = name
    truth.__doc__ = (
        f"Whether {'every' if name == 'all' else 'any'} value is true (non-zero) over ``dim`` "
        "(an int, a tuple, or None for all); bool, or uint8 for a uint8 input, as in PyTorch."
    )
    return truth


def _truth_values(data: Any, name: str, axes: tuple | None, keepdim: bool) -> Any:
    xp = namespace(data)
    out = getattr(xp, name)(data, axis=axes, keepdims=keepdim)
    out = xp.asarray(out)
    return xp.astype(out, data.dtype) if data.dtype == xp.uint8 else out


all = register(ValueFunction, methods=("all",))(_truth("all"))  # noqa: A001
any = register(ValueFunction, methods=("any",))(_truth("any"))  # noqa: A001


class VectorNorm(Function):
    """z = (sum over axes of |x|^p)^(1/p); p = inf the largest |x|, -inf the smallest, 0 the
    count of non-zeros. dz/dx = sign(x) |x|^(p-1) / z^(p-1): x / z for p = 2, sign(x) for p = 1,
    sign(x) at the extreme |x| (shared among ties) for p = +-inf, 0 for p = 0, and 0 wherever
    z = 0 (x is 0 there), as PyTorch's."""

    symbol = "norm"
    vjp = ("upstream * sign(x) |x|^(p-1) / norm^(p-1)",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, p, axes, keepdims):
        xp = namespace(x)
        a = xp.abs(x)
        if p == math.inf:
            n = xp.max(a, axis=axes, keepdims=True)
        elif p == -math.inf:
            n = xp.min(a, axis=axes, keepdims=True)
        elif p == 0:
            n = xp.sum(xp.astype(x != 0, x.dtype), axis=axes, keepdims=True)
        elif p == 1:
            n = xp.sum(a, axis=axes, keepdims=True)
        elif p == 2:
            n = xp.sqrt(xp.sum(x * x, axis=axes, keepdims=True))
        else:
            n = xp.sum(a**p, axis=axes, keepdims=True) ** (1.0 / p)
        out = n if keepdims else xp.reshape(n, _reduced_shape(x.shape, axes))
        ctx.save_for_backward(x, out)  # the output itself: under create_graph, a function of x
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        p, axes = ctx.inputs[1], ctx.inputs[2]
        xp = ctx.xp
        kept = tuple(1 if axes is None or i in axes else k for i, k in enumerate(x.shape))
        n, g = xp.reshape(out, kept), xp.reshape(grad, kept)
        if p == 0:
            return xp.zeros(x.shape, dtype=x.dtype, device=x.device), None, None, None
        if p == 1:
            return g * xp.sign(x), None, None, None
        if p in (math.inf, -math.inf):
            at = xp.astype(xp.abs(x) == n, x.dtype)
            return g * xp.sign(x) * at / xp.sum(at, axis=axes, keepdims=True), None, None, None
        safe = xp.where(n == 0, 1.0, n)
        if p == 2:
            return g * x / safe, None, None, None
        scale = xp.abs(x) ** (p - 1) / safe ** (p - 1)
        return g * xp.sign(x) * scale, None, None, None


def _reduced_shape(shape: tuple, axes: tuple | None) -> tuple:
    return () if axes is None else tuple(n for i, n in enumerate(shape) if i not in axes)


@register(VectorNorm, methods=("norm",))
def norm(
    input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """The vector p-norm over ``dim`` (an int, a tuple, or None for all), as PyTorch's
    ``norm``: p a number (inf, -inf and 0 included) or "fro" (the 2-norm of the values).
    Its gradient at a zero norm is 0, as PyTorch's (x / |x| there would be 0 / 0)."""
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str) or isinstance(p, bool) or not isinstance(p, (int, float)):
        raise ValueError(f"norm: p must be a number or 'fro'; got {p!r} (matrix norms: no)")
    if dtype is not None:
        input = cast(input, canonical_dtype(dtype))
    elif not is_floating(input._data.dtype):
        raise RuntimeError(f"norm: expected a floating point tensor; got {input.dtype}")
    axes = reduce_axes(dim, None, input.ndim, "norm")
    return VectorNorm.apply(input, float(p), axes, bool(keepdim))


class Prod(Function):
    """z = the product of x over an axis (of every value when axis is None). dz/dx_i = the
    product of the other values: the product of those before i times those after it, two
    cumulative products and no division, so a zero among them is exact (as PyTorch's)."""

    symbol = "prod"
    vjp = ("upstream * the product of the others",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, axis, keepdim):
        ctx.save_for_backward(x)
        z = namespace(x).prod(x, axis=axis, keepdims=keepdim)
        return namespace(x).asarray(z)  # NumPy hands a product over everything back as a scalar

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        axis = ctx.inputs[1]
        xp = ctx.xp
        kept = tuple(1 if axis is None or i == axis else n for i, n in enumerate(x.shape))
        flat = axis is None
        values = xp.reshape(x, (-1,)) if flat else x
        others = _others(xp, values, 0 if flat else axis)
        others = xp.reshape(others, x.shape) if flat else others
        return xp.reshape(grad, kept) * others, None, None


def _others(xp: Any, x: Any, axis: int) -> Any:
    """For each place along ``axis``, the product of the other values there."""
    if isinstance(x, Tensor):  # create_graph: the products of the rows of a matrix with a 1 on
        # its diagonal, so that the result is differentiated through prod again
        n = x.shape[axis]
        rows = (
            movedim(x, axis, -1).unsqueeze(-2).expand(*x.shape[:axis], *x.shape[axis + 1 :], n, n)
        )
        data = x._data
        eye = namespace(data).eye(n, dtype=namespace(data).bool, device=data.device)
        return movedim(where(eye, 1.0, rows).prod(-1), -1, axis)
    return _before(xp, x, axis) * xp.flip(_before(xp, xp.flip(x, axis=axis), axis), axis=axis)


def _before(xp: Any, x: Any, axis: int) -> Any:
    """The product of the values before each place along ``axis`` (1 for the first)."""
    n = x.shape[axis]
    scan = getattr(xp, "cumulative_prod", None)
    if scan is not None:
        running = scan(x, axis=axis, include_initial=True)
    else:
        ones = xp.ones(x.shape[:axis] + (1,) + x.shape[axis + 1 :], dtype=x.dtype)
        running = xp.concat([ones, xp.cumprod(x, axis=axis)], axis=axis)
    return running[(slice(None),) * axis + (slice(0, n),)]


@register(Prod, methods=("prod",))
def prod(
    input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """The product of the values along ``dim`` (of all of them when None). Integers and bools
    multiply as int64, as in PyTorch (unless ``dtype`` is given: the input is cast first)."""
    input = _accumulating(input, dtype)
    axis = None if dim is None else normalize_dim(dim, input.ndim, "prod")
    if input.ndim == 0:
        axis = None
    return Prod.apply(input, axis, bool(keepdim) and axis is not None)


def _count_nonzero(data: Any, axes: Any) -> Any:
    xp = namespace(data)
    return xp.astype(xp.asarray(xp.count_nonzero(data, axis=axes)), xp.int64)


@register(ValueFunction, methods=("count_nonzero",))
def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """How many values are not zero, over ``dim`` (an int, a tuple, or None for all); int64."""
    axes = None if dim is None else reduce_axes(dim, None, input.ndim, "count_nonzero")
    return values(_count_nonzero, input, axes)


def _nonzero(data: Any) -> Any:
    xp = namespace(data)
    places = xp.nonzero(data if data.ndim else xp.reshape(data, (1,)))
    columns = [xp.astype(p, xp.int64) for p in places]
    if not data.ndim:  # a 0-d tensor: PyTorch gives (n, 0)
        return xp.zeros((int(columns[0].shape[0]), 0), dtype=xp.int64, device=data.device)
    return xp.stack(columns, axis=-1)


@register(ValueFunction, methods=("nonzero",))
def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """The indices of the values that are not zero: an (n, ndim) int64 tensor, one row per
    value, in row-major order; with ``as_tuple``, one 1-d tensor per dimension (to index with,
    as NumPy's ``nonzero``)."""
    where = values(_nonzero, input)
    if not as_tuple:
        return where
    if input.ndim == 0:
        return (where.reshape(-1)[:0] if not bool(input) else values(_one_zero, input),)
    return tuple(where[:, k] for k in range(input.ndim))


def _one_zero(data: Any) -> Any:
    return namespace(data).zeros((1,), dtype=namespace(data).int64, device=data.device)


def _unique(data: Any, inverse: bool, counts: bool) -> Any:
    xp = namespace(data)
    flat = xp.reshape(data, (-1,))
    if not (inverse or counts):
        return xp.sort(xp.unique_values(flat))
    found = xp.unique_all(flat)
    order = xp.argsort(found.values)  # the standard does not promise sorted values (NumPy's are)
    rank = xp.argsort(order)  # each found value's place among the sorted ones
    out = [found.values[order]]
    if inverse:
        out.append(xp.astype(xp.reshape(rank[found.inverse_indices], data.shape), xp.int64))
    if counts:
        out.append(xp.astype(found.counts[order], xp.int64))
    return tuple(out)


@register(ValueFunction, methods=("unique",))
def unique(
    input: Tensor,
    sorted: bool = True,  # noqa: A002 - PyTorch's name
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The distinct values, in ascending order (``sorted=False`` gives them so too); with
    ``return_inverse`` also where each value of the input is among them (input's shape), with
    ``return_counts`` how often each occurs. No gradient."""
    if dim is not None:
        raise NotImplementedError(
            "unique: dim= (distinct slices) is not supported; use dim=None (distinct values)"
        )
    return values(_unique, input, bool(return_inverse), bool(return_counts))


def _bincount(data: Any, weights: Any, minlength: int) -> Any:
    xp = namespace(data)
    if data.ndim != 1 or (data.shape[0] and int(xp.min(data)) < 0):
        raise RuntimeError("bincount: expected a 1-d tensor of non-negative integers")
    size = builtins.max(int(xp.max(data)) + 1 if data.shape[0] else 0, minlength)
    dtype = xp.int64 if weights is None else weights.dtype
    add = xp.ones(data.shape, dtype=dtype, device=data.device) if weights is None else weights
    return xp.scatter_add(xp.zeros((size,), dtype=dtype, device=data.device), data, add)


@register(ValueFunction, methods=("bincount",))
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """How many times each of 0, 1, ..., max(input) occurs in the 1-d integer ``input`` (at
    least ``minlength`` counts); with ``weights``, their sums instead. No gradient."""
    if input.dtype.kind not in "iu":
        raise RuntimeError(f"bincount: expected an integer tensor; got {input.dtype}")
    return values(_bincount, input, weights, int(minlength))
