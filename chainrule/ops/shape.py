"""Shape operations: they move values around without changing them.

Each backward undoes the move: reshape back, permute back, sum an expansion away, split a
concatenation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..autograd.function import Function, call
from ..autograd.tensor import Tensor
from ..backend import is_floating, namespace
from ._registry import alias, register
from ._util import normalize_dim, shape_arg
from .elementwise import cast


class Reshape(Function):
    """z = x with a new shape (same values, same order). Backward reshapes the gradient back."""

    symbol = "reshape"
    local_grad = "1"
    vjp = ("upstream reshaped back",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, shape):
        return namespace(x).reshape(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.reshape(grad, ctx.inputs[0].shape), None


@register(Reshape, methods=("reshape", "view"))
def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same values in a new shape; one size may be -1 (inferred).

    Accepts ``reshape(2, 6)`` and ``reshape((2, 6))``.
    """
    target = shape_arg(shape, "reshape")
    n = input._data.size
    known = 1
    for s in target:
        if s != -1:
            known *= s
    if (
        target.count(-1) > 1
        or (-1 not in target and known != n)
        or (-1 in target and (known == 0 or n % known))
    ):
        raise RuntimeError(
            f"reshape: shape {target} is invalid for a tensor of shape {tuple(input.shape)} "
            f"({n} elements)"
        )
    if -1 in target:
        target = tuple(n // known if s == -1 else s for s in target)
    return Reshape.apply(input, target)  # a new tensor even for the same shape, as in PyTorch


view = alias(reshape, "view")


@register(Reshape, methods=("view_as", "reshape_as"), export=False)
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """``x.reshape_as(y)`` (and ``view_as``): x in y's shape."""
    return reshape(input, other.shape)


@register(Reshape, methods=("flatten",))
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim into one (all of them by default).

    As PyTorch's flatten, it returns ``input`` itself when there is nothing to merge
    (start_dim == end_dim); the other shape ops always return a new tensor.
    """
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s = normalize_dim(start_dim, len(shape), "flatten")
    e = normalize_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    if s == e:
        return input
    merged = 1
    for k in shape[s : e + 1]:
        merged *= k
    return reshape(input, shape[:s] + (merged,) + shape[e + 1 :])


@register(Reshape, methods=("squeeze",))
def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those in ``dim`` that have size 1)."""
    shape = input._data.shape
    if not shape:  # any dim (0 or -1) names the one place a 0-d tensor has
        return reshape(input, ())
    if dim is None:
        drop = {k for k, s in enumerate(shape) if s == 1}
    else:
        dims = (dim,) if isinstance(dim, int) else dim
        drop = {normalize_dim(d, len(shape), "squeeze") for d in dims}
        drop = {k for k in drop if shape[k] == 1}
    return reshape(input, tuple(s for k, s in enumerate(shape) if k not in drop))


@register(Reshape, methods=("unsqueeze",))
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim`` (negative counts from the end of the result)."""
    shape = list(input._data.shape)
    d = normalize_dim(dim, len(shape) + 1, "unsqueeze")
    shape.insert(d, 1)
    return reshape(input, tuple(shape))


class Permute(Function):
    """z = x with its axes reordered. Backward applies the inverse order."""

    symbol = "permute"
    local_grad = "1"
    vjp = ("upstream with the axes permuted back",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, axes):
        return namespace(x).permute_dims(x, axes)

    @staticmethod
    def backward(ctx, grad):
        axes = ctx.inputs[1]
        inverse = [0] * len(axes)
        for i, a in enumerate(axes):
            inverse[a] = i
        return ctx.xp.permute_dims(grad, tuple(inverse)), None


@register(Permute, methods=("permute",))
def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder the axes: ``x.permute(2, 0, 1)`` or ``x.permute((2, 0, 1))``."""
    order = shape_arg(dims, "permute")
    n = input.ndim
    axes = tuple(normalize_dim(d, n, "permute") for d in order)
    if sorted(axes) != list(range(n)):
        raise RuntimeError(
            f"permute: dims {order} are not a permutation of the {n} dims of a tensor of shape "
            f"{tuple(input.shape)}"
        )
    return Permute.apply(input, axes)


@register(Permute, methods=("transpose", "swapaxes"))
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions (PyTorch's transpose; for all axes reversed use ``.T``)."""
    n = input.ndim
    a, b = normalize_dim(dim0, n, "transpose"), normalize_dim(dim1, n, "transpose")
    if n == 0:
        return Permute.apply(input, ())
    axes = list(range(n))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(input, axes)


swapaxes = alias(transpose, "swapaxes")


@register(Permute, methods=("t",))
def t(input: Tensor) -> Tensor:
    """Transpose of a matrix (a 0-d or 1-d tensor is returned as it is)."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions; got {input.ndim}")
    return input.T


class Expand(Function):
    """z = x broadcast to a larger shape (a view). Backward: the engine sums the copies."""

    symbol = "expand"
    local_grad = "1"
    vjp = ("upstream summed over the expanded axes",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, shape):
        return namespace(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # the engine reduces it to x's shape


@register(Expand, methods=("expand",))
def expand(input: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to a larger shape without copying; -1 keeps a dimension's size."""
    target = shape_arg(sizes, "expand")
    shape = input._data.shape
    lead = len(target) - len(shape)
    if lead < 0:
        raise RuntimeError(
            f"expand: the target shape {target} has fewer dimensions than the tensor's "
            f"{tuple(shape)}"
        )
    full = tuple(shape[k - lead] if s == -1 and k >= lead else s for k, s in enumerate(target))
    return broadcast_to(input, full)


@register(Expand, methods=("broadcast_to",))
def broadcast_to(input: Tensor, shape: Sequence[int]) -> Tensor:
    """Broadcast to ``shape`` as NumPy does (a view; the gradient sums the copies)."""
    target = shape_arg((shape,), "broadcast_to") if not isinstance(shape, int) else (shape,)
    have = input._data.shape
    lead = len(target) - len(have)
    # NumPy's rule: align on the right; each of the tensor's sizes is 1 or the target's
    if (
        lead < 0
        or any(t < 0 for t in target)
        or any(s != 1 and s != t for s, t in zip(have, target[lead:]))
    ):
        raise RuntimeError(
            f"broadcast_to: a tensor of shape {tuple(input.shape)} cannot be broadcast to {target}"
        )
    return Expand.apply(input, target)


@register(Expand, methods=("expand_as",), export=False)
def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """``x.expand_as(y)``: x broadcast to y's shape."""
    return expand(input, other.shape)


class Cat(Function):
    """z = the inputs joined along an axis. Backward splits the gradient at the same places."""

    symbol = "cat"
    vjp = ("upstream cut back into the concatenated pieces",)

    on_arrays = True

    @staticmethod
    def forward(ctx, axis, *xs):
        return namespace(xs[0]).concat(xs, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        axis, *xs = ctx.inputs
        lead = (slice(None),) * axis
        pieces, at = [], 0
        for x in xs:
            n = x.shape[axis]
            pieces.append(grad[(*lead, _part(at, at + n), ...)])
            at += n
        return (None, *pieces)


@register(Cat)
def cat(tensors: Sequence[Tensor], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dimension; all other dimensions must match."""
    ts = _tensors(tensors, "cat")
    d = normalize_dim(axis if axis is not None else dim, ts[0].ndim, "cat")
    ref = ts[0].shape
    for i, x in enumerate(ts):
        if x.ndim != len(ref) or any(
            a != b for k, (a, b) in enumerate(zip(x.shape, ref)) if k != d
        ):
            raise RuntimeError(
                f"cat: tensor {i} has shape {tuple(x.shape)}, but tensor 0 has shape "
                f"{tuple(ref)}; all must match except in dimension {d}"
            )
    return Cat.apply(d, *ts)


concatenate = alias(cat, "concatenate")


class Stack(Function):
    """z = the inputs stacked along a new axis. Backward takes each slice of the gradient."""

    symbol = "stack"
    vjp = ("upstream split back into the stacked pieces",)

    on_arrays = True

    @staticmethod
    def forward(ctx, axis, *xs):
        return namespace(xs[0]).stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        axis = ctx.inputs[0]
        lead = (slice(None),) * axis
        return (None, *[grad[(*lead, i, ...)] for i in range(grad.shape[axis])])


@register(Stack)
def stack(tensors: Sequence[Tensor], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors of equal shape along a new dimension."""
    ts = _tensors(tensors, "stack")
    d = normalize_dim(axis if axis is not None else dim, ts[0].ndim + 1, "stack")
    for i, x in enumerate(ts):
        if x.shape != ts[0].shape:
            raise RuntimeError(
                f"stack: tensor {i} has shape {tuple(x.shape)}, but tensor 0 has shape "
                f"{tuple(ts[0].shape)}; stack expects equal shapes"
            )
    return Stack.apply(d, *ts)


class Split(Function):
    """The input cut into pieces along an axis (several outputs). Backward joins the gradients."""

    symbol = "split"
    vjp = ("the pieces' upstream gradients concatenated",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, bounds, axis):
        # the standard has no split: slice the pieces (views, as NumPy's split gives)
        lead = (slice(None),) * axis
        cuts = [0, *bounds, x.shape[axis]]
        return tuple([x[(*lead, _part(lo, hi), ...)] for lo, hi in zip(cuts, cuts[1:])])

    @staticmethod
    def backward(ctx, *grads):
        return ctx.xp.concat(grads, axis=ctx.inputs[2]), None, None


@register(Split, methods=("split",))
def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut into pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of the
    listed sizes, which must add up to the dimension's size (PyTorch's semantics)."""
    d = normalize_dim(dim, tensor.ndim, "split")
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive; got {size}")
        sizes = [min(size, n - k) for k in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(
                f"split: sizes {sizes} must be non-negative and add up to {n}, the size of "
                f"dimension {d}"
            )
    bounds, at = [], 0
    for s in sizes[:-1]:
        at += s
        bounds.append(at)
    return Split.apply(tensor, bounds, d)


@register(Split, methods=("chunk",))
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut into ``chunks`` pieces of (nearly) equal size along ``dim``."""
    n = input.shape[normalize_dim(dim, input.ndim, "chunk")]
    return split(input, max(1, -(-n // chunks)), dim)


def _part(lo: int, hi: int) -> slice:
    """The slice lo:hi, spelled as the Array API standard accepts it even when empty (its bounds
    must lie inside the axis: ``x[3:3]`` on an axis of size 3 is refused, ``x[0:0]`` is not)."""
    return slice(lo, hi) if hi > lo else slice(0, 0)


def _tensors(tensors: Any, op: str) -> list:
    """The tensors to join, in one dtype as PyTorch joins them: the widest float among them
    when there is one (an integer tensor does not widen float32 to float64, as NumPy would),
    else NumPy's (int32 and int64 give int64)."""
    if isinstance(tensors, Tensor) or not hasattr(tensors, "__len__") or not len(tensors):
        raise TypeError(f"{op}: expected a non-empty list or tuple of tensors")
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    floats = [t.dtype for t in ts if is_floating(t.dtype)]
    if floats and any(t.dtype != floats[0] for t in ts):
        widest = max(floats, key=lambda d: d.itemsize)
        ts = [cast(t, widest) for t in ts]
    return ts


class Flip(Function):
    """z = x with the order of its values reversed along ``axes`` (a copy, as PyTorch's).
    Backward flips the gradient back."""

    symbol = "flip"
    local_grad = "1"
    vjp = ("upstream flipped back",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, axes):
        xp = namespace(x)
        return xp.asarray(xp.flip(x, axis=axes), copy=True) if x.ndim else xp.asarray(x, copy=True)

    @staticmethod
    def backward(ctx, grad):
        return call(Flip, grad, ctx.inputs[1]), None


@register(Flip, methods=("flip",))
def flip(input: Tensor, dims: Any) -> Tensor:
    """Reverse the order of the values along each of ``dims`` (an int or a sequence)."""
    axes = _axes(dims, input.ndim, "flip")
    return Flip.apply(input, axes)


class Roll(Function):
    """z = x shifted cyclically by ``shifts`` along ``axes`` (the flattened x where axes is
    None): what leaves one end comes back at the other. Backward rolls the gradient back."""

    symbol = "roll"
    local_grad = "1"
    vjp = ("upstream rolled back",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, shifts, axes):
        xp = namespace(x)
        if axes is None:
            return xp.reshape(xp.roll(xp.reshape(x, (-1,)), shifts[0]), x.shape)
        return xp.roll(x, shifts, axis=axes) if x.ndim else xp.asarray(x, copy=True)

    @staticmethod
    def backward(ctx, grad):
        x, shifts, axes = ctx.inputs
        back = tuple(-s for s in shifts)
        return call(Roll, grad, back, axes), None, None


@register(Roll, methods=("roll",))
def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shift the values cyclically: by ``shifts`` along ``dims`` (ints or equal-length
    sequences), or along the flattened tensor when ``dims`` is None."""
    many = isinstance(shifts, Sequence)
    steps = tuple(int(s) for s in shifts) if many else (int(shifts),)
    if dims is None:
        if len(steps) != 1:
            raise RuntimeError(f"roll: without dims, shifts must be one int; got {shifts!r}")
        return Roll.apply(input, steps, None)
    axes = _axes(dims, input.ndim, "roll")
    if len(axes) != len(steps):
        raise RuntimeError(
            f"roll: shifts and dims must have the same length; got {len(steps)} shift(s) and "
            f"{len(axes)} dim(s)"
        )
    return Roll.apply(input, steps, axes)


class Triangle(Function):
    """z = x where a value is on the kept side of the ``diagonal``-th diagonal of the last two
    axes (at or below it for ``tril``, at or above for ``triu``), else 0. The local gradient is
    that 0/1 mask: backward keeps the same triangle of the upstream gradient."""

    symbol = "tri"
    local_grad = "1 in the triangle, else 0"

    on_arrays = True

    @staticmethod
    def forward(ctx, x, diagonal, lower):
        return _triangle(namespace(x), x, diagonal, lower)

    @staticmethod
    def backward(ctx, grad):
        _, diagonal, lower = ctx.inputs
        return call(Triangle, grad, diagonal, lower), None, None


def _triangle(xp: Any, x: Any, diagonal: int, lower: bool) -> Any:
    """x with 0 outside the triangle (the where of a mask made from two aranges: the Array API
    has no tril)."""
    rows, cols = x.shape[-2], x.shape[-1]
    device = getattr(x, "device", None)
    i = xp.reshape(xp.arange(rows, device=device), (rows, 1))
    j = xp.reshape(xp.arange(cols, device=device), (1, cols))
    keep = (j - i <= diagonal) if lower else (j - i >= diagonal)
    return xp.where(keep, x, xp.zeros((), dtype=x.dtype, device=device))


def _two_dims(input: Tensor, op: str) -> None:
    if input.ndim < 2:
        raise RuntimeError(
            f"{op}: expected a tensor of at least 2 dimensions (a matrix, or a batch of them); "
            f"got shape {tuple(input.shape)}"
        )


@register(Triangle, methods=("tril",))
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (on and below the ``diagonal``-th
    diagonal), 0 elsewhere."""
    _two_dims(input, "tril")
    return Triangle.apply(input, int(diagonal), True)


@register(Triangle, methods=("triu",))
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (on and above the ``diagonal``-th
    diagonal), 0 elsewhere."""
    _two_dims(input, "triu")
    return Triangle.apply(input, int(diagonal), False)


def _axes(dims: Any, ndim: int, op: str) -> tuple[int, ...]:
    """An int or a sequence of dims as distinct axes in [0, ndim)."""
    many = dims if isinstance(dims, Sequence) else (dims,)
    axes = tuple(normalize_dim(d, ndim, op) for d in many)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{op}: dims {dims!r} name an axis twice")
    return axes


@register(Reshape, methods=("unflatten",))
def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one of them may be -1), as PyTorch's."""
    d = normalize_dim(dim, input.ndim, "unflatten")
    shape = tuple(input.shape)
    return reshape(input, shape[:d] + tuple(sizes) + shape[d + 1 :])


@register(Permute, methods=("movedim", "moveaxis"))
def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """Move the dimensions ``source`` (an int or a sequence) to the places ``destination``;
    the others keep their order."""
    n = input.ndim
    src, dst = _axes(source, n, "movedim"), _axes(destination, n, "movedim")
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: source {source!r} and destination {destination!r} differ in length"
        )
    rest = iter(a for a in range(n) if a not in src)
    placed = dict(zip(dst, src))
    return permute(input, tuple(placed[i] if i in placed else next(rest) for i in range(n)))


@register(Split, methods=("unbind",))
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, that dimension removed from each."""
    d = normalize_dim(dim, input.ndim, "unbind")
    if input.ndim == 0:
        raise IndexError("unbind: a 0-d tensor has no dimension to unbind")
    return tuple(squeeze(p, d) for p in split(input, 1, d))


@register(Expand, methods=("repeat",))
def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """The tensor tiled ``sizes[i]`` times along dimension i (``sizes`` may add leading
    dimensions), as PyTorch's ``repeat`` (NumPy's ``tile``). An expand and a reshape: the
    gradient of each copy adds up."""
    reps = shape_arg(sizes, "repeat")
    if len(reps) < input.ndim:
        raise RuntimeError(
            f"repeat: give at least one size per dimension ({input.ndim}); got {len(reps)}"
        )
    shape = (1,) * (len(reps) - input.ndim) + tuple(input.shape)
    pairs = [v for r, s in zip(reps, shape) for v in (1, s)]
    grown = [v for r, s in zip(reps, shape) for v in (r, s)]
    tiled = expand(reshape(input, tuple(pairs)), *grown)
    return reshape(tiled, tuple(r * s for r, s in zip(reps, shape)))


class Pad(Function):
    """z = x with ``value`` around it: ``pads`` holds (before, after) for every axis, and a
    negative amount crops instead. Linear; its backward pads the gradient by the opposite
    amounts (crops what was added, adds zeros where it was cropped)."""

    symbol = "pad"
    local_grad = "1"
    vjp = ("upstream with the padding cut off",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, pads, value):
        xp = namespace(x)
        shape = tuple(n + b + a for n, (b, a) in zip(x.shape, pads))
        out = xp.full(shape, value, dtype=x.dtype, device=x.device)
        src = tuple(slice(max(-b, 0), n - max(-a, 0)) for n, (b, a) in zip(x.shape, pads))
        dst = tuple(
            slice(max(b, 0), max(b, 0) + (s.stop - s.start)) for (b, _), s in zip(pads, src)
        )
        out[dst] = x[src]
        return out

    @staticmethod
    def backward(ctx, grad):
        back = tuple((-b, -a) for b, a in ctx.inputs[1])
        return call(Pad, grad, back, 0.0), None, None


@register(Pad, export=False)
def pad_constant(input: Tensor, pads: tuple, value: float = 0.0) -> Tensor:
    """``input`` with ``value`` around it, ``pads`` a (before, after) pair per axis."""
    for n, (b, a) in zip(input.shape, pads):
        if n + b + a < 0:
            raise RuntimeError(
                f"pad: padding {pads} crops more than the input's shape {tuple(input.shape)} holds"
            )
    return Pad.apply(input, tuple(pads), value)
