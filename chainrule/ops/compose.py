"""PyTorch's functions that are other ops put together: no Function of their own.

Each is written with the ops it stands for, so its gradient (and second derivative) is theirs,
and a drawing of the graph shows those gates: ``lerp(a, b, w)`` is a + w (b - a).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..autograd.tensor import Tensor
from ..backend import is_floating, namespace
from ._registry import register
from ._util import normalize_dim
from .elementwise import (
    Add,
    Clamp,
    Div,
    Log,
    Mul,
    Sub,
    Where,
    clamp,
    isfinite,
    isnan,
    log,
    where,
)
from .indexing import Index, getitem, index_select
from .shape import Permute, Reshape, cat, repeat, transpose


@register(Clamp, methods=("clamp_min",))
def clamp_min(input: Tensor, min: Any) -> Tensor:  # noqa: A002
    """``clamp(input, min=min)``."""
    return clamp(input, min=min)


@register(Clamp, methods=("clamp_max",))
def clamp_max(input: Tensor, max: Any) -> Tensor:  # noqa: A002
    """``clamp(input, max=max)``."""
    return clamp(input, max=max)


@register(Sub, Mul, Add, methods=("lerp",))
def lerp(input: Tensor, end: Any, weight: Any) -> Tensor:
    """input + weight (end - input): the straight line from input to end, as PyTorch's."""
    return input + weight * (end - input)


@register(Mul, Add, methods=("addcmul",))
def addcmul(input: Tensor, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """input + value * tensor1 * tensor2, as PyTorch's."""
    return input + value * tensor1 * tensor2


@register(Div, Mul, Add, methods=("addcdiv",))
def addcdiv(input: Tensor, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """input + value * tensor1 / tensor2, as PyTorch's."""
    return input + value * tensor1 / tensor2


@register(Permute, methods=("swapdims",))
def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """``transpose``, PyTorch's other name for it."""
    return transpose(input, dim0, dim1)


@register(Index, methods=("select",))
def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, that axis removed (``x[:, 2]`` is
    ``x.select(1, 2)``); a negative index counts from the end, as in PyTorch."""
    d = normalize_dim(dim, input.ndim, "select")
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select: index {index} is out of range for dimension {d} with size {n}")
    return getitem(input, (slice(None),) * d + (index,))


@register(Reshape, methods=("tile",))
def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    """``input`` repeated ``dims[k]`` times along each axis, as PyTorch's ``tile``: fewer dims
    than axes repeat the last axes (the rest once), more add leading axes."""
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, *dims)


@register(Index, methods=("repeat_interleave",))
def repeat_interleave(input: Tensor, repeats: Any, dim: int | None = None) -> Tensor:
    """Each element (each slice along ``dim``) repeated ``repeats`` times in place, as
    PyTorch's: ``repeats`` an int or one count per slice. Without ``dim``, of the flattened
    input. The gradient of a slice is the sum over its copies."""
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else normalize_dim(dim, x.ndim, "repeat_interleave")
    n = x.shape[d]
    xp = namespace(x._data)
    counts = repeats._data if isinstance(repeats, Tensor) else repeats
    if isinstance(counts, int):
        counts = xp.full((n,), counts, dtype=xp.int64, device=x._data.device)
    counts = xp.asarray(counts, device=x._data.device)
    if counts.ndim == 0:
        counts = xp.full((n,), int(counts), dtype=xp.int64, device=x._data.device)
    if counts.shape != (n,) or (counts.size and int(xp.min(counts)) < 0):
        raise RuntimeError(
            f"repeat_interleave: repeats must be a non-negative int or one count for each of "
            f"the {n} slices; got {repeats!r}"
        )
    index = xp.repeat(xp.arange(n, device=x._data.device), counts)
    return index_select(x, d, Tensor._make(index))


@register(Sub, methods=("diff",))
def diff(
    input: Tensor,
    n: int = 1,
    dim: int = -1,
    prepend: Tensor | None = None,
    append: Tensor | None = None,
) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (out[i] = x[i + 1] - x[i]), after joining
    ``prepend`` and ``append`` to it, as PyTorch's ``diff``."""
    d = normalize_dim(dim, input.ndim, "diff")
    x = cat([t for t in (prepend, input, append) if t is not None], d)
    for _ in range(n):
        head = (slice(None),) * d
        x = x[(*head, slice(1, None))] - x[(*head, slice(None, -1))]
    return x


@register(Div, Log, Clamp, methods=("logit",))
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """log(p / (1 - p)), the inverse of the sigmoid; with ``eps``, p clamped to
    [eps, 1 - eps] first, as PyTorch's."""
    p = input if eps is None else clamp(input, eps, 1 - eps)
    return log(p / (1 - p))


@register(Where, methods=("nan_to_num",))
def nan_to_num(
    input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Tensor:
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default 0 and the
    dtype's largest and lowest finite numbers), as PyTorch's; the gradient flows where the
    value was finite."""
    if not is_floating(input.dtype):
        return input.clone()  # no NaN or inf to replace
    xp = namespace(input._data)
    info = xp.finfo(input._data.dtype)
    hi = float(info.max) if posinf is None else posinf
    lo = float(info.min) if neginf is None else neginf
    out = where(isnan(input), nan, input)
    out = where(~isfinite(input) & (input > 0), hi, out)
    return where(~isfinite(input) & (input < 0), lo, out)
