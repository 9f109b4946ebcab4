"""Indexing: ``x[key]`` with ints, slices, None, Ellipsis, integer arrays and boolean masks.

NumPy's indexing rules, on every device. On the CPU the key goes to NumPy as it is. The Array API
standard indexes less (every axis named or an ellipsis, slice bounds inside the axis, integer
arrays only beside integers, a boolean mask only alone), so for an array of another module
``getitem`` first rewrites the key: a key of ints, slices and None into the standard's spelling of
it, any other into the flat positions NumPy would read (``Flat``), which ``take`` gathers.

Backward scatters the gradient back into a zero array of x's shape, adding where an index repeats
(``x[[0, 0]]`` uses x[0] twice: its gradient is the sum of both).
"""

from __future__ import annotations

import math
import operator
from typing import Any

from ..autograd.function import Function, call
from ..autograd.tensor import Tensor
from ..backend import (
    NUMPY,
    canonical_dtype,
    device_of,
    is_array,
    namespace,
    ndarray,
    to_device,
    to_numpy,
)
from ._registry import register
from ._util import normalize_dim
from .elementwise import where


def _is_basic(key: Any) -> bool:
    """True when the key holds only ints, slices, None and Ellipsis (no index can repeat)."""
    parts = key if type(key) is tuple else (key,)
    return all(isinstance(k, (int, slice)) or k is None or k is Ellipsis for k in parts)


class Flat:
    """A key as the flat (C-order) positions of the elements it reads: an int64 array of the
    result's shape, on the indexed array's device. ``x[key]`` is then ``take`` of x's elements."""

    __slots__ = ("positions",)

    def __init__(self, positions: Any) -> None:
        self.positions = positions

    def __repr__(self) -> str:
        return f"Flat(positions of shape {tuple(self.positions.shape)})"


class Index(Function):
    """z = x[key]. Backward: scatter-add the gradient into zeros shaped like x."""

    symbol = "[ ]"
    local_grad = "1"
    vjp = ("upstream scattered back to the indexed positions",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, key):
        if ctx.needs_input_grad[0]:
            # backward scatters to where forward read: a copy of the index arrays, so that a
            # change of the index tensor (or NumPy array) in place after forward cannot move it
            ctx.key = _copied(key)
        if type(key) is Flat:
            xp = namespace(x)
            p = key.positions
            flat = xp.take(xp.reshape(x, (-1,)), xp.reshape(p, (-1,)), axis=0)
            return xp.reshape(flat, p.shape)
        return x[key]

    @staticmethod
    def backward(ctx, grad):
        return call(IndexAdd, grad, ctx.key, ctx.inputs[0].shape), None


def _copied(key: Any) -> Any:
    """``key`` with each index array in it copied (ints, slices and a ``Flat``'s positions,
    made by the key's conversion, as they are)."""
    if type(key) is tuple:
        return tuple([_copied(k) for k in key])
    return namespace(key).asarray(key, copy=True) if is_array(key) else key


class IndexAdd(Function):
    """z = zeros(shape) with g added at ``key`` (repeats add up). Its backward is indexing."""

    symbol = "scatter-add"
    local_grad = "1"
    vjp = ("upstream gathered at the indexed positions",)

    on_arrays = True

    @staticmethod
    def forward(ctx, g, key, shape):
        xp = namespace(g)
        if type(key) is Flat:
            p = key.positions
            z = xp.zeros((math.prod(shape),), dtype=g.dtype, device=g.device)
            z = xp.scatter_add(z, xp.reshape(p, (-1,)), xp.reshape(g, (-1,)))
            return xp.reshape(z, shape)
        if type(g) is ndarray:  # NumPy's key, as the user gave it
            z = xp.zeros(shape, dtype=g.dtype)
            if _is_basic(key):
                z[key] = g
                return z
            return xp.scatter_add(z, key, g)
        # another module: ints, slices and None in the standard's spelling (see _standard_key);
        # the standard assigns through no None, so drop those axes from the key and from g
        z = xp.zeros(shape, dtype=g.dtype, device=g.device)
        part, kept, d = [], [], 0
        for k in key:
            if k is None:
                d += 1
            elif type(k) is slice:
                part.append(k)
                kept.append(g.shape[d])
                d += 1
            else:
                part.append(k)
        z[tuple(part)] = xp.reshape(g, tuple(kept))
        return z

    @staticmethod
    def backward(ctx, grad):
        key = ctx.inputs[1]
        return call(Index, grad, key), None, None


