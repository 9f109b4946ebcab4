"""Pooling: the largest or the mean value of each window of an image, on the window view.

Both read the windows as a strided view of the input (``conv.windows``, no copy) and send the
gradient back with ``fold`` (col2im), which adds up where windows overlap. Max pooling is the
lecture's max gate once per window: the whole gradient goes to the window's largest value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from ..autograd.function import Function, call
from ..autograd.tensor import Tensor
from ..backend import namespace
from ._registry import register
from .conv import (
    _SHAPES,
    Fold,
    Padding,
    Pair,
    batch_innermost,
    batch_to_last,
    fold_offsets,
    pad_image,
    sizes,
    windows,
)
from .elementwise import ValueFunction, values


def _pool_geometry(
    size: Pair, kernel: Pair, stride: Pair, pad: Pair, dilation: Pair, ceil_mode: bool, op: str
) -> tuple[Pair, Padding]:
    """(Ho, Wo) and the padding pairs of a pooling, PyTorch's rules included.

    With ``ceil_mode`` a last, partial window is kept when it starts inside the image or its
    left padding; the padding pairs then grow on the bottom/right to hold it.
    """
    out, pads = [], []
    for s, k, st, p, d in zip(size, kernel, stride, pad, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise ValueError(
                f"{op}: padding should be at most half of the effective kernel size; got "
                f"padding {pad} for kernel_size {kernel} and dilation {dilation}"
            )
        span = s + 2 * p - d * (k - 1) - 1
        if span < 0:
            raise ValueError(
                f"{op}: the kernel {kernel} (dilation {dilation}) is larger than the padded "
                f"input {tuple(size)} with padding {pad}"
            )
        n = (-(-span // st) if ceil_mode else span // st) + 1
        if ceil_mode and (n - 1) * st >= s + p:  # the last window would start in the padding
            n -= 1
        extra = max(0, (n - 1) * st + d * (k - 1) + 1 - (s + 2 * p))
        out.append(n)
        pads.append((p, p + extra))
    return tuple(out), tuple(pads)


def _columns(cols6: Any, xp_: Any) -> Any:
    """(N, C, Ho, Wo, kh, kw) window values -> fold's (N, C*kh*kw, Ho*Wo) layout."""
    n, c, ho, wo, kh, kw = cols6.shape
    return xp_.reshape(xp_.permute_dims(cols6, (0, 1, 4, 5, 2, 3)), (n, c * kh * kw, ho * wo))


class MaxPool2d(Function):
    """y = the largest value of each window. dy/dx = 1 at the window's arg-max, else 0.

    The lecture's max gate on every window: backward routes each window's gradient to the one
    input that won it (the first of equal winners, in the window's row-major order, as
    PyTorch's), and adds where overlapping windows share a winner. NaN wins (the last NaN of a
    window, as in PyTorch).
    """

    symbol = "max_pool2d"
    local_grad = "1 at the window's max, else 0"
    vjp = ("upstream routed to each window's arg-max, folded back (col2im)",)
    pattern = "max gate routes"

    on_arrays = True

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation):
        v = windows(pad_image(x, padding, -float("inf")), kernel, stride, dilation)
        best, idx = _window_argmax(v, need_index=ctx.needs_input_grad[0])
        if idx is None:
            return best
        ctx.save_for_backward(idx)  # an index: its own derivative is zero
        return best

    @staticmethod
    def backward(ctx, grad):
        (idx,) = ctx.saved_tensors
        x, kernel, stride, padding, dilation = ctx.inputs
        n, c, ho, wo = idx.shape
        kh, kw = kernel
        h, w = x.shape[2:]
        xp = namespace(idx)
        if not isinstance(grad, Tensor):  # first order: fold each offset's share as it is made
            # folded in the memory order of the windows' winners, which is x's: (C, H, W, N)
            # where a convolution made x, so that the gradient reaches the ops before in their
            # own order (a ReLU's mask, the convolution's G) and none of them reads it strided
            last = batch_innermost(idx)
            if last:
                g = xp.reshape(batch_to_last(grad), (c, ho, wo, n))  # free if it is so already
                at = xp.permute_dims(idx, (1, 2, 3, 0))
            else:
                g, at = grad, idx
            if xp.all(xp.isfinite(g)):  # finite g times 0 is 0: where()'s values, faster

                def share(i: int, j: int) -> Any:
                    return g * xp.astype(at == i * kw + j, g.dtype)
            else:

                def share(i: int, j: int) -> Any:
                    return xp.where(at == i * kw + j, g, xp.zeros_like(g))

            if not last:
                gx = fold_offsets(share, g, (n, c), (h, w), kernel, dilation, padding, stride)
                return gx, None, None, None, None
            gx = fold_offsets(share, g, (c,), (h, w), kernel, dilation, padding, stride, (n,))
            return xp.permute_dims(gx, (3, 0, 1, 2)), None, None, None, None
        # recorded (create_graph): the same routing as ops, so that it is differentiable in g
        offsets = xp.reshape(xp.arange(kh * kw, dtype=idx.dtype, device=idx.device), (-1, 1, 1))
        won = idx[:, :, None, ...] == offsets  # (N, C, kh*kw, Ho, Wo): fold's column layout
        routed = ctx.xp.where(won, ctx.xp.reshape(grad, (n, c, 1, ho, wo)), 0.0)
        cols = ctx.xp.reshape(routed, (n, c * kh * kw, ho * wo))
        return call(Fold, cols, (h, w), kernel, dilation, padding, stride), None, None, None, None


