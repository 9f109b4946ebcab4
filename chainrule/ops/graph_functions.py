"""The array functions backward rules call, as chainrule ops: ``ctx.xp`` under create_graph.

A built-in op's backward is written once, with the array module's names (``ctx.xp.where``,
``ctx.xp.exp``, ``ctx.xp.expand_dims``). In an ordinary backward ``ctx.xp`` is the array module
and the rule computes on arrays; under ``create_graph=True`` it is this namespace, whose
functions take the same arguments and return Tensors recorded in the graph, so the rule's result
can be differentiated again. Nothing here goes through NumPy's dispatch protocol
(``__array_function__``), which other array modules (CuPy) do not offer.

A backward rule may call only what is here (and operators and Tensor methods): a test runs every
op's second derivative with NumPy's dispatch switched off.
"""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Any

from ..autograd.tensor import Tensor
from ..backend import NUMPY, canonical_dtype, from_numpy, resolve
from .activations import tanh
from .elementwise import (
    abs,
    cast,
    clamp,
    exp,
    floor,
    log,
    log1p,
    maximum,
    minimum,
    sign,
    sqrt,
    where,
)
from .linalg import matmul
from .reduce import mean, sum
from .shape import (
    broadcast_to,
    cat,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)


def split_like_numpy(a: Tensor, indices_or_sections: Any, axis: int = 0) -> list:
    """NumPy's ``split`` (n equal sections, or cut points) on a Tensor."""
    n = a.shape[axis]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError("array split does not result in an equal division")
        return list(split(a, n // indices_or_sections, axis))
    cuts = [0, *indices_or_sections, n]
    return list(split(a, [hi - lo for lo, hi in zip(cuts, cuts[1:])], axis))


def transpose_like_numpy(a: Tensor, axes: Any = None) -> Tensor:
    """NumPy's ``transpose``: all axes reversed, or in the order ``axes``."""
    return permute(a, tuple(range(a.ndim - 1, -1, -1)) if axes is None else tuple(axes))


def expand_dims_like_numpy(a: Tensor, axis: Any) -> Tensor:
    """NumPy's ``expand_dims``: size-1 axes inserted at ``axis`` (an int or a tuple)."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    n = a.ndim + len(axes)
    for d in sorted(k % n for k in axes):
        a = unsqueeze(a, d)
    return a


def _zeros(shape: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """A constant of zeros (its derivative is 0) on ``device`` (a Tensor's; None: the CPU)."""
    d = None if dtype is None else canonical_dtype(dtype)
    return Tensor._make(from_numpy(NUMPY.zeros(shape, dtype=d), resolve(device)))


#: ``ctx.xp`` under create_graph: the array module's names, as differentiable chainrule ops.
GRAPH_FUNCTIONS = SimpleNamespace(
    abs=abs,
    astype=lambda x, dtype, copy=True: cast(x, canonical_dtype(dtype)),
    broadcast_to=broadcast_to,
    clip=lambda a, a_min=None, a_max=None: clamp(a, a_min, a_max),
    concat=lambda arrays, axis=0: (
        cat(list(arrays), axis) if axis is not None else cat([reshape(a, -1) for a in arrays])
    ),
    concatenate=lambda arrays, axis=0: cat(list(arrays), axis),
    errstate=lambda **kwargs: contextlib.nullcontext(),  # chainrule ops warn as NumPy does
    exp=exp,
    expand_dims=expand_dims_like_numpy,
    floor=floor,
    log=log,
    log1p=log1p,
    matmul=matmul,
    maximum=maximum,
    mean=lambda a, axis=None, keepdims=False: mean(a, axis, keepdims),
    minimum=minimum,
    permute_dims=lambda a, axes: permute(a, tuple(axes)),
    reshape=lambda a, shape: reshape(a, shape),
    sign=sign,
    split=split_like_numpy,
    sqrt=sqrt,
    squeeze=lambda a, axis=None: squeeze(a, axis),
    stack=lambda arrays, axis=0: stack(list(arrays), axis),
    sum=lambda a, axis=None, keepdims=False: sum(a, axis, keepdims),
    swapaxes=transpose,
    tanh=tanh,
    transpose=transpose_like_numpy,
    where=where,
    zeros=_zeros,
    empty=_zeros,  # a filled array: a recorded graph must not hold garbage
)
