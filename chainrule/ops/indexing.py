"""Indexing: ``x[key]`` with ints, slices, None, Ellipsis, integer arrays and boolean masks.

Backward scatters the gradient back into a zero array of x's shape, adding where an index repeats
(``x[[0, 0]]`` uses x[0] twice: its gradient is the sum of both).
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function, call
from ..autograd.tensor import Tensor
from ..backend import ndarray, xp
from ._registry import register


def _is_basic(key: Any) -> bool:
    """True when the key holds only ints, slices, None and Ellipsis (no index can repeat)."""
    parts = key if type(key) is tuple else (key,)
    return all(isinstance(k, (int, slice)) or k is None or k is Ellipsis for k in parts)


class Index(Function):
    """z = x[key]. Backward: scatter-add the gradient into zeros shaped like x."""

    symbol = "[ ]"
    local_grad = "1"
    vjp = ("upstream scattered back to the indexed positions",)

    on_arrays = True

    @staticmethod
    def forward(ctx, x, key):
        return x[key]

    @staticmethod
    def backward(ctx, grad):
        x, key = ctx.inputs
        return call(IndexAdd, grad, key, x.shape), None


class IndexAdd(Function):
    """z = zeros(shape) with g added at ``key`` (repeats add up). Its backward is indexing."""

    symbol = "scatter-add"
    local_grad = "1"
    vjp = ("upstream gathered at the indexed positions",)

    on_arrays = True

    @staticmethod
    def forward(ctx, g, key, shape):
        z = xp.zeros(shape, dtype=g.dtype)
        if _is_basic(key):
            z[key] = g
        else:
            xp.add.at(z, key, g)
        return z

    @staticmethod
    def backward(ctx, grad):
        key = ctx.inputs[1]
        return call(Index, grad, key), None, None


def index_key(key: Any) -> Any:
    """Turn tensors and lists inside an index into arrays, and check their dtypes."""
    if type(key) is tuple:
        return tuple(_key_part(k) for k in key)
    return _key_part(key)


def _key_part(k: Any) -> Any:
    if isinstance(k, (int, slice)) or k is None or k is Ellipsis:
        return k
    if isinstance(k, Tensor):
        k = k._data
    elif isinstance(k, (list, tuple)):
        k = xp.asarray(k) if len(k) else xp.zeros(0, xp.int64)  # [] selects nothing
    if isinstance(k, ndarray) or isinstance(k, xp.integer):
        if k.dtype.kind not in "biu":
            raise IndexError(
                f"tensors used as indices must be integer or bool; got dtype {k.dtype}"
            )
        return k
    raise IndexError(
        f"unsupported index of type {type(k).__name__}: use ints, slices, None, ..., integer "
        "arrays/tensors or boolean masks"
    )


@register(Index, methods=("__getitem__",))
def getitem(input: Tensor, key: Any) -> Tensor:
    """``input[key]`` as NumPy indexes, with a scatter-add backward for repeated indices."""
    key = index_key(key)
    try:
        return Index.apply(input, key)
    except IndexError as e:
        raise IndexError(f"indexing a tensor of shape {tuple(input.shape)}: {e}") from None