def _window_argmax(v: Any, need_index: bool = True) -> tuple[Any, Any]:
    """The largest value of each window of a window view (N, C, Ho, Wo, kh, kw) and its offset
    in the window (row-major): the first of equal winners, as PyTorch's kernel picks it
    (``val > best or isnan(val)``), so the last NaN where a window holds one.

    A loop over the kh*kw offsets inside a window, never over positions, each reading one
    strided view of the image (no copy of the windows): the max is the running maximum over
    the offsets, and the winner's offset is the number of offsets before the first that equals
    it (a running "not yet won" mask, summed), all on arrays of the output's size.
    """
    kh, kw = v.shape[4:]
    k = kh * kw
    xp = namespace(v)
    at = [v[:, :, :, :, i, j] for i in range(kh) for j in range(kw)]
    if k == 1:
        best = xp.asarray(at[0], copy=True)
    else:
        best = xp.maximum(at[0], at[1])  # NaN propagates, as max does
        for a in at[2:]:
            best = xp.maximum(best, a)
    if not need_index:
        return best, None
    dtype = xp.uint8 if k <= 256 else xp.int64
    idx = xp.zeros_like(best, dtype=dtype)  # in best's memory order (NumPy keeps it)
    alive = None  # the windows whose winner comes later than the offsets seen
    for a in at[:-1]:
        alive = a != best if alive is None else alive & (a != best)
        idx = idx + xp.astype(alive, dtype)
    nan = best != best
    if xp.any(nan):  # NaN equals nothing: the winner is the window's last NaN
        for i in range(k):
            idx = xp.where(nan & (at[i] != at[i]), xp.asarray(i, dtype=dtype, device=v.device), idx)
    return best, idx


class _Pooling(NamedTuple):
    """A pooling's arguments, checked for ``dims`` spatial axes and then given as the 2-d
    op's (a sequence is an image one row high): x (N, C, H, W), window, stride, padding pairs
    as ``_pool_geometry`` grew them, dilation, the padding asked for, and whether the input
    was one example without its batch axis."""

    x: Tensor
    kernel: Pair
    stride: Pair
    pads: Padding
    dilation: Pair
    pad: Pair
    one: bool
    dims: int

    def output(self, out: Tensor) -> Tensor:
        """The 2-d op's (N, C, Ho, Wo) result in the input's own form."""
        if self.dims == 1:
            out = out.squeeze(2)
        return out.squeeze(0) if self.one else out