def index_key(key: Any, like: Any = None) -> Any:
    """Turn tensors, lists and NumPy scalars inside an index into arrays, and check their dtypes.

    Args:
        key: an index as ``x[key]`` takes it.
        like: the array to be indexed; index arrays are made on (or moved to) its device, as
            PyTorch takes a CPU index for a CUDA tensor. None: leave them where they are.

    Returns:
        The key with every index array an array of ``like``'s module and device.
    """
    if type(key) is tuple:
        for k in key:
            if type(k) is not slice and type(k) is not int and k is not None and k is not Ellipsis:
                return tuple([_key_part(k, like) for k in key])
        return key  # ints, slices, None and ...: nothing to convert (the common key)
    return _key_part(key, like)


def _key_part(k: Any, like: Any) -> Any:
    if isinstance(k, (int, slice)) or k is None or k is Ellipsis:
        return k
    if isinstance(k, Tensor):
        k = k._data
    elif isinstance(k, (list, tuple)):
        xp = NUMPY if like is None else namespace(like)
        where = {} if like is None or type(like) is ndarray else {"device": like.device}
        # [] selects nothing
        k = xp.asarray(k, **where) if len(k) else xp.zeros(0, dtype=xp.int64, **where)
    elif not is_array(k):
        if hasattr(k, "__index__"):  # a NumPy integer
            return operator.index(k)
        if hasattr(k, "dtype"):  # a NumPy bool or another 0-d value: NumPy's array of it
            k = NUMPY.asarray(k)
    if is_array(k):
        if canonical_dtype(k.dtype).kind not in "biu":
            raise IndexError(
                f"tensors used as indices must be integer or bool; got dtype {k.dtype}"
            )
        if like is not None and not (type(k) is ndarray and type(like) is ndarray):
            k = to_device(k, device_of(like))
        return k
    raise IndexError(
        f"unsupported index of type {type(k).__name__}: use ints, slices, None, ..., integer "
        "arrays/tensors or boolean masks"
    )


def _is_mask(k: Any) -> bool:
    return type(k) is bool or (is_array(k) and canonical_dtype(k.dtype).kind == "b")


