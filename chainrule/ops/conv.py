"""Convolution: a strided window view of the input (im2col) and one matrix product.

Images are NCHW, as in PyTorch: (batch, channels, height, width). A 2-d convolution slides a
(C, kh, kw) filter over the image; at every output position it takes the dot product of the
filter with the window below it. Written as a matrix product: the windows, laid side by side as
columns, form ``im2col(x)`` of shape (N, C*kh*kw, Ho*Wo) (PyTorch's ``F.unfold``), and

    y = W @ im2col(x)        W: (O, C*kh*kw), y: (N, O, Ho*Wo)

The columns come from a view of ``x`` whose strides step over windows and over the positions
inside a window (no Python loop over positions); copying that view into one array is im2col.
Backward is matrix products too: dL/dW = dL/dy @ im2col(x)^T, and dL/dx folds the columns
``W^T @ dL/dy`` back onto the image, adding where windows overlap (``col2im``, ``F.fold``).
Unfold and fold are each other's backward, both linear, so second derivatives come for free.

Padding is kept as ((top, bottom), (left, right)) inside: PyTorch's ``padding="same"`` with an
even kernel and pooling's ``ceil_mode`` pad one side more than the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..autograd.function import Function, call, memory_owner
from ..autograd.tensor import Tensor
from ..backend import namespace
from ._registry import register

Pair = tuple[int, int]
Padding = tuple[Pair, Pair]


def pair(value: Any, name: str, op: str, minimum: int = 1) -> Pair:
    """``3`` or ``(3, 3)`` as (3, 3); a ValueError naming ``op`` and ``name`` otherwise."""
    return sizes(value, name, op, 2, minimum)  # type: ignore[return-value]


def sizes(value: Any, name: str, op: str, dims: int, minimum: int = 1) -> tuple[int, ...]:
    """An int, or ``dims`` of them, as a tuple of ``dims`` ints (one per spatial axis: 1 for
    the 1-d ops, 2 for images); a ValueError naming ``op`` and ``name`` otherwise."""
    values = (value,) * dims if not isinstance(value, (tuple, list)) else tuple(value)
    what = "a pair of ints" if dims == 2 else f"a sequence of {dims} int"
    if len(values) != dims:
        raise ValueError(f"{op}: {name} must be an int or {what}; got {value!r}")
    try:
        out = tuple(int(v.__index__()) for v in values)
    except (AttributeError, TypeError):
        raise ValueError(f"{op}: {name} must be an int or {what}; got {value!r}") from None
    if min(out) < minimum:
        raise ValueError(f"{op}: {name} must be at least {minimum}; got {value!r}")
    return out


def output_size(size: int, kernel: int, stride: int, pad: Pair, dilation: int) -> int:
    """Positions a window of ``kernel`` (spread by ``dilation``) takes along one side: PyTorch's
    floor((size + pads - dilation (kernel - 1) - 1) / stride) + 1."""
    return (size + pad[0] + pad[1] - dilation * (kernel - 1) - 1) // stride + 1


def pad_image(x: Any, padding: Padding, value: float = 0.0) -> Any:
    """(N, C, H, W) with ``value`` around it: ((top, bottom), (left, right)) rows and columns.

    A fresh array filled with ``value`` and the image assigned into its middle (the standard
    has no ``pad``); ``x`` itself when there is no padding.
    """
    if padding == ((0, 0), (0, 0)):
        return x
    xp = namespace(x)
    n, c, h, w = x.shape
    (pt, pb), (pl, pr) = padding
    if batch_innermost(x):  # padded in the same memory order: (C, H, W, N)
        out = xp.full((c, h + pt + pb, w + pl + pr, n), value, dtype=x.dtype, device=x.device)
        out[:, pt : pt + h, pl : pl + w, :] = xp.permute_dims(x, (1, 2, 3, 0))
        return xp.permute_dims(out, (3, 0, 1, 2))
    out = xp.full((n, c, h + pt + pb, w + pl + pr), value, dtype=x.dtype, device=x.device)
    out[:, :, pt : pt + h, pl : pl + w] = x
    return out


def batch_innermost(x: Any) -> bool:
    """Whether an (N, ...) array is a view of an (..., N) one in C order: the batch innermost in
    memory, as a convolution leaves its output (``Conv2d``). Never so for one image, or where
    the array module shows no memory (array-api-strict)."""
    xp = namespace(x)
    return (
        x.shape[0] > 1
        and not xp.in_c_order(x)
        and xp.in_c_order(xp.permute_dims(x, (*range(1, x.ndim), 0)))
    )


def windows(x: Any, kernel: Pair, stride: Pair, dilation: Pair, batch_last: bool = False) -> Any:
    """The sliding windows of an (N, C, H, W) array as a read-only view (N, C, Ho, Wo, kh, kw).

    No copy: the view's strides step ``stride`` rows (columns) from one window to the next and
    ``dilation`` rows (columns) inside a window. With ``batch_last`` the array is given as
    (C, H, W, N) and the view is (C, kh, kw, Ho, Wo, N): a window's row of Wo positions is then
    Wo*N values in a row of memory (with stride 1). An (N, C, H, W) array whose batch is
    innermost in memory (``batch_innermost``) is read that way too, and its view is the same
    (N, C, Ho, Wo, kh, kw) windows.
    """
    if not batch_last and batch_innermost(x):  # the same windows, read in x's memory order
        v = windows(namespace(x).permute_dims(x, (1, 2, 3, 0)), kernel, stride, dilation, True)
        return namespace(x).permute_dims(v, (5, 0, 3, 4, 1, 2))
    if batch_last:
        c, h, w, n = x.shape
    else:
        n, c, h, w = x.shape
    ho = (h - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    wo = (w - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    as_strided = namespace(x).as_strided  # strides in elements, x in C order
    if batch_last:
        sh, sw = w * n, n
        return as_strided(
            x,
            (c, kernel[0], kernel[1], ho, wo, n),
            (h * sh, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1], 1),
        )
    sh, sw = w, 1
    return as_strided(
        x,
        (n, c, ho, wo, kernel[0], kernel[1]),
        (c * h * w, h * w, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1]),
    )


def im2col(
    x: Any,
    kernel: Pair,
    dilation: Pair,
    padding: Padding,
    stride: Pair,
    batch: str = "first",
    ones: bool = False,
) -> Any:
    """(N, C, H, W) -> (N, C*kh*kw, Ho*Wo): each window as a column, C outermost (F.unfold).

    With ``batch="last"``, the columns of the whole batch as one matrix (C*kh*kw, Ho*Wo*N), the
    batch innermost: copied from x laid out (C, H, W, N) (``batch_to_last``, free where x is
    so already) in runs of Wo*N values, where the batch-first layout copies runs of Wo. With
    ``ones`` as well, the matrix has one more row, of ones, below them (``Conv2d``'s bias).
    """
    xp = namespace(x)
    x = pad_image(x, padding)
    if batch == "last":
        n, c, h, w = x.shape
        v = windows(xp.reshape(batch_to_last(x), (c, h, w, n)), kernel, stride, dilation, True)
        c, kh, kw, ho, wo, n = v.shape
        if not ones:
            return xp.reshape(v, (c * kh * kw, ho * wo * n))
        cols = xp.empty((c * kh * kw + 1, ho * wo * n), dtype=x.dtype, device=x.device)
        xp.reshape(cols[:-1, :], v.shape)[...] = v  # the rows above are C order: a view
        cols[-1, :] = 1
        return cols
    v = windows(x, kernel, stride, dilation)
    n, c, ho, wo, kh, kw = v.shape
    # one copy of the view, in the order of the columns: (N, C, kh, kw, Ho, Wo)
    return xp.reshape(xp.permute_dims(v, (0, 1, 4, 5, 2, 3)), (n, c * kh * kw, ho * wo))


def col2im(
    cols: Any, size: Pair, kernel: Pair, dilation: Pair, padding: Padding, stride: Pair
) -> Any:
    """(N, C*kh*kw, L) -> (N, C, H, W): each column added back where its window was (F.fold).

    The inverse walk of ``im2col``: a loop over the kh*kw offsets inside a window (never over
    positions), each adding one strided slice of the (padded) image (``fold_offsets``).
    """
    kh, kw = kernel
    (pt, pb), (pl, pr) = padding
    ho, wo = _blocks(size, kernel, dilation, padding, stride)
    n = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    blocks = namespace(cols).reshape(cols, (n, c, kh, kw, ho, wo))
    return fold_offsets(
        lambda i, j: blocks[:, :, i, j, ...], cols, (n, c), size, kernel, dilation, padding, stride
    )


def fold_offsets(
    block: Any,
    like: Any,
    batch: Pair,
    size: Pair,
    kernel: Pair,
    dilation: Pair,
    padding: Padding,
    stride: Pair,
    tail: tuple = (),
) -> Any:
    """col2im with the columns given offset by offset: ``block(i, j)`` is the (N, C, Ho, Wo)
    array of the values at offset (i, j) of every window; the result is (N, C, H, W) in the
    dtype and on the device of ``like``. ``batch`` names the axes before the image's two,
    ``tail`` those after them: (C,) and (N,) for blocks (C, Ho, Wo, N), whose result is then
    (C, H, W, N).

    The blocks are added, in the offsets' row-major order, each onto its strided slice of the
    (padded) image. Where windows cannot overlap (a stride at least the dilated window, as 2x2
    pooling has), every value has a place of its own: the slices are assigned, not added, and
    when the windows also tile the image exactly, nothing is zeroed first. A caller that makes
    each block on demand (max-pool's routed gradient, the input gradient's columns a kernel row
    at a time, which relies on that order) never holds all kh*kw of them at once.
    """
    kh, kw = kernel
    (pt, pb), (pl, pr) = padding
    hp, wp = size[0] + pt + pb, size[1] + pl + pr
    ho, wo = _blocks(size, kernel, dilation, padding, stride)
    xp = namespace(like)
    apart = all(s >= d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel))
    tiled = apart and stride == kernel and dilation == (1, 1) and (ho * kh, wo * kw) == (hp, wp)
    shape = (*batch, hp, wp, *tail)
    out = (xp.empty if tiled else xp.zeros)(shape, dtype=like.dtype, device=like.device)
    h_end, w_end = stride[0] * (ho - 1) + 1, stride[1] * (wo - 1) + 1
    head, rest = (slice(None),) * len(batch), (slice(None),) * len(tail)
    for i in range(kh):
        top = i * dilation[0]
        for j in range(kw):
            left = j * dilation[1]
            place = (
                *head,
                slice(top, top + h_end, stride[0]),
                slice(left, left + w_end, stride[1]),
                *rest,
            )
            if apart:
                out[place] = block(i, j)
            else:  # NumPy adds in place and sees the assignment of a view onto itself: no copy
                out[place] += block(i, j)
    if (pt, pb, pl, pr) == (0, 0, 0, 0):
        return out
    return out[(*head, slice(pt, pt + size[0]), slice(pl, pl + size[1]), *rest)]


class Unfold(Function):
    """im2col: the sliding windows of an image as columns. (N, C, H, W) -> (N, C*kh*kw, L).

    Linear, and its vector-Jacobian product is fold: each column's gradient is added back where
    the column was taken from.
    """

    symbol = "unfold"
    vjp = ("upstream folded back onto the image (col2im)",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, kernel, dilation, padding, stride):
        cols = im2col(x, kernel, dilation, padding, stride)
        if memory_owner(cols) is memory_owner(x):  # a view (1x1 windows): a copy, as PyTorch's
            cols = namespace(cols).asarray(cols, copy=True)
        return cols

    @staticmethod
    def backward(ctx, grad):
        x, kernel, dilation, padding, stride = ctx.inputs
        size = tuple(x.shape[2:])
        return call(Fold, grad, size, kernel, dilation, padding, stride), None, None, None, None


class Fold(Function):
    """col2im: columns added back onto an image. (N, C*kh*kw, L) -> (N, C, H, W).

    Linear, and its vector-Jacobian product is unfold: each column reads the gradient of the
    window it was added to.
    """

    symbol = "fold"
    vjp = ("upstream unfolded into columns (im2col)",)

    on_arrays = True

    @staticmethod
    def forward(ctx, cols, size, kernel, dilation, padding, stride):
        return col2im(cols, size, kernel, dilation, padding, stride)

    @staticmethod
    def backward(ctx, grad):
        _, _, kernel, dilation, padding, stride = ctx.inputs
        return call(Unfold, grad, kernel, dilation, padding, stride), None, None, None, None, None


def _symmetric(padding: Any, op: str) -> Padding:
    ph, pw = pair(padding, "padding", op, minimum=0)
    return (ph, ph), (pw, pw)


def _blocks(size: Pair, kernel: Pair, dilation: Pair, padding: Padding, stride: Pair) -> Pair:
    return (
        output_size(size[0], kernel[0], stride[0], padding[0], dilation[0]),
        output_size(size[1], kernel[1], stride[1], padding[1], dilation[1]),
    )


@register(Unfold, functional=True, export=False)
def unfold(
    input: Tensor,
    kernel_size: int | Sequence[int],
    dilation: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    stride: int | Sequence[int] = 1,
) -> Tensor:
    """The sliding windows of a batch of images as columns (im2col), as PyTorch's ``F.unfold``.

    Args:
        input: (N, C, H, W), or (C, H, W) for one image.
        kernel_size: the window, an int or a (height, width) pair.
        dilation: the spacing of a window's elements.
        padding: zeros around the image.
        stride: the step between windows.

    Returns:
        (N, C*kh*kw, L), L the number of window positions (Ho*Wo); (C*kh*kw, L) for one image.

    Example:
        >>> F.unfold(cr.ones(1, 2, 4, 4), kernel_size=3).shape
        (1, 18, 4)
    """
    op = "unfold"
    kernel = pair(kernel_size, "kernel_size", op)
    dil = pair(dilation, "dilation", op)
    pad = _symmetric(padding, op)
    st = pair(stride, "stride", op)
    if input.ndim not in (3, 4):
        raise ValueError(
            f"{op}: expected input of shape (N, C, H, W) or (C, H, W); got {input.shape}"
        )
    one = input.ndim == 3
    x = input.unsqueeze(0) if one else input
    ho, wo = _blocks(tuple(x.shape[2:]), kernel, dil, pad, st)
    if ho < 1 or wo < 1:
        raise ValueError(
            f"{op}: the kernel {kernel} (dilation {dil}) does not fit the padded input "
            f"{tuple(x.shape[2:])} with padding {pair(padding, 'padding', op, 0)}"
        )
    out = Unfold.apply(x, kernel, dil, pad, st)
    return out.squeeze(0) if one else out


@register(Fold, functional=True, export=False)
def fold(
    input: Tensor,
    output_size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    dilation: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    stride: int | Sequence[int] = 1,
) -> Tensor:
    """Columns added back onto images (col2im), as PyTorch's ``F.fold``; unfold's adjoint.

    Args:
        input: (N, C*kh*kw, L), or (C*kh*kw, L) for one image.
        output_size: (H, W) of the image, before padding.
        kernel_size: the window, an int or a (height, width) pair.
        dilation: the spacing of a window's elements.
        padding: the padding the columns were taken with (cut off again).
        stride: the step between windows.

    Returns:
        (N, C, H, W); where windows overlap, their values add up.

    Example:
        >>> F.fold(F.unfold(cr.ones(1, 1, 3, 3), 2), 3, 2)[0, 0]   # how many windows cover each
        tensor([[1., 2., 1.],
                [2., 4., 2.],
                [1., 2., 1.]], dtype=float32)
    """
    op = "fold"
    size = pair(output_size, "output_size", op)
    kernel = pair(kernel_size, "kernel_size", op)
    dil = pair(dilation, "dilation", op)
    pad = _symmetric(padding, op)
    st = pair(stride, "stride", op)
    if input.ndim not in (2, 3):
        raise ValueError(
            f"{op}: expected input of shape (N, C*kh*kw, L) or (C*kh*kw, L); got {input.shape}"
        )
    one = input.ndim == 2
    cols = input.unsqueeze(0) if one else input
    k = kernel[0] * kernel[1]
    ho, wo = _blocks(size, kernel, dil, pad, st)
    if cols.shape[1] % k or cols.shape[2] != ho * wo or ho < 1 or wo < 1:
        raise ValueError(
            f"{op}: expected input of shape (N, C*{k}, {ho * wo}) for output_size {size}, "
            f"kernel_size {kernel}, dilation {dil}, padding {pad[0][0], pad[1][0]} and stride "
            f"{st} (C*kh*kw columns, one per window position); got {cols.shape}"
        )
    out = Fold.apply(cols, size, kernel, dil, pad, st)
    return out.squeeze(0) if one else out


class Conv2d(Function):
    """y = W * x + b, a 2-d convolution (cross-correlation, as in PyTorch), by im2col.

    x: (N, C, H, W); W: (O, C/groups, kh, kw); b: (O,) or None; y: (N, O, Ho, Wo). With groups
    g the channels split into g independent convolutions, one matrix product batched over them:

        y[n, g] = W[g] @ im2col(x)[n, g]      (O/g, C/g*kh*kw) @ (C/g*kh*kw, Ho*Wo)

    Backward, with G = dL/dy: dL/dW = sum over n of G[n] @ im2col(x)[n]^T, dL/dx =
    fold(W^T @ G) (a transposed convolution), dL/db = G summed over N, Ho and Wo. The columns of
    the forward are kept for dL/dW when W needs a gradient (a first-order backward reads them;
    they are freed with the graph); under create_graph the same formulas are recorded as ops,
    the columns unfolded again from x, so that the weight gradient stays a function of x.
    """

    symbol = "conv2d"
    vjp = (
        "fold(W^T @ upstream): the upstream convolved back (a transposed convolution)",
        "upstream @ im2col(x)^T, summed over the batch",
        "upstream summed over N, H and W",
    )

    on_arrays = True

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        n = x.shape[0]
        o, cg, kh, kw = w.shape
        ho, wo = _blocks(x.shape[2:], (kh, kw), dilation, padding, stride)
        k, length = cg * kh * kw, ho * wo
        xp = namespace(x)
        wg = xp.reshape(w, (groups, o // groups, k))
        # the columns as (C*kh*kw, L*N), the batch innermost: one product for the whole batch,
        # whose (O, Ho, Wo, N) result is returned as an (N, O, Ho, Wo) view (batch_innermost),
        # in which order the ops after it (ReLU, pooling, the next convolution, the backward's
        # G) read and write it without a transposing copy
        ones = _bias_row(x, w, b, groups)
        cols = im2col(x, (kh, kw), dilation, padding, stride, batch="last", ones=ones)
        if ones:  # the bias is W's last column, against the columns' row of ones
            wg = xp.concat([wg, xp.reshape(b, (1, o, 1))], axis=2)
        # (groups, O/groups, L*N); the rows counted, as an empty batch leaves -1 undecided
        y = wg @ xp.reshape(cols, (groups, cols.shape[0] // groups, length * n))
        y = xp.reshape(y, (o, ho, wo, n))
        if b is not None and not ones:
            y += xp.reshape(b, (o, 1, 1, 1))  # y is a fresh array
        y = xp.permute_dims(y, (3, 0, 1, 2))
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(x, w, cols)
        else:
            ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, w, *kept = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.inputs[3:]
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        n, c = x.shape[:2]
        o, cg, kh, kw = w.shape
        k = cg * kh * kw
        xp = ctx.xp
        length = grad.shape[2] * grad.shape[3]
        size, kernel = tuple(x.shape[2:]), (kh, kw)
        graph = isinstance(grad, Tensor) or isinstance(x, Tensor)  # create_graph: recorded
        gx = gw = gb = None
        if graph:
            gy = xp.reshape(grad, (n, groups, o // groups, length))
            if need_x:
                wt = xp.permute_dims(xp.reshape(w, (groups, o // groups, k)), (0, 2, 1))
                cols = xp.reshape(wt @ gy, (n, c * kh * kw, length))
                gx = call(Fold, cols, size, kernel, dilation, padding, stride)
            if need_w:  # the columns as a function of x, so that gw is differentiated in x
                cols = call(Unfold, x, kernel, dilation, padding, stride)
                cols = xp.reshape(cols, (n, groups, k, length))
                gw = xp.sum(gy @ xp.permute_dims(cols, (0, 1, 3, 2)), axis=0)
                gw = xp.reshape(gw, w.shape)
        else:
            # G as (groups, O/groups, L*N), the batch innermost (free where G is so in memory,
            # as the ops after a convolution leave it): read by both gradients
            g_t = xp.reshape(batch_to_last(grad), (groups, o // groups, length * n))
            if need_x:
                gx = _input_grad(g_t, w, n, size, kernel, dilation, padding, stride)
            if need_w:  # (groups, k, L*N) @ (groups, L*N, O/groups), then transposed
                cols = xp.reshape(kept[0], (groups, kept[0].shape[0] // groups, length * n))
                gw = xp.permute_dims(cols @ xp.permute_dims(g_t, (0, 2, 1)), (0, 2, 1))
                if cols.shape[1] > k:  # the row of ones: its product is G summed, dL/db
                    gb = gw[0, :, k] if need_b else None
                    gw = gw[:, :, :k]
                gw = xp.reshape(gw, w.shape)  # a copy, C order
        if need_b and gb is None:
            gb = xp.sum(grad, axis=(0, 2, 3))
        return gx, gw, gb, None, None, None, None


def _bias_row(x: Any, w: Any, b: Any, groups: int) -> bool:
    """Whether ``Conv2d`` adds the bias inside its matrix product, as one more column of W
    against a row of ones below the columns (and so gets dL/db from the weight gradient's
    product, as that row's): one pass less over the output each way, which is memory-bound
    on a first layer's many positions. Where the product is BLAS's (float32 or float64, one
    dtype throughout) and there is one group; elsewhere the bias is added, and dL/db summed,
    as separate steps."""
    if b is None or groups != 1:
        return False
    xp = namespace(x)
    return x.dtype == w.dtype == b.dtype and x.dtype in (xp.float32, xp.float64)


def batch_to_last(x: Any) -> Any:
    """(N, ...) -> a C-order (prod(...), N): the batch made the innermost axis (a copy, except
    where it is innermost in memory already, ``batch_innermost``, or N is 1).

    A plain transposing copy reads x a whole row apart for each value it writes; where a row is
    a power of two in bytes (a (64, 32, 8, 8) gradient: 8 KiB), those reads fall into the same
    few cache sets and the copy ran 4x slower. So rows are taken 16 values at a time: x as
    (N, F/16, 16) is copied to (F/16, N, 16) (runs of 16), and each (N, 16) tile then to (16, N),
    reads 64 bytes apart: two copies instead of one, the same values (on any backend).
    """
    xp = namespace(x)
    n = x.shape[0]
    f = math.prod(x.shape[1:])
    if batch_innermost(x):  # a view: nothing to move
        return xp.reshape(xp.permute_dims(x, (*range(1, x.ndim), 0)), (f, n))
    if f % 16:
        return _fresh(xp.permute_dims(xp.reshape(x, (n, f)), (1, 0)), (f, n))
    tiles = _fresh(xp.permute_dims(xp.reshape(x, (n, f // 16, 16)), (1, 0, 2)), (f // 16, n, 16))
    return _fresh(xp.permute_dims(tiles, (0, 2, 1)), (f, n))


def _fresh(view: Any, shape: tuple) -> Any:
    """The values of a transposed view in C order, as an array of ``shape`` (a copy wherever
    the view is not already in that order)."""
    xp = namespace(view)
    return xp.reshape(xp.reshape(view, (-1,)), shape)


def _input_grad(
    g_t: Any,
    w: Any,
    n: int,
    size: Pair,
    kernel: Pair,
    dilation: Pair,
    padding: Padding,
    stride: Pair,
) -> Any:
    """dL/dx of a first-order backward, computed with the batch as the innermost axis.

    ``g_t``: G as (groups, O/groups, Ho*Wo*N); ``w``: the weights (O, C/groups, kh, kw). The
    result is (N, C, H, W), a view of a fresh (C, H, W, N) array: the batch innermost in memory,
    as the forward leaves x when a convolution made it.

    With stride 1 along the width, the kw offsets of a kernel row are summed by the matrix
    product itself: G is laid out once as (O*kw, Ho*W*N), G's columns shifted by each offset
    (zeros where the shift leaves G), so that one product with the kernels gives, for
    every kernel row i, that row's whole contribution to the image's rows, (C, Ho, W, N). The
    kh rows are then added onto the image, each a run of Ho*W*N values per channel. NumPy adds
    such runs at the speed of memory; the col2im of ``fold_offsets`` adds kh*kw blocks whose
    runs are Wo*N values long, each several times slower per value. The product does W/Wo times
    the multiplications of col2im's (the shifted columns hold zeros), so where that exceeds 2
    (a kernel nearly as wide as the image), or the stride along the width is not 1, the input
    gradient is col2im of W^T @ G, made a kernel row at a time (``_folded_input_grad``).
    """
    groups, og = g_t.shape[:2]
    o, cg, kh, kw = w.shape
    (pt, pb), (pl, pr) = padding
    h, width = size
    ho, wo = _blocks(size, kernel, dilation, padding, stride)
    if stride[1] != 1 or 2 * wo < width:
        return _folded_input_grad(g_t, w, n, size, kernel, dilation, padding, stride)
    xp = namespace(g_t)
    dh, dw = dilation
    g = xp.reshape(g_t, (groups, og, ho, wo, n))
    # shifted[:, :, j, r, col] = G[:, :, r, col + pl - j*dw]: the value that kernel column j
    # sent to the image's column col (col + pl in the padded image), zero outside G
    shifted = xp.zeros((groups, og, kw, ho, width, n), dtype=g_t.dtype, device=g_t.device)
    for j in range(kw):
        first = pl - j * dw  # G's column for the image's column 0
        lo, hi = max(0, -first), min(width, wo - first)
        if lo < hi:
            shifted[:, :, j, :, lo:hi, :] = g[:, :, :, lo + first : hi + first, :]
    # the kernels as (groups, C/groups * kh, O/groups * kw)
    wf = xp.permute_dims(xp.reshape(w, (groups, og, cg, kh, kw)), (0, 2, 3, 1, 4))
    wf = xp.reshape(wf, (groups, cg * kh, og * kw))
    rows = wf @ xp.reshape(shifted, (groups, og * kw, ho * width * n))
    rows = xp.reshape(rows, (groups * cg, kh, ho, width * n))
    out = xp.zeros((groups * cg, h + pt + pb, width * n), dtype=g_t.dtype, device=g_t.device)
    span = stride[0] * (ho - 1) + 1
    for i in range(kh):
        out[:, i * dh : i * dh + span : stride[0], :] += rows[:, i, ...]
    out = xp.reshape(out[:, pt : pt + h, :], (groups * cg, h, width, n))
    return xp.permute_dims(out, (3, 0, 1, 2))


def _folded_input_grad(
    g_t: Any,
    w: Any,
    n: int,
    size: Pair,
    kernel: Pair,
    dilation: Pair,
    padding: Padding,
    stride: Pair,
) -> Any:
    """``_input_grad`` as col2im of W^T @ G: the same numbers as the recorded rule, laid out
    (C*kh*kw, Ho*Wo, N), so that col2im's strided adds run over rows of Wo*N contiguous values
    instead of Wo. The columns are made a kernel row at a time (the kw offsets of row i: one
    matrix product per group), each just before its offsets are folded, while it is still in
    the cache: the same products, value for value, as one over all kh*kw offsets, a kh-th of
    its size.
    """
    groups, og = g_t.shape[:2]
    xp = namespace(g_t)
    wt = xp.permute_dims(xp.reshape(w, (groups, og, -1)), (0, 2, 1))  # (groups, k, O/groups)
    k = wt.shape[1]
    kh, kw = kernel
    c = groups * k // (kh * kw)
    ho, wo = _blocks(size, kernel, dilation, padding, stride)
    rows = xp.reshape(wt, (groups, k // (kh * kw), kh, kw * og))
    row: list = []

    def block(i: int, j: int) -> Any:  # fold_offsets asks for (i, 0), (i, 1), ... in turn
        if j == 0:  # W^T's rows of kernel row i, (groups, C/groups * kw, O/groups), times G
            w_i = xp.reshape(rows[:, :, i, :], (groups, k // kh, og))
            row[:] = [xp.reshape(w_i @ g_t, (c, kw, ho, wo, n))]
        return row[0][:, j, ...]

    out = fold_offsets(block, g_t, (c,), size, kernel, dilation, padding, stride, (n,))
    return xp.permute_dims(out, (3, 0, 1, 2))


def conv_padding(padding: Any, kernel: tuple, stride: tuple, dilation: tuple, op: str) -> tuple:
    """PyTorch's ``padding`` argument (an int, one per spatial axis, "valid" or "same") as a
    (before, after) pair per axis of ``kernel``."""
    dims = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * dims
        if padding == "same":
            if any(st != 1 for st in stride):
                raise ValueError(f"{op}: padding='same' needs stride 1; got stride {stride}")
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)  # as PyTorch: the extra one of an odd total goes last
                out.append((total // 2, total - total // 2))
            return tuple(out)
        each = "a pair" if dims == 2 else "one int per axis"
        raise ValueError(
            f"{op}: padding must be an int, {each}, 'valid' or 'same'; got {padding!r}"
        )
    return tuple((p, p) for p in sizes(padding, "padding", op, dims, minimum=0))


@register(Conv2d, functional=True)
def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] | str = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-d convolution of a batch of images with a bank of filters, as PyTorch's ``F.conv2d``.

    Args:
        input: (N, C, H, W), or (C, H, W) for one image.
        weight: (O, C/groups, kh, kw), one filter per output channel.
        bias: (O,) or None.
        stride: the step between windows, an int or a (height, width) pair.
        padding: zeros around the image: an int, a pair, "valid" (none) or "same" (the output
            as large as the input; stride 1 only).
        dilation: the spacing of a filter's taps, an int or a pair.
        groups: split the channels into this many independent convolutions.

    Returns:
        (N, O, Ho, Wo) with Ho = floor((H + 2 pad - dilation (kh - 1) - 1) / stride) + 1.

    Example:
        >>> F.conv2d(cr.ones(1, 1, 5, 5), cr.ones(2, 1, 3, 3)).shape
        (1, 2, 3, 3)
    """
    return _convolve(input, weight, bias, stride, padding, dilation, groups, 2)


@register(Conv2d, functional=True)
def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] | str = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-d convolution of a batch of sequences with a bank of filters, as PyTorch's
    ``F.conv1d``: the 2-d convolution of images one row high (the same op, forward and
    backward).

    Args:
        input: (N, C, L), or (C, L) for one sequence.
        weight: (O, C/groups, k), one filter per output channel.
        bias: (O,) or None.
        stride: the step between windows, an int.
        padding: zeros at both ends: an int, "valid" (none) or "same" (stride 1 only).
        dilation: the spacing of a filter's taps, an int.
        groups: split the channels into this many independent convolutions.

    Returns:
        (N, O, Lo) with Lo = floor((L + 2 pad - dilation (k - 1) - 1) / stride) + 1.

    Example:
        >>> F.conv1d(cr.ones(1, 1, 5), cr.ones(2, 1, 3)).shape
        (1, 2, 3)
    """
    return _convolve(input, weight, bias, stride, padding, dilation, groups, 1)


_SHAPES = {
    1: ("(N, C, L)", "(C, L)", "(out_channels, in_channels/groups, k)"),
    2: ("(N, C, H, W)", "(C, H, W)", "(out_channels, in_channels/groups, kh, kw)"),
}


def _convolve(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    dims: int,
) -> Tensor:
    """``conv1d`` (``dims`` 1) or ``conv2d`` (2): the arguments checked against the shapes of
    that many spatial axes, then ``Conv2d``, a sequence being an image one row high."""
    op = f"conv{dims}d"
    batch, one_shape, filters = _SHAPES[dims]
    if weight.ndim != dims + 2:
        raise ValueError(f"{op}: weight must be {dims + 2}-d {filters}; got shape {weight.shape}")
    if input.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"{op}: expected input of shape {batch} or {one_shape}; got {input.shape}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer; got {groups!r}")
    one = input.ndim == dims + 1
    x = input.unsqueeze(0) if one else input
    o, cg = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    c = x.shape[1]
    if o % groups or c != cg * groups:
        raise ValueError(
            f"{op}: weight {weight.shape} with groups={groups} expects input with {cg * groups} "
            f"channels and out_channels divisible by {groups}; got input of shape {input.shape}"
        )
    if bias is not None and bias.shape != (o,):
        raise ValueError(f"{op}: bias must have shape ({o},); got {bias.shape}")
    st = sizes(stride, "stride", op, dims)
    dil = sizes(dilation, "dilation", op, dims)
    pad = conv_padding(padding, kernel, st, dil, op)
    size = tuple(x.shape[2:])
    if any(output_size(*a) < 1 for a in zip(size, kernel, st, pad, dil)):
        padded = tuple(n + a + b for n, (a, b) in zip(size, pad))
        raise ValueError(
            f"{op}: the kernel {kernel} with dilation {dil} is larger than the padded input "
            f"{padded}"
        )
    w = weight
    if dims == 1:  # one row high
        x, w = x.unsqueeze(2), weight.unsqueeze(2)
        st, dil, pad = (1, *st), (1, *dil), ((0, 0), *pad)
    out = Conv2d.apply(x, w, bias, st, pad, dil, groups)
    if dims == 1:
        out = out.squeeze(2)
    return out.squeeze(0) if one else out