def _pooling(
    input: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    op: str,
    dims: int,
) -> _Pooling:
    """A pooling's arguments checked for ``dims`` spatial axes (1: (N, C, L), 2: images),
    PyTorch's rules for the default stride and ``ceil_mode`` included."""
    kernel = sizes(kernel_size, "kernel_size", op, dims)
    # PyTorch's default stride is the window; it spells it None, or an empty list
    default = stride is None or (isinstance(stride, (tuple, list)) and not stride)
    st = kernel if default else sizes(stride, "stride", op, dims)
    pad = sizes(padding, "padding", op, dims, minimum=0)
    dil = sizes(dilation, "dilation", op, dims)
    if input.ndim not in (dims + 1, dims + 2):
        batch, one_shape = _SHAPES[dims][:2]
        raise ValueError(f"{op}: expected input of shape {batch} or {one_shape}; got {input.shape}")
    one = input.ndim == dims + 1
    x = input.unsqueeze(0) if one else input
    _, pads = _pool_geometry(tuple(x.shape[2:]), kernel, st, pad, dil, ceil_mode, op)
    if dims == 1:  # one row high
        x = x.unsqueeze(2)
        kernel, st, pads, dil, pad = (1, *kernel), (1, *st), ((0, 0), *pads), (1, *dil), (0, *pad)
    return _Pooling(x, kernel, st, pads, dil, pad, one, dims)  # type: ignore[arg-type]