def _standard_key(key: Any, x: Any) -> Any:
    """``key`` (index arrays already on x's device) rewritten for a module that indexes only as
    the standard does: a tuple of ints, slices and None that names every axis, or ``Flat``."""
    parts = list(key) if type(key) is tuple else [key]
    shape = x.shape
    used, ellipsis = 0, []
    for i, k in enumerate(parts):
        if k is Ellipsis:
            ellipsis.append(i)
        elif k is None or type(k) is bool:  # a new axis; a Python bool is a 0-d mask (NumPy)
            pass
        elif _is_mask(k):
            used += k.ndim
        else:
            used += 1
    if len(ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if used > len(shape):
        raise IndexError(
            f"too many indices for array: array is {len(shape)}-dimensional, but {used} were "
            "indexed"
        )
    fill = [slice(None)] * (len(shape) - used)
    if ellipsis:
        # an ellipsis of no axes still parts the integer arrays on either side of it (NumPy)
        parts[ellipsis[0] : ellipsis[0] + 1] = fill or [Ellipsis]
    else:
        parts += fill
    if any(is_array(k) or type(k) is bool for k in parts):
        return Flat(_positions(parts, x))
    out, axis = [], 0
    for k in parts:
        if k is Ellipsis:
            continue
        if k is None:
            out.append(None)
            continue
        n = shape[axis]
        out.append(_slice(k, n) if type(k) is slice else _int(k, n, axis))
        axis += 1
    return tuple(out)


def _slice(k: slice, n: int) -> slice:
    """``k`` with bounds inside an axis of size n, which the standard requires."""
    start, stop, step = k.indices(n)
    if not len(range(start, stop, step)):
        return slice(0, 0, 1)
    return slice(start, None if stop < 0 else stop, step)  # stop -1 going down: past the start


def _int(k: int, n: int, axis: int) -> int:
    if not -n <= k < n:
        raise IndexError(f"index {k} is out of bounds for axis {axis} with size {n}")
    return k % n


def _positions(parts: list, x: Any) -> Any:
    """The flat positions NumPy's ``x[tuple(parts)]`` reads (parts name every axis of x; an
    Ellipsis left among them stands for no axes).

    NumPy's rule: the integer arrays (with the ints beside them, and each mask as the integer
    arrays of its nonzero positions) broadcast to one block of axes, which takes the place of the
    first of them when they stand together in the key (nothing, not even an empty ellipsis,
    between them), and comes first otherwise. Slices and None keep their axes, in order. A None
    (and a 0-d mask) indexes a new axis of size 1, whose stride is 0.
    """
    xp = namespace(x)
    where = x.device
    int64 = xp.int64
    shape = x.shape
    strides = [math.prod(shape[a + 1 :]) for a in range(len(shape))]
    entries: list = []  # ("slice", start, step, length, stride), ("index", array or int), ("gap",)
    axis = 0
    for k in parts:
        if k is Ellipsis:
            entries.append(("gap",))
        elif k is None:
            entries.append(("slice", 0, 1, 1, 0))
        elif type(k) is slice:
            n = shape[axis]
            start, stop, step = k.indices(n)
            entries.append(("slice", start, step, len(range(start, stop, step)), strides[axis]))
            axis += 1
        elif type(k) is bool or (_is_mask(k) and k.ndim == 0):
            # x[True] is x[None]; x[False] selects none of that new axis
            picked = xp.nonzero(xp.reshape(xp.asarray(k, device=where), (1,)))[0]
            entries.append(("index", picked * 0))
        elif _is_mask(k):
            if tuple(k.shape) != tuple(shape[axis : axis + k.ndim]):
                raise IndexError(
                    f"boolean index of shape {tuple(k.shape)} does not match the indexed axes "
                    f"{axis}..{axis + k.ndim - 1} of shape {tuple(shape[axis : axis + k.ndim])}"
                )
            for j, idx in enumerate(xp.nonzero(k)):
                entries.append(("index", xp.astype(idx, int64) * strides[axis + j]))
            axis += k.ndim
        elif is_array(k):
            entries.append(("index", xp.astype(k, int64), axis))  # checked and scaled below
            axis += 1
        else:
            entries.append(("index", _int(operator.index(k), shape[axis], axis) * strides[axis]))
            axis += 1
    advanced = [i for i, e in enumerate(entries) if e[0] == "index"]
    together = advanced[-1] - advanced[0] == len(advanced) - 1
    b_shape = _broadcast([tuple(e[1].shape) for e in entries if e[0] == "index" and is_array(e[1])])
    offset, block = 0, None
    for e in entries:
        if e[0] != "index":
            continue
        term = e[1]
        if len(e) == 3:  # an integer array on axis e[2]: NumPy checks it when it reads something
            a = e[2]
            n = shape[a]
            if math.prod(b_shape) and bool(xp.any((term < -n) | (term >= n))):
                raise IndexError(
                    f"an index is out of bounds for axis {a} with size {n} (expected indices "
                    f"in [{-n}, {n - 1}])"
                )
            term = xp.where(term < 0, term + n, term) * strides[a]
        if is_array(term):
            block = term if block is None else block + term
        else:
            offset += term
    blocks: list = []  # (position of its first axis in the result's key order, shape, term)
    for i, e in enumerate(entries):
        if e[0] == "slice":
            _, start, step, length, stride = e
            term = xp.arange(length, dtype=int64, device=where) * (step * stride)
            blocks.append(((length,), term))
            offset += start * stride
        elif together and i == advanced[0]:
            blocks.append((b_shape, block))
    if not together:
        blocks.insert(0, (b_shape, block))
    result = tuple(s for bs, _ in blocks for s in bs)
    p, at = None, 0
    for bs, term in blocks:
        term = xp.reshape(term, (1,) * at + tuple(term.shape) + (1,) * (len(result) - at - len(bs)))
        p = term if p is None else p + term
        at += len(bs)
    p = p + offset
    if tuple(p.shape) != result:
        p = xp.broadcast_to(p, result)
    return p


def _broadcast(shapes: list) -> tuple:
    """The shape integer index arrays broadcast to, as NumPy's IndexError says when they don't."""
    n = max(len(s) for s in shapes)
    out = []
    for sizes in zip(*[(1,) * (n - len(s)) + s for s in shapes]):
        big = {s for s in sizes if s != 1}
        if len(big) > 1:
            raise IndexError(
                "shape mismatch: indexing arrays could not be broadcast together with shapes "
                + " ".join(str(s) for s in shapes)
            )
        out.append(big.pop() if big else 1)
    return tuple(out)


@register(Index, methods=("__getitem__",))
def getitem(input: Tensor, key: Any) -> Tensor:
    """``input[key]`` as NumPy indexes, with a scatter-add backward for repeated indices.

    Index arrays (tensors, NumPy arrays, lists) may live on any device: they are moved to
    ``input``'s.
    """
    data = input._data
    try:
        key = index_key(key, data)
        if type(data) is not ndarray:
            key = _standard_key(key, data)
        return Index.apply(input, key)
    except IndexError as e:
        raise IndexError(f"indexing a tensor of shape {tuple(input.shape)}: {e}") from None


def setitem(data: Any, key: Any, value: Any) -> None:
    """``data[key] = value`` in place, as NumPy assigns, on any device (``Tensor.__setitem__``).

    Index arrays and an array (or Tensor) value are moved to ``data``'s device first. NumPy
    takes the key as it is. Another module takes the standard's spelling of it
    (``_standard_key``): a key of ints, slices and None is assigned through (without the None
    axes, which the standard does not assign through); integer arrays and masks become the
    flat positions they name, written by the ``scatter_set`` extra (a repeated position keeps
    the last of its values, as in NumPy).
    """
    key = index_key(key, data)
    if isinstance(value, Tensor):
        value = value._data
    if type(data) is ndarray:
        data[key] = to_numpy(value) if is_array(value) else value
        return
    xp = namespace(data)
    if is_array(value):
        value = to_device(value, device_of(data))
    else:  # a number, a list, a NumPy scalar
        value = xp.asarray(value, device=data.device)
    if value.dtype != data.dtype:  # NumPy casts the value to the array's dtype
        value = xp.astype(value, data.dtype)
    std = _standard_key(key, data)
    if type(std) is Flat:
        p = std.positions
        flat = xp.scatter_set(
            xp.reshape(data, (-1,)),
            xp.reshape(p, (-1,)),
            xp.reshape(_fit(xp, value, tuple(p.shape)), (-1,)),
        )
        data[...] = xp.reshape(flat, data.shape)
        return
    value = _fit(xp, value, tuple(data[std].shape))
    through = tuple(k for k in std if k is not None)
    data[through] = xp.reshape(value, tuple(data[through].shape))


def _fit(xp: Any, value: Any, shape: tuple) -> Any:
    """``value`` broadcast to ``shape`` as NumPy's assignment does: leading axes of size 1
    beyond the target's are dropped; a ValueError where the shapes do not fit."""
    extra = value.ndim - len(shape)
    if extra > 0:
        if any(n != 1 for n in value.shape[:extra]):
            raise ValueError(
                f"could not broadcast input array from shape {tuple(value.shape)} into shape "
                f"{shape}"
            )
        value = xp.reshape(value, tuple(value.shape[extra:]))
    try:
        return xp.broadcast_to(value, shape)
    except ValueError:
        raise ValueError(
            f"could not broadcast input array from shape {tuple(value.shape)} into shape {shape}"
        ) from None


@register(Index, methods=("gather",))
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """The values of ``input`` picked along ``dim`` by ``index``, as PyTorch's: for dim 1,
    ``out[i][j][k] = input[i][index[i][j][k]][k]``; ``out`` has index's shape. The gradient is
    added back where each value was picked (repeats add up): indexing with a key made of
    ``index`` and an arange along each other axis. An index outside [0, size) is an error, as
    in PyTorch (it does not count from the end)."""
    if input.ndim == 0:
        return gather(input.reshape(1), 0, index.reshape(1)).reshape(index.shape)
    return getitem(input, _along(input, dim, index, "gather"))


def _along(input: Tensor, dim: int, index: Tensor, op: str, src: Any = None) -> tuple:
    """The key that reads (``gather``) or writes (``scatter``) ``input`` along ``dim`` at
    ``index``: ``index`` on axis ``dim``, an arange on each other axis, after PyTorch's checks
    (index an int64 tensor of input's rank, no larger than input off ``dim`` nor than
    ``src`` anywhere, its values in [0, input.shape[dim]))."""
    n = input.ndim
    idx = _index_tensor(index, op, ("int64",))
    d = normalize_dim(dim, n, op)
    if idx.ndim != n:
        raise RuntimeError(
            f"{op}: index must have as many dimensions as input ({n}); got shape {tuple(idx.shape)}"
        )
    for a in range(n):
        if a != d and idx.shape[a] > input.shape[a]:
            raise RuntimeError(
                f"{op}: index of shape {tuple(idx.shape)} is larger than input of shape "
                f"{tuple(input.shape)} in dimension {a} (only dimension {d} may differ)"
            )
        if src is not None and idx.shape[a] > src.shape[a]:
            raise RuntimeError(
                f"{op}: index of shape {tuple(idx.shape)} is larger than src of shape "
                f"{tuple(src.shape)} in dimension {a}"
            )
    _in_range(idx, input.shape[d], op, d)
    xp = namespace(idx)
    return tuple(
        idx
        if a == d
        else xp.reshape(
            xp.arange(idx.shape[a], device=idx.device), [-1 if b == a else 1 for b in range(n)]
        )
        for a in range(n)
    )


def _in_range(idx: Any, size: int, op: str, d: int) -> None:
    """An IndexError naming ``op`` unless every index is in [0, size): PyTorch's gather,
    scatter and index_select refuse -1 where NumPy's indexing counts from the end."""
    if not idx.size:
        return
    xp = namespace(idx)
    low, high = int(xp.min(idx)), int(xp.max(idx))
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {d} with size {size}")


class IndexSet(Function):
    """z = zeros(shape) with g assigned at ``key`` (of repeated places one value stays, the
    last NumPy writes). Backward: the gradient read at ``key`` for every value, as PyTorch's
    ``scatter`` gives its ``src`` (each repeat gets it, whichever value stayed)."""

    symbol = "scatter"
    local_grad = "1"
    vjp = ("upstream gathered at the indexed positions",)

    on_arrays = True

    @staticmethod
    def forward(ctx, g, key, shape):
        return _set_at(namespace(g).zeros(shape, dtype=g.dtype, device=g.device), key, g)

    @staticmethod
    def backward(ctx, grad):
        return call(Index, grad, ctx.inputs[1]), None, None


def _set_at(z: Any, key: Any, g: Any) -> Any:
    """``z`` with ``g`` assigned at ``key`` (NumPy's, or a ``Flat`` of another module's)."""
    xp = namespace(z)
    if type(key) is Flat:
        p = key.positions
        flat = xp.scatter_set(xp.reshape(z, (-1,)), xp.reshape(p, (-1,)), xp.reshape(g, (-1,)))
        return xp.reshape(flat, tuple(z.shape))
    return xp.scatter_set(z, key, g)


def _scatter_key(input: Tensor, dim: int, index: Tensor, op: str, src: Any) -> Any:
    """``_along``'s key, its arrays moved to input's device, as ``getitem`` moves them, and
    copied: backward reads src's gradient where forward wrote, even if the index tensor is
    changed in place in between (as ``Index`` keeps its key)."""
    data = input._data
    key = index_key(_along(input, dim, index, op, src), data)
    return _copied(key if type(data) is ndarray else _standard_key(key, data))


@register(IndexAdd, methods=("scatter_add",))
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """``input`` with each value of ``src`` added at its place along ``dim`` given by
    ``index``, as PyTorch's: for dim 1, ``out[i][index[i][j][k]][k] += src[i][j][k]`` (repeats
    add up; src's values outside index's shape are not used). Gradients: input's passes as it
    is, src's is the upstream read at the same places (``gather``)."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a Tensor; got {type(src).__name__}")
    key = _scatter_key(input, dim, index, "scatter_add", src)
    part = src[tuple(slice(0, k) for k in index.shape)]
    return input + IndexAdd.apply(part.to(input.dtype), key, tuple(input.shape))


@register(IndexSet, methods=("scatter",))
def scatter(
    input: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None
) -> Tensor:
    """``input`` with the values of ``src`` (or the number ``value``) written at their places
    along ``dim`` given by ``index``, as PyTorch's: for dim 1,
    ``out[i][index[i][j][k]][k] = src[i][j][k]``. Of repeated places one value stays (PyTorch
    leaves which unspecified). Gradients: input's is zero where something was written, src's
    is the upstream read at the places each of its values went (``gather``), as in PyTorch."""
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a Tensor or a number) or value")
    if src is None or not isinstance(src, Tensor):
        src, number = None, value if src is None else src
    key = _scatter_key(input, dim, index, "scatter", src)
    shape = tuple(input.shape)
    xp = namespace(input._data)
    hit = xp.zeros(shape, dtype=xp.bool, device=input._data.device)
    hit = _set_at(hit, key, xp.ones(tuple(index.shape), dtype=xp.bool, device=hit.device))
    kept = Tensor._make(~hit)
    if src is None:
        return where(kept, input, number)
    part = src[tuple(slice(0, k) for k in index.shape)]
    return where(kept, input, IndexSet.apply(part.to(input.dtype), key, shape))


@register(Index, methods=("index_select",))
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` along ``dim`` at the positions in the 1-d ``index`` (repeats
    allowed; their gradients add up)."""
    idx = _index_tensor(index, "index_select", ("int64", "int32"))
    if idx.ndim > 1:
        raise IndexError(f"index_select: index must be 0-d or 1-d; got shape {tuple(idx.shape)}")
    if input.ndim == 0:
        return getitem(input.reshape(1), namespace(idx).reshape(idx, (-1,))).reshape(idx.shape)
    d = normalize_dim(dim, input.ndim, "index_select")
    _in_range(idx, input.shape[d], "index_select", d)
    return getitem(input, (slice(None),) * d + (namespace(idx).reshape(idx, (-1,)),))


def _index_tensor(index: Any, op: str, kinds: tuple[str, ...]) -> Any:
    """The array of an index tensor of one of the integer dtypes ``kinds``, as PyTorch asks."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: index must be a Tensor; got {type(index).__name__}")
    if str(index.dtype) not in kinds:
        raise RuntimeError(
            f"{op}: expected an index of dtype {' or '.join(kinds)}; got {index.dtype}"
        )
    return index._data


@register(Index, methods=("narrow",))
def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The ``length`` slices of ``input`` along ``dim`` from ``start`` on (a negative start
    counts from the end)."""
    d = normalize_dim(dim, input.ndim, "narrow")
    size = input.shape[d] if input.ndim else 1
    begin = start + size if start < 0 else start
    if not (0 <= begin <= size and 0 <= length and begin + length <= size):
        raise IndexError(
            f"narrow: start {start} and length {length} do not fit dimension {d} of size {size}"
        )
    return getitem(input, (slice(None),) * d + (slice(begin, begin + length),))


def _diagonal_positions(xp: Any, rows: int, cols: int, offset: int, device: Any) -> tuple:
    """The (row, column) index arrays of the ``offset``-th diagonal of a rows x cols matrix."""
    n = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    at = xp.arange(n, device=device)
    return at + max(-offset, 0), at + max(offset, 0)


@register(Index, methods=("diagonal",))
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The ``offset``-th diagonal of the matrices in dimensions ``dim1`` and ``dim2``, as a
    new last dimension (the other dimensions kept in order), as PyTorch's. Each value's
    gradient goes back to its place; PyTorch's result is a view, chainrule's a copy."""
    n = input.ndim
    if n < 2:
        raise RuntimeError(f"diagonal: expected at least 2 dimensions; got {tuple(input.shape)}")
    a, b = normalize_dim(dim1, n, "diagonal"), normalize_dim(dim2, n, "diagonal")
    if a == b:
        raise RuntimeError(f"diagonal: dim1 and dim2 cannot be the same dimension ({a})")
    rest = [d for d in range(n) if d not in (a, b)]
    moved = input.permute(*rest, a, b)
    data = input._data
    xp = namespace(data)
    rows, cols = _diagonal_positions(
        xp, input.shape[a], input.shape[b], int(offset), getattr(data, "device", None)
    )
    return getitem(moved, (Ellipsis, rows, cols))


_matrix_diagonal = diagonal  # diag's own argument is named diagonal, as PyTorch's


@register(Index, methods=("trace",))
def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a matrix."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix; got shape {tuple(input.shape)}")
    return diagonal(input).sum()


@register(Index, IndexAdd, methods=("diag",))
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A vector made the ``diagonal``-th diagonal of an otherwise zero square matrix, or a
    matrix's ``diagonal``-th diagonal as a vector, as PyTorch's ``diag``."""
    k = int(diagonal)
    if input.ndim == 2:
        return _matrix_diagonal(input, k)
    if input.ndim != 1:
        raise RuntimeError(f"diag: expected a vector or a matrix; got shape {tuple(input.shape)}")
    m = input.shape[0] + abs(k)
    data = input._data
    xp = namespace(data)
    key = _diagonal_positions(xp, m, m, k, getattr(data, "device", None))
    if type(data) is not ndarray:
        key = _standard_key(key, xp.zeros((m, m), dtype=data.dtype, device=data.device))
    return IndexAdd.apply(input, key, (m, m))