@register(MaxPool2d, ValueFunction, functional=True)
def max_pool2d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The largest value of each window, as PyTorch's ``F.max_pool2d``.

    Args:
        input: (N, C, H, W), or (C, H, W) for one image.
        kernel_size: the window, an int or (height, width).
        stride: the step between windows; None (the default) steps by the window.
        padding: -inf around the image (at most half the window).
        dilation: the spacing of a window's elements.
        ceil_mode: keep a last, partial window at the bottom and right.
        return_indices: also return, for each output, the index of its winner in the flattened
            (H, W) of the input (as PyTorch's, for ``max_unpool2d``).

    Returns:
        (N, C, Ho, Wo); (values, indices) with ``return_indices``.

    Example:
        >>> F.max_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]], dtype=float32)
    """
    pool = _pooling(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d", 2)
    return _max_pool(pool, return_indices)


@register(MaxPool2d, ValueFunction, functional=True)
def max_pool1d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The largest value of each window of a sequence, as PyTorch's ``F.max_pool1d``: the
    2-d max-pool of a sequence one row high (the same op, forward and backward).

    Args:
        input: (N, C, L), or (C, L) for one sequence.
        kernel_size: the window, an int.
        stride: the step between windows; None (the default) steps by the window.
        padding: -inf at both ends (at most half the window).
        dilation: the spacing of a window's elements.
        ceil_mode: keep a last, partial window at the end.
        return_indices: also return, for each output, the index of its winner in L.

    Returns:
        (N, C, Lo); (values, indices) with ``return_indices``.

    Example:
        >>> F.max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 5.0]]]), 2)
        tensor([[[3., 5.]]], dtype=float32)
    """
    pool = _pooling(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool1d", 1)
    return _max_pool(pool, return_indices)


def _max_pool(pool: _Pooling, return_indices: bool) -> Any:
    out = MaxPool2d.apply(pool.x, pool.kernel, pool.stride, pool.pads, pool.dilation)
    if not return_indices:
        return pool.output(out)
    args = (pool.kernel, pool.stride, pool.pads, pool.dilation)
    return pool.output(out), pool.output(values(_winners, pool.x, *args))


def _winners(x: Any, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair) -> Any:
    """The flat (H*W) index of each window's winner, as PyTorch's ``return_indices`` gives."""
    xp = namespace(x)
    v = windows(pad_image(x, padding, -float("inf")), kernel, stride, dilation)
    kw = kernel[1]
    _, k = _window_argmax(v)
    k = xp.astype(k, xp.int64)
    ho, wo = v.shape[2:4]
    at = {"dtype": xp.int64, "device": x.device}
    rows = xp.arange(ho, **at)[:, None] * stride[0] - padding[0][0] + (k // kw) * dilation[0]
    cols = xp.arange(wo, **at)[None, :] * stride[1] - padding[1][0] + (k % kw) * dilation[1]
    return rows * x.shape[3] + cols


class AvgPool2d(Function):
    """y = the mean of each window: its sum over a divisor. dy/dx = 1 / divisor for every input
    of the window.

    The divisor is the window's size, or with ``count_include_pad=False`` the number of its
    elements inside the image, or ``divisor_override``; backward spreads each window's gradient
    evenly over it and folds the windows back, adding where they overlap.
    """

    symbol = "avg_pool2d"
    local_grad = "1 / window size"
    vjp = ("upstream / divisor spread over each window, folded back (col2im)",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, divisor):
        v = windows(pad_image(x, padding), kernel, stride, (1, 1))
        # the window's values added in row-major order, an offset at a time (the same order
        # whatever x's memory order); a float divisor, or an array of x's dtype: the quotient
        # keeps x's dtype
        total = namespace(x).asarray(v[..., 0, 0], copy=True)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                if i or j:
                    total += v[..., i, j]
        return total / divisor

    @staticmethod
    def backward(ctx, grad):
        x, kernel, stride, padding, divisor = ctx.inputs
        n, c, ho, wo = grad.shape
        kh, kw = kernel
        share = ctx.xp.expand_dims(grad / divisor, (-2, -1))
        spread = ctx.xp.broadcast_to(share, (n, c, ho, wo, kh, kw))
        cols = _columns(spread, ctx.xp)
        size = tuple(x.shape[2:])
        return call(Fold, cols, size, kernel, (1, 1), padding, stride), None, None, None, None


def _divisor(
    size: Pair,
    kernel: Pair,
    stride: Pair,
    pad: Pair,
    padding: Padding,
    count_include_pad: bool,
    divisor_override: int | None,
    like: Any,
) -> Any:
    """The divisor of each window: a number where all windows share one, else (Ho, Wo) counts."""
    if divisor_override is not None:
        return float(divisor_override)
    (pt, pb), (pl, pr) = padding
    if (pb, pr) == pad and (count_include_pad or pad == (0, 0)):
        return float(kernel[0] * kernel[1])  # every window lies inside the padded image
    # count, per window, the elements that count: the image (and its padding, if included),
    # never the bottom/right overhang that ceil_mode adds
    xp = namespace(like)
    shape = (1, 1, size[0] + pt + pb, size[1] + pl + pr)
    inside = xp.zeros(shape, dtype=like.dtype, device=like.device)
    if count_include_pad:
        inside[..., : size[0] + 2 * pad[0], : size[1] + 2 * pad[1]] = 1.0
    else:
        inside[..., pt : pt + size[0], pl : pl + size[1]] = 1.0
    return xp.sum(windows(inside, kernel, stride, (1, 1)), axis=(4, 5))[0, 0, ...]


@register(AvgPool2d, functional=True)
def avg_pool2d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each window, as PyTorch's ``F.avg_pool2d``.

    Args:
        input: (N, C, H, W), or (C, H, W) for one image.
        kernel_size: the window, an int or (height, width).
        stride: the step between windows; None (the default) steps by the window.
        padding: zeros around the image (at most half the window).
        ceil_mode: keep a last, partial window at the bottom and right.
        count_include_pad: count the padding's zeros in a window's mean.
        divisor_override: divide every window's sum by this instead.

    Returns:
        (N, C, Ho, Wo).

    Example:
        >>> F.avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5,  4.5],
                  [10.5, 12.5]]]], dtype=float32)
    """
    op = "avg_pool2d"
    if divisor_override is not None and (
        not isinstance(divisor_override, int) or divisor_override < 1
    ):
        raise ValueError(f"{op}: divisor_override must be a positive int; got {divisor_override!r}")
    pool = _pooling(input, kernel_size, stride, padding, 1, ceil_mode, op, 2)
    return _avg_pool(pool, count_include_pad, divisor_override)


@register(AvgPool2d, functional=True)
def avg_pool1d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean of each window of a sequence, as PyTorch's ``F.avg_pool1d``: the 2-d
    average pool of a sequence one row high.

    Args:
        input: (N, C, L), or (C, L) for one sequence.
        kernel_size: the window, an int.
        stride: the step between windows; None (the default) steps by the window.
        padding: zeros at both ends (at most half the window).
        ceil_mode: keep a last, partial window at the end.
        count_include_pad: count the padding's zeros in a window's mean.

    Returns:
        (N, C, Lo).

    Example:
        >>> F.avg_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 6.0]]]), 2)
        tensor([[[2., 4.]]], dtype=float32)
    """
    pool = _pooling(input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool1d", 1)
    return _avg_pool(pool, count_include_pad, None)


def _avg_pool(pool: _Pooling, count_include_pad: bool, divisor_override: int | None) -> Tensor:
    x, kernel, st, pads = pool.x, pool.kernel, pool.stride, pool.pads
    size = tuple(x.shape[2:])
    divisor = _divisor(
        size, kernel, st, pool.pad, pads, count_include_pad, divisor_override, x._data
    )
    return pool.output(AvgPool2d.apply(x, kernel, st, pads, divisor))
