"""The op table shared by the gradcheck, PyTorch-parity and second-order tests.

One row per op (or per spelling of an op): a name, the chainrule call, the same call in PyTorch,
and a Hypothesis strategy that draws an ``Example``: the float64 input arrays (each becomes a
tensor that requires grad) and the constant arguments (dims, keepdim, an index, a mask).

Shapes come from ``hypothesis.extra.numpy``; values come from a NumPy generator seeded by
Hypothesis (fast, and a failure still replays). Values are shaped so that central differences are
valid: positive where the op needs it, away from kinks (0 for abs/relu, the bounds of clamp) and
without ties for max/min (ties are tested on their own).

The PyTorch calls take the ``torch`` module as first argument, so this file never imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
import chainrule.nn.functional as F

SEEDS = st.integers(0, 2**32 - 1)

#: Scores of +-1e4 (rows with one large winner, near-ties, all very negative): e^1e4 overflows.
SCORES_1E4 = np.array([[1e4, -1e4, 0.0, 1e4 - 1.0], [-1e4, -1e4 + 2.0, -1e4 + 1.0, -1e4]])


class Example(NamedTuple):
    arrays: tuple  # float64 arrays: the differentiable inputs, in order
    params: dict  # everything else, passed to both calls as keyword arguments


@dataclass(frozen=True)
class Op:
    name: str
    cr: Callable[..., Any]  # (*tensors, **params) -> Tensor or tuple of Tensors
    torch: Callable[..., Any]  # (torch, *tensors, **params) -> the same in PyTorch
    example: st.SearchStrategy  # draws an Example
    gradcheck: dict = field(default_factory=dict)  # extra arguments (eps, atol) for gradcheck
    rtol: float = 1e-10  # PyTorch parity tolerance, forward values and gradients
    second_order: bool = True  # also in the gradgradcheck table

    def __repr__(self) -> str:
        return self.name


# ----- values -----
def normal(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return np.asarray(rng.standard_normal(shape), dtype=np.float64)


def positive(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return np.asarray(rng.uniform(0.5, 2.0, shape), dtype=np.float64)


def uniform(low: float, high: float) -> Callable[[np.random.Generator, tuple], np.ndarray]:
    """Uniform values in [low, high]: a function's domain (asin's), away from a pole (tan's)."""

    def fill(rng: np.random.Generator, shape: tuple) -> np.ndarray:
        return np.asarray(rng.uniform(low, high, shape), dtype=np.float64)

    return fill


def nonzero(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """|x| in [0.2, 2], either sign: away from the kink at 0."""
    sign = rng.choice([-1.0, 1.0], shape)
    return np.asarray(sign * rng.uniform(0.2, 2.0, shape), dtype=np.float64)


def away_from(points: tuple[float, ...]) -> Callable[[np.random.Generator, tuple], np.ndarray]:
    """Uniform values in [-2, 2] at least 0.05 from each of ``points`` (clamp's bounds)."""

    def fill(rng: np.random.Generator, shape: tuple) -> np.ndarray:
        x = np.asarray(rng.uniform(-2.0, 2.0, shape), dtype=np.float64)
        for p in points:
            x = np.where(np.abs(x - p) < 0.05, x + np.where(x >= p, 0.1, -0.1), x)
        return x

    return fill


def between_steps(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values in [-3, 3] whose fraction is in [0.1, 0.4] or [0.6, 0.9]: away from the jumps of
    floor, ceil, trunc (the integers) and round (the halves), where central differences hold."""
    whole = rng.integers(-3, 3, shape)
    frac = rng.uniform(0.1, 0.4, shape) + 0.5 * rng.integers(0, 2, shape)
    return np.asarray(whole + frac, dtype=np.float64)


def distinct(rng: np.random.Generator, shapes: tuple) -> list[np.ndarray]:
    """Values for all inputs together, pairwise at least 0.06 apart: no ties between any two."""
    sizes = [math.prod(s) for s in shapes]
    n = sum(sizes)
    vals = (rng.permutation(n) - n / 2) * 0.1 + rng.uniform(-0.02, 0.02, n)
    out, at = [], 0
    for s, k in zip(shapes, sizes):
        out.append(vals[at : at + k].reshape(s).astype(np.float64))
        at += k
    return out


# ----- shapes -----
def shapes_of(
    n: int,
    min_dims: int = 0,
    max_dims: int = 3,
    min_side: int = 1,
    max_side: int = 4,
    small: bool = False,
) -> st.SearchStrategy:
    """``n`` shapes that broadcast together (one shape when n == 1).

    ``small`` caps them at 2 dimensions of size 3 (second-order checks cost a backward per element).
    """
    if small:
        max_dims = max(min(max_dims, 2), min_dims)
        max_side = max(min(max_side, 3), min_side)
    if n == 1:
        return hnp.array_shapes(
            min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
        ).map(lambda s: (s,))
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda b: b.input_shapes)


@st.composite
def example(draw, shapes, fill=normal, params=None) -> Example:
    """Draw shapes, fill them (one fill for all inputs, a tuple of fills, or ``distinct``), and
    draw the constant arguments with ``params(draw, shapes, rng) -> dict``."""
    shp = draw(shapes)
    rng = np.random.default_rng(draw(SEEDS))
    if fill is distinct:
        arrays = distinct(rng, shp)
    elif isinstance(fill, tuple):
        arrays = [f(rng, s) for f, s in zip(fill, shp)]
    else:
        arrays = [fill(rng, s) for s in shp]
    return Example(tuple(arrays), params(draw, shp, rng) if params else {})


def fixed(*shapes: tuple) -> st.SearchStrategy:
    return st.just(tuple(shapes))


def _dims(draw, shape: tuple, allow_none: bool = True, allow_tuple: bool = True) -> Any:
    nd = len(shape)
    kinds = (["none"] if allow_none else []) + (["int"] + ["tuple"] * allow_tuple if nd else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-nd, nd - 1))
    axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    return tuple(a - nd if draw(st.booleans()) else a for a in axes)


def reduce_params(allow_none: bool = True, allow_tuple: bool = True):
    def params(draw, shapes, rng):
        return {
            "dim": _dims(draw, shapes[0], allow_none, allow_tuple),
            "keepdim": draw(st.booleans()),
            "numpy_names": draw(st.booleans()),  # axis=/keepdims= rather than dim=/keepdim=
        }

    return params


# ----- how each call is spelled -----
def _reduction(fn: Callable) -> Callable:
    """chainrule reduction with PyTorch's or NumPy's argument names."""

    def call(x, dim, keepdim, numpy_names):
        if numpy_names:
            return fn(x, axis=dim, keepdims=keepdim)
        if dim is None:
            return fn(x, keepdim=keepdim)
        return fn(x, dim, keepdim)

    return call


def _all_dims(dim: Any, x: Any) -> Any:
    """PyTorch's amax/logsumexp spell "every dimension" as a tuple of them."""
    return tuple(range(x.ndim)) if dim is None else dim


def _cr_var(fn: Callable) -> Callable:
    def call(x, dim, keepdim, numpy_names, correction):
        if numpy_names:
            return fn(x, axis=dim, keepdims=keepdim, unbiased=bool(correction))
        return fn(x, dim, keepdim=keepdim, correction=correction)

    return call


def _var_params(draw, shapes, rng):
    p = reduce_params()(draw, shapes, rng)
    p["correction"] = draw(st.sampled_from([0, 1]))
    return p


def _max_dim_params(draw, shapes, rng):
    nd = len(shapes[0])
    return {
        "dim": draw(st.integers(-nd, nd - 1)),
        "keepdim": draw(st.booleans()),
        "numpy_names": draw(st.booleans()),
    }


def _extreme_dim(fn: Callable) -> Callable:
    def call(x, dim, keepdim, numpy_names):
        if numpy_names:
            return fn(x, axis=dim, keepdims=keepdim).values
        return fn(x, dim, keepdim).values

    return call


# ----- shape ops -----
@st.composite
def _reshape_example(draw, small: bool = False) -> Example:
    (shape,) = draw(shapes_of(1, small=small))
    n = math.prod(shape)
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    a = draw(st.sampled_from(divisors))
    target = draw(
        st.sampled_from([(n,), (-1,), (a, n // a), (a, -1), (-1, a, 1), (1, n // a, a), shape])
    )
    rng = np.random.default_rng(draw(SEEDS))
    return Example((normal(rng, shape),), {"shape": target, "spelling": draw(st.integers(0, 2))})


def _cr_reshape(method: str) -> Callable:
    def call(x, shape, spelling):
        if spelling == 0:
            return getattr(x, method)(*shape)  # x.reshape(2, 6)
        if spelling == 1:
            return getattr(x, method)(shape)  # x.reshape((2, 6))
        return getattr(cr, method)(x, shape)  # cr.reshape(x, (2, 6))

    return call


def _flatten_params(draw, shapes, rng):
    nd = max(len(shapes[0]), 1)
    s = draw(st.integers(0, nd - 1))
    e = draw(st.integers(s, nd - 1))
    neg = draw(st.booleans())
    return {"start_dim": s - nd if neg else s, "end_dim": e - nd if neg else e}


def _transpose_params(draw, shapes, rng):
    nd = len(shapes[0])
    return {"dim0": draw(st.integers(-nd, nd - 1)), "dim1": draw(st.integers(-nd, nd - 1))}


def _gather_params(draw, shapes, rng):
    shape = shapes[0]
    d = draw(st.integers(0, len(shape) - 1))
    sizes = [
        draw(st.integers(1, 4)) if a == d else draw(st.integers(1, n)) for a, n in enumerate(shape)
    ]
    return {"dim": d, "index": rng.integers(0, shape[d], sizes).astype(np.int64)}


@st.composite
def _scatter_example(draw, unique: bool) -> Example:
    """An input, a dim, an index no larger than the input off that dim, and a src of the
    index's shape; ``unique``: no two values of one line of the index alike (``scatter``,
    whose repeated places PyTorch leaves unspecified)."""
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    d = draw(st.integers(0, nd - 1))
    sizes = [
        draw(st.integers(1, shape[d] if unique else 4)) if a == d else draw(st.integers(1, n))
        for a, n in enumerate(shape)
    ]
    rng = np.random.default_rng(draw(SEEDS))
    if unique:  # each line along d: the first sizes[d] of a shuffle of 0 .. shape[d] - 1
        lines = np.argsort(rng.random((*sizes[:d], *sizes[d + 1 :], shape[d])), axis=-1)
        index = np.moveaxis(lines[..., : sizes[d]], -1, d)
    else:
        index = rng.integers(0, shape[d], sizes)
    arrays = (normal(rng, shape), normal(rng, tuple(sizes)))
    dim = d - nd if draw(st.booleans()) else d
    return Example(arrays, {"dim": dim, "index": index.astype(np.int64)})


def _select_one_params(draw, shapes, rng):
    shape = shapes[0]
    d = draw(st.integers(-len(shape), len(shape) - 1))
    return {"dim": d, "index": draw(st.integers(-shape[d], shape[d] - 1))}


def _tile_params(draw, shapes, rng):
    return {"dims": tuple(draw(st.lists(st.integers(1, 2), min_size=1, max_size=3)))}


def _repeat_interleave_params(draw, shapes, rng):
    shape = shapes[0]
    if not shape or draw(st.booleans()):
        return {"repeats": draw(st.integers(0, 2)), "dim": None}
    d = draw(st.integers(-len(shape), len(shape) - 1))
    return {"repeats": rng.integers(0, 3, shape[d]).astype(np.int64), "dim": d}


def _diff_params(draw, shapes, rng):
    shape = shapes[0]
    d = draw(st.integers(-len(shape), len(shape) - 1))
    return {"n": draw(st.integers(1, 2)), "dim": d}


def _select_params(draw, shapes, rng):
    shape = shapes[0]
    d = draw(st.integers(-len(shape), len(shape) - 1))
    return {"dim": d, "index": rng.integers(0, shape[d], draw(st.integers(1, 5))).astype(np.int64)}


def _mask_params(draw, shapes, rng):
    params = {"mask": np.asarray(rng.random(shapes[0]) < 0.5)}
    if len(shapes) == 1:
        params["value"] = draw(st.sampled_from([0.0, -1.5, 2.0]))
    return params


def _sort_params(draw, shapes, rng):
    nd = len(shapes[0])
    return {"dim": draw(st.integers(-nd, nd - 1)), "descending": draw(st.booleans())}


def _topk_params(draw, shapes, rng):
    shape = shapes[0]
    d = draw(st.integers(0, len(shape) - 1))
    k = draw(st.integers(0, shape[d]))
    return {"dim": d, "k": k, "largest": draw(st.booleans())}


def _prod_params(draw, shapes, rng):
    nd = len(shapes[0])
    dim = None if nd == 0 or draw(st.booleans()) else draw(st.integers(-nd, nd - 1))
    return {"dim": dim, "keepdim": draw(st.booleans())}


def _norm_params(draw, shapes, rng):
    nd = len(shapes[0])
    dims = None if nd == 0 or draw(st.booleans()) else draw(st.integers(-nd, nd - 1))
    p = draw(st.sampled_from([2, 1, 3, 1.5, "fro", math.inf, -math.inf]))
    return {"p": p, "dim": dims, "keepdim": draw(st.booleans())}


def _narrow_params(draw, shapes, rng):
    shape = shapes[0]
    d = draw(st.integers(0, len(shape) - 1))
    start = draw(st.integers(0, shape[d] - 1))
    return {"dim": d, "start": start, "length": draw(st.integers(0, shape[d] - start))}


def _movedim_params(draw, shapes, rng):
    nd = len(shapes[0])
    k = draw(st.integers(1, nd))
    source = draw(st.permutations(range(nd)))[:k]
    destination = draw(st.permutations(range(nd)))[:k]
    return {"source": tuple(source), "destination": tuple(destination)}


def _repeat_params(draw, shapes, rng):
    nd = len(shapes[0])
    extra = draw(st.integers(0 if nd else 1, 1))  # PyTorch's repeat takes at least one size
    return {"sizes": tuple(draw(st.integers(1, 3)) for _ in range(nd + extra))}


def _pad_params(draw, shapes, rng):
    """F.pad's amounts for the last one or two dimensions (crops included) and a mode; reflect
    pads less than the side, circular at most the side, as PyTorch asks."""
    shape = shapes[0]
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    # PyTorch pads the last k dimensions of (k + 1)- or (k + 2)-d input in the other modes
    ks = [k for k in (1, 2) if k <= len(shape) and (mode == "constant" or len(shape) - k in (1, 2))]
    if not ks:
        mode, ks = "constant", [1]
    k = draw(st.sampled_from(ks))
    pad = []
    for n in reversed(shape[-k:]):
        top = {"constant": 2, "reflect": n - 1, "replicate": 2, "circular": n}[mode]
        low = -(n // 2) if mode == "constant" else 0
        pad += [draw(st.integers(low, top)), draw(st.integers(low, top))]
    return {"pad": tuple(pad), "mode": mode}


def _diagonal_dims_params(draw, shapes, rng):
    nd = len(shapes[0])
    dims = draw(st.permutations(range(nd)))[:2]
    return {"offset": draw(st.integers(-2, 2)), "dim1": dims[0], "dim2": dims[1]}


def _flip_params(draw, shapes, rng):
    nd = len(shapes[0])
    dims = draw(
        st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd, unique_by=lambda d: d % nd)
    )
    return {"dims": dims[0] if len(dims) == 1 and draw(st.booleans()) else tuple(dims)}


def _roll_params(draw, shapes, rng):
    nd = len(shapes[0])
    if draw(st.booleans()):  # the flattened tensor
        return {"shifts": draw(st.integers(-5, 5)), "dims": None}
    dims = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    return {"shifts": tuple(draw(st.integers(-5, 5)) for _ in dims), "dims": tuple(dims)}


def _diagonal_params(draw, shapes, rng):
    return {"diagonal": draw(st.integers(-2, 2))}


def _dim_param(draw, shapes, rng):
    nd = len(shapes[0])
    return {"dim": draw(st.integers(-nd, nd - 1))}


def _permute_params(draw, shapes, rng):
    nd = len(shapes[0])
    return {"dims": tuple(draw(st.permutations(range(nd)))), "as_tuple": draw(st.booleans())}


@st.composite
def _squeeze_example(draw, small: bool = False) -> Example:
    (shape,) = draw(shapes_of(1, min_dims=1, max_dims=4, max_side=3, small=small))
    shape = tuple(1 if draw(st.booleans()) else s for s in shape)
    nd = len(shape)
    dim = draw(
        st.one_of(
            st.none(),
            st.integers(-nd, nd - 1),
            st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple),
        )
    )
    rng = np.random.default_rng(draw(SEEDS))
    return Example((normal(rng, shape),), {"dim": dim})


def _unsqueeze_params(draw, shapes, rng):
    nd = len(shapes[0])
    return {"dim": draw(st.integers(-nd - 1, nd))}


@st.composite
def _expand_example(draw, small: bool = False) -> Example:
    """A target shape and an input that broadcasts to it (fewer dims, sizes 1 where it grows)."""
    (target,) = draw(shapes_of(1, min_dims=0, max_dims=4, max_side=3, small=small))
    lead = draw(st.integers(0, len(target)))
    shape = tuple(1 if draw(st.booleans()) else s for s in target[lead:])
    sizes = tuple(
        -1 if k >= lead and shape[k - lead] == s and draw(st.booleans()) else s
        for k, s in enumerate(target)
    )
    rng = np.random.default_rng(draw(SEEDS))
    params = {"sizes": sizes, "target": target, "as_tuple": draw(st.booleans())}
    return Example((normal(rng, shape),), params)


@st.composite
def _cat_example(draw, stack: bool = False, small: bool = False) -> Example:
    (shape,) = draw(shapes_of(1, min_dims=1, max_side=3, small=small))
    nd = len(shape)
    k = draw(st.integers(1, 3))
    d = draw(st.integers(-nd - stack, nd - 1 + stack))
    shapes = []
    for _ in range(k):
        s = list(shape)
        if not stack:
            s[d] = draw(st.integers(1, 3))
        shapes.append(tuple(s))
    rng = np.random.default_rng(draw(SEEDS))
    arrays = tuple(normal(rng, s) for s in shapes)
    return Example(arrays, {"dim": d, "numpy_names": draw(st.booleans())})


def _cr_join(fn: Callable) -> Callable:
    def call(*xs, dim, numpy_names):
        return fn(list(xs), axis=dim) if numpy_names else fn(list(xs), dim)

    return call


@st.composite
def _split_example(draw, kind: str, small: bool = False) -> Example:
    (shape,) = draw(shapes_of(1, min_dims=1, max_side=5, small=small))
    nd = len(shape)
    d = draw(st.integers(-nd, nd - 1))
    n = shape[d]
    if kind == "sizes":
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        arg: Any = [b - a for a, b in zip([0, *cuts], [*cuts, n])]
    else:
        arg = draw(st.integers(1, n + 1))
    rng = np.random.default_rng(draw(SEEDS))
    return Example((normal(rng, shape),), {"arg": arg, "dim": d})


# ----- indexing -----
def flat_gather(torch: Any, x: Any, shape: tuple, key: Any) -> Any:
    """``x[key]`` with NumPy's semantics, done by PyTorch as a gather of flat positions.

    PyTorch's own ``__getitem__`` takes no negative steps and places advanced indices apart from
    NumPy in some mixed keys; a gather of the positions NumPy selects is PyTorch's autograd of
    exactly NumPy's indexing (repeated positions accumulate in its backward).
    """
    positions = np.asarray(np.arange(math.prod(shape)).reshape(shape)[numpy_key(key)])
    return x.reshape(-1)[torch.from_numpy(np.ascontiguousarray(positions).reshape(-1))].reshape(
        positions.shape
    )


def numpy_key(key: Any) -> Any:
    """The key with chainrule tensors replaced by their arrays."""
    if isinstance(key, tuple):
        return tuple(numpy_key(k) for k in key)
    if isinstance(key, cr.Tensor):
        return key.numpy()
    if isinstance(key, list):
        return np.asarray(key)
    return key


def torch_key(torch: Any, key: Any) -> Any:
    if isinstance(key, tuple):
        return tuple(torch_key(torch, k) for k in key)
    if isinstance(key, cr.Tensor):
        return torch.from_numpy(key.numpy().copy())
    if isinstance(key, (np.ndarray, list)):  # PyTorch reads a nested list as a tuple
        return torch.from_numpy(np.array(key))
    return key


@st.composite
def _basic_index_example(draw, small: bool = False) -> Example:
    (shape,) = draw(shapes_of(1, min_dims=0, max_dims=3, max_side=5, small=small))
    key = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    rng = np.random.default_rng(draw(SEEDS))
    return Example((normal(rng, shape),), {"key": key})


@st.composite
def _int_array_example(draw, small: bool = False) -> Example:
    """One integer array (repeats and negative values included) on one axis; given as a NumPy
    array, a chainrule int tensor or a list."""
    (shape,) = draw(shapes_of(1, min_dims=1, max_dims=3, max_side=4, small=small))
    rng = np.random.default_rng(draw(SEEDS))
    nd = len(shape)
    axis = draw(st.integers(0, nd - 1))
    n = shape[axis]
    (ishape,) = draw(shapes_of(1, min_dims=1, max_dims=2, max_side=4, small=small))
    idx = rng.integers(-n, n, ishape)
    form = draw(st.sampled_from(["numpy", "tensor", "list"]))
    part: Any = {"numpy": idx, "tensor": cr.tensor(idx), "list": idx.tolist()}[form]
    if axis == nd - 1 and draw(st.booleans()):
        key: Any = (Ellipsis, part)
    elif axis == 0 and draw(st.booleans()):
        key = part
    else:
        key = (slice(None),) * axis + (part,)
    return Example((normal(rng, shape),), {"key": key})


@st.composite
def _pick_example(draw, small: bool = False) -> Example:
    """``scores[cr.arange(N), y]``: each row's score of its correct class (softmax loss)."""
    n, c = draw(st.integers(1, 3 if small else 6)), draw(st.integers(1, 3 if small else 5))
    rng = np.random.default_rng(draw(SEEDS))
    y = rng.integers(0, c, n)
    if draw(st.booleans()):
        key = (cr.arange(n), cr.tensor(y))
    else:
        key = (np.arange(n), y)
    return Example((normal(rng, (n, c)),), {"key": key})


@st.composite
def _mask_example(draw, small: bool = False) -> Example:
    (shape,) = draw(shapes_of(1, min_dims=1, max_dims=3, max_side=4, small=small))
    rng = np.random.default_rng(draw(SEEDS))
    k = draw(st.integers(1, len(shape)))  # the mask covers the first k axes
    mask = rng.random(shape[:k]) < 0.5
    key = cr.tensor(mask) if draw(st.booleans()) else mask
    return Example((normal(rng, shape),), {"key": key})


#: (shape, key) cases that mix slices, ints, None, Ellipsis, integer arrays and masks.
MIXED_KEYS: list[tuple[tuple, Any]] = [
    ((5,), slice(None, None, -1)),
    ((5, 4), (slice(4, 0, -2), slice(None, None, -1))),
    ((3, 4, 5), (Ellipsis, None, slice(-1, None, -3))),
    ((3, 4, 5), (np.array([0, 2]), slice(None), np.array([1, 4]))),  # advanced indices apart
    ((3, 4, 5), (1, slice(None), np.array([2, 2, 0]))),  # an int counts as advanced (NumPy)
    ((3, 4, 5), (slice(1, 3), np.array([[0, 0], [3, 1]]))),
    ((3, 4, 5), (Ellipsis, np.array([4, 4, 0]))),
    ((3, 4, 5), (None, 1, np.array([0, 0, 2]))),
    ((3, 4, 5), (np.array([[1], [2]]), np.array([0, 3, 3]))),  # index arrays broadcast
    ((3, 4, 5), (np.array([-1, 0, -1]), slice(None, None, -1), 2)),
    ((4, 5), (np.array([True, False, True, True]), slice(0, 3))),
    ((4, 5), (slice(None), np.array([False, True, True, False, True]))),
    ((4, 5), [0, 0, 3]),
    ((4, 5), (cr.tensor([3, 3, 3]), cr.tensor([0, 4, 0]))),
    ((2, 3), (Ellipsis,)),
    ((2, 3), ()),
    ((2, 3), (1, 2)),
]


@st.composite
def _mixed_index_example(draw, small: bool = False) -> Example:
    shape, key = draw(st.sampled_from(MIXED_KEYS))
    rng = np.random.default_rng(draw(SEEDS))
    return Example((normal(rng, shape),), {"key": key})


def _cr_index(x, key):
    return x[key]


def _torch_index(torch, x, key):
    return x[torch_key(torch, key)]


def _torch_numpy_index(torch, x, key):
    return flat_gather(torch, x, tuple(x.shape), key)


# ----- matmul -----
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((2, 1, 2, 3), (5, 3, 4)),  # batch dims broadcast
    ((4, 2, 3), (3, 5)),  # batch x 2-d
    ((2, 3), (4, 3, 5)),  # 2-d x batch
    ((3,), (2, 3, 4)),  # 1-d x batch
    ((2, 2, 3), (3,)),  # batch x 1-d
    ((1, 2, 3), (4, 1, 3, 2)),
]


# ----- the table -----
def _where_example(small: bool):
    def params(draw, shapes, rng):
        return {"cond": rng.random(shapes[2]) < 0.5}

    shapes = shapes_of(3, small=small)
    return example(shapes, normal, params).map(
        lambda e: Example(e.arrays[:2], e.params)  # the condition is a constant, not an input
    )


def _scalar_pow_params(draw, shapes, rng):
    return {"p": draw(st.sampled_from([3.0, 0.5, -1.5, 2, 1]))}


def _clamp_params(draw, shapes, rng):
    return draw(st.sampled_from([{"lo": -0.5, "hi": 0.5}, {"lo": -0.5}, {"hi": 0.5}]))


def _cr_clamp(x, lo=None, hi=None):
    return cr.clamp(x, min=lo, max=hi)


def _torch_clamp(torch, x, lo=None, hi=None):
    return torch.clamp(x, min=lo, max=hi)


def _slope_params(draw, shapes, rng):
    return {"a": draw(st.sampled_from([None, 0.1, 0.5]))}


def _kw(name: str, a: Any) -> dict:
    return {} if a is None else {name: a}


def _reduce_dim_params(draw, shapes, rng):
    nd = len(shapes[0])
    return {"dim": draw(st.integers(-nd, nd - 1)), "method": draw(st.booleans())}


# ----- losses -----
@st.composite
def _class_scores_example(draw, small: bool = False, binary: bool = False) -> Example:
    """Scores (N, C) or (C,) with class targets, or probabilities with 0/1-ish targets."""
    n, c = draw(st.integers(1, 3 if small else 5)), draw(st.integers(2, 3 if small else 5))
    batched = draw(st.booleans())
    rng = np.random.default_rng(draw(SEEDS))
    shape = (n, c) if batched else (c,)
    params = {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))}
    if binary:
        params["target"] = np.round(rng.uniform(0.0, 1.0, shape), 2)
        fill = np.asarray(rng.uniform(0.05, 0.95, shape), dtype=np.float64)
        return Example((fill,), params)
    params["target"] = np.asarray(rng.integers(0, c, shape[:-1]), dtype=np.int64)
    return Example((normal(rng, shape),), params)


def _loss(name: str, **extra: Any) -> tuple[Callable, Callable]:
    """The loss in chainrule's and PyTorch's ``nn.functional`` (targets as tensors)."""

    def ours(x, target, reduction):
        return getattr(cr.nn.functional, name)(
            x, cr.tensor(target, device=x.device), reduction=reduction, **extra
        )

    def theirs(torch, x, target, reduction):
        fn = getattr(torch.nn.functional, name)
        return fn(x, torch.from_numpy(np.array(target)), reduction=reduction, **extra)

    return ours, theirs


def _clamp_tensor_example(small: bool):
    """x, lo, hi pairwise apart (no ties), crossed bounds included; the bounds broadcast to x
    (PyTorch's clamp does not grow x to the bounds' shape in every case)."""
    shapes = shapes_of(3, small=small).map(lambda s: (np.broadcast_shapes(*s), s[1], s[2]))
    return example(shapes, distinct)


def _remainder_example(shapes: st.SearchStrategy, scalar: float | None = None):
    """x and y of one shape for x % y (or x alone, for ``x % scalar``): |y| in [0.5, 2.5], x / y
    between steps, away from the jumps of floor(x / y)."""

    @st.composite
    def draw(d: Any) -> Example:
        (shape,) = d(shapes)
        rng = np.random.default_rng(d(SEEDS))
        y = np.full(shape, scalar) if scalar is not None else nonzero(rng, shape) + 0.3
        x = between_steps(rng, shape) * y
        return Example((x,) if scalar is not None else (x, y), {})

    return draw()


def build(small: bool = False) -> list[Op]:
    """The table; ``small`` keeps every shape small enough for second-order checks."""

    def S(n: int, **kw: Any) -> st.SearchStrategy:  # noqa: N802
        return shapes_of(n, small=small, **kw)

    def binary(fill: Any = normal, **kw: Any) -> st.SearchStrategy:
        return example(S(2, **kw), fill)

    def unary(fill: Any = normal, params: Any = None, **kw: Any) -> st.SearchStrategy:
        return example(S(1, **kw), fill, params)

    return [
        # ----- arithmetic, broadcasting -----
        Op("add", cr.add, lambda t, x, y: t.add(x, y), binary()),
        Op("sub", cr.sub, lambda t, x, y: t.sub(x, y), binary()),
        Op("mul", cr.mul, lambda t, x, y: t.mul(x, y), binary()),
        Op("div", cr.div, lambda t, x, y: t.div(x, y), binary((normal, nonzero))),
        Op(
            "operators",
            lambda x, y: (x + y) * x - y / (x * x + 1),
            lambda t, x, y: (x + y) * x - y / (x * x + 1),
            binary(),
        ),
        Op("pow_tensor", cr.pow, lambda t, x, y: t.pow(x, y), binary((positive, normal))),
        Op("pow_operator", lambda x, y: x**y, lambda t, x, y: x**y, binary((positive, normal))),
        Op(
            "pow_scalar",
            lambda x, p: x**p,
            lambda t, x, p: x**p,
            unary(positive, _scalar_pow_params),
        ),
        Op(
            "pow_scalar_fn",
            lambda x, p: cr.pow(x, p),
            lambda t, x, p: t.pow(x, p),
            unary(positive, _scalar_pow_params),
        ),
        Op("square", lambda x: x**2, lambda t, x: x**2, unary()),
        Op("rpow", lambda x: 2**x, lambda t, x: 2**x, unary()),
        Op("rsub", lambda x: 2 - x, lambda t, x: 2 - x, unary()),
        Op("rtruediv", lambda x: 2 / x, lambda t, x: 2 / x, unary(nonzero)),
        Op("radd_rmul", lambda x: 1.5 + 2.5 * x, lambda t, x: 1.5 + 2.5 * x, unary()),
        Op(
            "scalar_right", lambda x: (x - 2) / 4 * 3 + 1, lambda t, x: (x - 2) / 4 * 3 + 1, unary()
        ),
        Op("neg", cr.neg, lambda t, x: t.neg(x), unary()),
        Op("neg_operator", lambda x: -x, lambda t, x: -x, unary()),
        Op("abs", cr.abs, lambda t, x: t.abs(x), unary(nonzero)),
        Op("exp", cr.exp, lambda t, x: t.exp(x), unary()),
        Op("log", cr.log, lambda t, x: t.log(x), unary(positive)),
        Op("sqrt", cr.sqrt, lambda t, x: t.sqrt(x), unary(positive)),
        Op("log1p", cr.log1p, lambda t, x: t.log1p(x), unary(positive)),
        Op("sin", cr.sin, lambda t, x: t.sin(x), unary()),
        Op("cos", cr.cos, lambda t, x: t.cos(x), unary()),
        Op("tan", cr.tan, lambda t, x: t.tan(x), unary(uniform(-1.2, 1.2))),
        Op("asin", cr.asin, lambda t, x: t.asin(x), unary(uniform(-0.9, 0.9))),
        Op("acos", cr.acos, lambda t, x: t.acos(x), unary(uniform(-0.9, 0.9))),
        Op("atan", cr.atan, lambda t, x: t.atan(x), unary()),
        Op("sinh", cr.sinh, lambda t, x: t.sinh(x), unary()),
        Op("cosh", cr.cosh, lambda t, x: t.cosh(x), unary()),
        Op("asinh", cr.asinh, lambda t, x: t.asinh(x), unary()),
        Op("acosh", cr.acosh, lambda t, x: t.acosh(x), unary(uniform(1.2, 3.0))),
        Op("atanh", cr.atanh, lambda t, x: t.atanh(x), unary(uniform(-0.9, 0.9))),
        Op("log2", cr.log2, lambda t, x: t.log2(x), unary(positive)),
        Op("log10", cr.log10, lambda t, x: t.log10(x), unary(positive)),
        Op("exp2", cr.exp2, lambda t, x: t.exp2(x), unary()),
        Op("atan2", cr.atan2, lambda t, y, x: t.atan2(y, x), binary((nonzero, nonzero))),
        Op("hypot", cr.hypot, lambda t, x, y: t.hypot(x, y), binary((nonzero, nonzero))),
        Op("xlogy", cr.xlogy, lambda t, x, y: t.xlogy(x, y), binary((normal, positive))),
        Op(
            "xlogy_at_zero",  # x = 0 exactly: the value 0, the slope along x still log y
            lambda x, y: cr.xlogy(x * 0.0, y) + cr.xlogy(x, y),
            lambda t, x, y: t.xlogy(x * 0.0, y) + t.xlogy(x, y),
            binary((normal, positive)),
        ),
        Op("reciprocal", cr.reciprocal, lambda t, x: t.reciprocal(x), unary(nonzero)),
        # ----- other ops put together (chainrule/ops/compose.py) -----
        Op(
            "clamp_min_max",
            lambda x: cr.clamp_max(x.clamp_min(-0.5), 0.7),
            lambda t, x: t.clamp_max(x.clamp_min(-0.5), 0.7),
            unary(away_from((-0.5, 0.7))),
        ),
        Op(
            "lerp",
            cr.lerp,
            lambda t, x, y, w: t.lerp(x, y, w),
            example(S(3), (normal, normal, uniform(0.0, 1.0))),
        ),
        Op(
            "addcmul_addcdiv",
            lambda x, y, z: cr.addcdiv(cr.addcmul(x, y, z, value=0.5), y, z, value=-2),
            lambda t, x, y, z: t.addcdiv(t.addcmul(x, y, z, value=0.5), y, z, value=-2),
            example(S(3), (normal, normal, nonzero)),
        ),
        Op(
            "swapdims",
            lambda x: x.swapdims(0, -1),
            lambda t, x: x.swapdims(0, -1),
            unary(min_dims=1),
        ),
        Op(
            "select",
            lambda x, dim, index: x.select(dim, index),
            lambda t, x, dim, index: x.select(dim, index),
            unary(params=_select_one_params, min_dims=1),
        ),
        Op(
            "tile",
            lambda x, dims: x.tile(dims),
            lambda t, x, dims: x.tile(dims),
            unary(params=_tile_params),
        ),
        Op(
            "repeat_interleave",
            lambda x, repeats, dim: x.repeat_interleave(
                repeats if isinstance(repeats, int) else cr.tensor(repeats), dim
            ),
            lambda t, x, repeats, dim: x.repeat_interleave(
                repeats if isinstance(repeats, int) else t.from_numpy(repeats), dim
            ),
            unary(params=_repeat_interleave_params),
        ),
        Op(
            "diff",
            lambda x, n, dim: x.diff(n, dim),
            lambda t, x, n, dim: x.diff(n, dim),
            unary(params=_diff_params, min_dims=1),
        ),
        Op("logit", cr.logit, lambda t, x: t.logit(x), unary(uniform(0.1, 0.9))),
        Op("nan_to_num", cr.nan_to_num, lambda t, x: t.nan_to_num(x), unary()),
        Op("rsqrt", cr.rsqrt, lambda t, x: t.rsqrt(x), unary(positive)),
        Op(
            "prod",
            lambda x, dim, keepdim: x.prod() if dim is None else x.prod(dim, keepdim),
            lambda t, x, dim, keepdim: x.prod() if dim is None else x.prod(dim, keepdim),
            unary(params=_prod_params, max_side=3),
        ),
        Op(
            "prod_with_zeros",
            lambda x: (x * x.gt(0)).prod(-1),
            lambda t, x: (x * x.gt(0)).prod(-1),
            unary(nonzero, min_dims=1),
        ),
        Op(
            "norm",
            lambda x, p, dim, keepdim: x.norm(p, dim, keepdim),
            lambda t, x, p, dim, keepdim: x.norm(p, dim, keepdim),
            unary(nonzero, _norm_params),
        ),
        Op("expm1", cr.expm1, lambda t, x: t.expm1(x), unary()),
        Op("square_fn", cr.square, lambda t, x: t.square(x), unary()),
        Op("floor", cr.floor, lambda t, x: t.floor(x), unary(between_steps)),
        Op("ceil", cr.ceil, lambda t, x: t.ceil(x), unary(between_steps)),
        Op("trunc", cr.trunc, lambda t, x: t.trunc(x), unary(between_steps)),
        Op("round", cr.round, lambda t, x: t.round(x), unary(between_steps)),
        Op(
            "round_decimals",
            lambda x: cr.round(x / 10, decimals=1),
            lambda t, x: t.round(x / 10, decimals=1),
            unary(between_steps),
        ),
        Op("remainder", cr.remainder, lambda t, x, y: t.remainder(x, y), _remainder_example(S(1))),
        Op(
            "remainder_operator",
            lambda x: (x % 1.75) * x,
            lambda t, x: (x % 1.75) * x,
            _remainder_example(S(1), 1.75),
        ),
        Op("maximum", cr.maximum, lambda t, x, y: t.maximum(x, y), binary(distinct)),
        Op("minimum", cr.minimum, lambda t, x, y: t.minimum(x, y), binary(distinct)),
        Op("max_binary", cr.max, lambda t, x, y: t.max(x, y), binary(distinct)),
        Op("min_binary", lambda x, y: x.min(y), lambda t, x, y: x.min(y), binary(distinct)),
        Op(
            "where",
            lambda x, y, cond: cr.where(cr.tensor(cond, device=x.device), x, y),
            lambda t, x, y, cond: t.where(t.from_numpy(np.asarray(cond)), x, y),
            _where_example(small),
        ),
        Op("clamp", _cr_clamp, _torch_clamp, unary(away_from((-0.5, 0.5)), _clamp_params)),
        Op(
            "clamp_tensor_bounds",
            lambda x, lo, hi: cr.clamp(x, lo, hi),
            lambda t, x, lo, hi: t.clamp(x, lo, hi),
            _clamp_tensor_example(small),
        ),
        Op(
            "clamp_tensor_min",
            lambda x, lo: x.clamp(min=lo),
            lambda t, x, lo: x.clamp(min=lo),
            example(S(2), distinct),
        ),
        # ----- activations -----
        Op("tanh", cr.tanh, lambda t, x: t.tanh(x), unary()),
        Op("silu", F.silu, lambda t, x: t.nn.functional.silu(x), unary()),
        Op("logsigmoid", F.logsigmoid, lambda t, x: t.nn.functional.logsigmoid(x), unary()),
        Op(
            "hardtanh",
            lambda x: F.hardtanh(x, -0.5, 0.5),
            lambda t, x: t.nn.functional.hardtanh(x, -0.5, 0.5),
            unary(away_from((-0.5, 0.5))),
        ),
        Op(
            "pad",
            lambda x, pad, mode: F.pad(x, pad, mode),
            lambda t, x, pad, mode: t.nn.functional.pad(x, pad, mode),
            unary(params=_pad_params, min_dims=1),
        ),
        Op("sigmoid", cr.sigmoid, lambda t, x: t.sigmoid(x), unary()),
        Op("relu", cr.relu, lambda t, x: t.relu(x), unary(nonzero)),
        Op(
            "leaky_relu",
            lambda x, a: cr.leaky_relu(x, **_kw("negative_slope", a)),
            lambda t, x, a: t.nn.functional.leaky_relu(x, **_kw("negative_slope", a)),
            unary(nonzero, _slope_params),
        ),
        Op(
            "elu",
            lambda x, a: cr.elu(x, **_kw("alpha", a)),
            lambda t, x, a: t.nn.functional.elu(x, **_kw("alpha", a)),
            unary(nonzero, _slope_params),
        ),
        Op(
            "softplus", cr.nn.functional.softplus, lambda t, x: t.nn.functional.softplus(x), unary()
        ),
        Op(
            "softplus_linear_part",  # beta x > threshold (at x > 1) is linear, as in PyTorch
            lambda x: cr.nn.functional.softplus(x, beta=2.0, threshold=2.0),
            lambda t, x: t.nn.functional.softplus(x, beta=2.0, threshold=2.0),
            unary(away_from((1.0,))),
        ),
        # ----- matmul -----
        Op(
            "matmul",
            cr.matmul,
            lambda t, x, y: t.matmul(x, y),
            example(
                hnp.mutually_broadcastable_shapes(
                    signature=np.matmul.signature, max_dims=2 if small else 3, max_side=3
                ).map(lambda b: b.input_shapes)
            ),
        ),
        *[
            Op(
                f"matmul_{'x'.join(map(str, a))}@{'x'.join(map(str, b))}",
                lambda x, y: x @ y,
                lambda t, x, y: x @ y,
                example(fixed(a, b)),
            )
            for a, b in MATMUL_SHAPES
        ],
        *[
            Op(
                name,
                getattr(cr, name),
                lambda t, x, y, name=name: getattr(t, name)(x, y),
                example(fixed(a, b)),
            )
            for name, a, b in (
                ("mm", (2, 3), (3, 4)),
                ("bmm", (2, 2, 3), (2, 3, 2)),
                ("mv", (2, 3), (3,)),
                ("dot", (3,), (3,)),
                ("outer", (3,), (2,)),
            )
        ],
        Op(
            "linear",
            lambda x, w: cr.nn.functional.linear(x, w),
            lambda t, x, w: t.nn.functional.linear(x, w),
            example(fixed((4, 3), (2, 3))),
        ),
        Op(
            "linear_bias",
            cr.nn.functional.linear,
            lambda t, x, w, b: t.nn.functional.linear(x, w, b),
            example(st.sampled_from([((4, 3), (2, 3), (2,)), ((3,), (2, 3), (2,))])),
        ),
        # ----- reductions -----
        Op(
            "sum",
            _reduction(cr.sum),
            lambda t, x, dim, keepdim, numpy_names: t.sum(x, dim=dim, keepdim=keepdim),
            unary(params=reduce_params()),
        ),
        Op(
            "sum_method",
            _reduction(cr.Tensor.sum),
            lambda t, x, dim, keepdim, numpy_names: x.sum(dim=dim, keepdim=keepdim),
            unary(params=reduce_params()),
        ),
        Op(
            "mean",
            _reduction(cr.mean),
            lambda t, x, dim, keepdim, numpy_names: t.mean(x, dim=dim, keepdim=keepdim),
            unary(params=reduce_params()),
        ),
        Op(
            "var",
            _cr_var(cr.var),
            lambda t, x, dim, keepdim, numpy_names, correction: t.var(
                x, dim=dim, keepdim=keepdim, correction=correction
            ),
            unary(params=_var_params, min_dims=1, min_side=2),
        ),
        Op(
            "std",
            _cr_var(cr.Tensor.std),
            lambda t, x, dim, keepdim, numpy_names, correction: t.std(
                x, dim=dim, keepdim=keepdim, correction=correction
            ),
            unary(params=_var_params, min_dims=1, min_side=2),
        ),
        Op(
            "var_default",
            lambda x, dim: cr.var(x, dim),
            lambda t, x, dim: t.var(x, dim),
            unary(params=lambda d, s, r: {"dim": _dims(d, s[0])}, min_dims=1, min_side=2),
        ),
        Op(
            "amax",
            _reduction(cr.amax),
            lambda t, x, dim, keepdim, numpy_names: t.amax(
                x, dim=_all_dims(dim, x), keepdim=keepdim
            ),
            example(S(1), distinct, reduce_params()),
        ),
        Op(
            "amin",
            _reduction(cr.Tensor.amin),
            lambda t, x, dim, keepdim, numpy_names: t.amin(
                x, dim=_all_dims(dim, x), keepdim=keepdim
            ),
            example(S(1), distinct, reduce_params()),
        ),
        Op(
            "max_dim",
            _extreme_dim(cr.max),
            lambda t, x, dim, keepdim, numpy_names: t.max(x, dim, keepdim).values,
            example(S(1, min_dims=1), distinct, _max_dim_params),
        ),
        Op(
            "min_dim",
            _extreme_dim(cr.Tensor.min),
            lambda t, x, dim, keepdim, numpy_names: t.min(x, dim, keepdim).values,
            example(S(1, min_dims=1), distinct, _max_dim_params),
        ),
        Op("max_all", cr.max, lambda t, x: t.max(x), example(S(1), distinct)),
        Op("min_all", lambda x: x.min(), lambda t, x: x.min(), example(S(1), distinct)),
        Op(
            "logsumexp",
            lambda x, dim, keepdim: cr.logsumexp(x, dim, keepdim),
            lambda t, x, dim, keepdim: t.logsumexp(x, _all_dims(dim, x), keepdim),
            unary(params=lambda d, s, r: {"dim": _dims(d, s[0]), "keepdim": d(st.booleans())}),
        ),
        Op(
            "softmax",
            lambda x, dim, method: x.softmax(dim) if method else cr.softmax(x, dim=dim),
            lambda t, x, dim, method: t.softmax(x, dim),
            unary(params=_reduce_dim_params, min_dims=1),
        ),
        Op(
            "log_softmax",
            lambda x, dim, method: x.log_softmax(dim) if method else cr.log_softmax(x, dim=dim),
            lambda t, x, dim, method: t.log_softmax(x, dim),
            unary(params=_reduce_dim_params, min_dims=1),
        ),
        # ----- shape ops -----
        Op(
            "reshape",
            _cr_reshape("reshape"),
            lambda t, x, shape, spelling: x.reshape(shape),
            _reshape_example(small=small),
        ),
        Op(
            "view",
            _cr_reshape("view"),
            lambda t, x, shape, spelling: x.view(shape),
            _reshape_example(small=small),
        ),
        Op(
            "flatten",
            lambda x, start_dim, end_dim: x.flatten(start_dim, end_dim),
            lambda t, x, start_dim, end_dim: t.flatten(x, start_dim, end_dim),
            unary(params=_flatten_params),
        ),
        Op("flatten_all", cr.flatten, lambda t, x: t.flatten(x), unary()),
        Op(
            "transpose",
            lambda x, dim0, dim1: cr.transpose(x, dim0, dim1),
            lambda t, x, dim0, dim1: t.transpose(x, dim0, dim1),
            unary(params=_transpose_params, min_dims=1),
        ),
        Op(
            "permute",
            lambda x, dims, as_tuple: x.permute(dims) if as_tuple else x.permute(*dims),
            lambda t, x, dims, as_tuple: x.permute(dims),
            unary(params=_permute_params, min_dims=1),
        ),
        Op(
            "flip",
            lambda x, dims: x.flip(dims),
            lambda t, x, dims: x.flip(dims),
            unary(params=_flip_params, min_dims=1),
        ),
        Op(
            "roll",
            lambda x, shifts, dims: x.roll(shifts, dims),
            lambda t, x, shifts, dims: x.roll(shifts, dims),
            unary(params=_roll_params, min_dims=1),
        ),
        Op(
            "tril",
            lambda x, diagonal: x.tril(diagonal),
            lambda t, x, diagonal: x.tril(diagonal),
            unary(params=_diagonal_params, min_dims=2),
        ),
        Op(
            "triu",
            lambda x, diagonal: cr.triu(x, diagonal),
            lambda t, x, diagonal: t.triu(x, diagonal),
            unary(params=_diagonal_params, min_dims=2),
        ),
        Op(
            "cumsum",
            lambda x, dim: x.cumsum(dim),
            lambda t, x, dim: x.cumsum(dim),
            unary(params=_dim_param, min_dims=1),
        ),
        Op(
            "gather",
            lambda x, dim, index: cr.gather(x, dim, cr.tensor(index)),
            lambda t, x, dim, index: t.gather(x, dim, t.from_numpy(index)),
            unary(params=_gather_params, min_dims=1),
        ),
        Op(
            "scatter_add",
            lambda x, src, dim, index: cr.scatter_add(x, dim, cr.tensor(index), src),
            lambda t, x, src, dim, index: t.scatter_add(x, dim, t.from_numpy(index), src),
            _scatter_example(False),
        ),
        Op(
            "scatter",
            lambda x, src, dim, index: x.scatter(dim, cr.tensor(index), src),
            lambda t, x, src, dim, index: x.scatter(dim, t.from_numpy(index), src),
            _scatter_example(True),
        ),
        Op(
            "index_select",
            lambda x, dim, index: x.index_select(dim, cr.tensor(index)),
            lambda t, x, dim, index: x.index_select(dim, t.from_numpy(index)),
            unary(params=_select_params, min_dims=1),
        ),
        Op(
            "masked_fill",
            lambda x, mask, value: x.masked_fill(cr.tensor(mask, device=x.device), value),
            lambda t, x, mask, value: x.masked_fill(t.from_numpy(mask), value),
            unary(params=_mask_params),
        ),
        Op(
            "masked_fill_tensor_value",
            lambda x, v, mask: x.masked_fill(cr.tensor(mask, device=x.device), v),
            lambda t, x, v, mask: x.masked_fill(t.from_numpy(mask), v),
            example(S(1).map(lambda s: (s[0], ())), normal, _mask_params),
        ),
        Op(
            "sort",
            lambda x, dim, descending: x.sort(dim, descending)[0],
            lambda t, x, dim, descending: x.sort(dim, descending)[0],
            example(S(1, min_dims=1), distinct, _sort_params),
        ),
        Op(
            "topk",
            lambda x, dim, k, largest: x.topk(k, dim, largest)[0],
            lambda t, x, dim, k, largest: x.topk(k, dim, largest)[0],
            example(S(1, min_dims=1), distinct, _topk_params),
        ),
        Op(
            "narrow",
            lambda x, dim, start, length: x.narrow(dim, start, length),
            lambda t, x, dim, start, length: x.narrow(dim, start, length),
            unary(params=_narrow_params, min_dims=1),
        ),
        Op(
            "unbind",
            lambda x, dim: cr.unbind(x, dim),
            lambda t, x, dim: t.unbind(x, dim),
            unary(params=_dim_param, min_dims=1),
        ),
        Op(
            "movedim",
            lambda x, source, destination: x.movedim(source, destination),
            lambda t, x, source, destination: x.movedim(source, destination),
            unary(params=_movedim_params, min_dims=1),
        ),
        Op(
            "repeat",
            lambda x, sizes: x.repeat(*sizes),
            lambda t, x, sizes: x.repeat(*sizes),
            unary(params=_repeat_params),
        ),
        Op(
            "unflatten",
            lambda x: x.unflatten(-1, (2, -1)),
            lambda t, x: x.unflatten(-1, (2, -1)),
            example(st.sampled_from([((4,),), ((3, 6),), ((2, 1, 2),)])),
        ),
        Op(
            "diagonal",
            lambda x, offset, dim1, dim2: x.diagonal(offset, dim1, dim2),
            lambda t, x, offset, dim1, dim2: x.diagonal(offset, dim1, dim2),
            unary(params=_diagonal_dims_params, min_dims=2),
        ),
        Op("trace", cr.trace, lambda t, x: t.trace(x), unary(min_dims=2, max_dims=2)),
        Op(
            "diag",
            lambda x, diagonal: cr.diag(x, diagonal),
            lambda t, x, diagonal: t.diag(x, diagonal),
            unary(params=_diagonal_params, min_dims=1, max_dims=2),
        ),
        Op("clone", lambda x: x.clone() * x, lambda t, x: x.clone() * x, unary()),
        Op(  # there and back: strict:2 is array-api-strict's second device (the test extra)
            "to_device",
            lambda x: x.to("strict:2").to(x.device) * x,
            lambda t, x: x.to("cpu") * x,
            unary(),
        ),
        Op("t", lambda x: x.t(), lambda t, x: x.t(), unary(max_dims=2)),
        Op("T", lambda x: x.T, lambda t, x: x.permute(tuple(range(x.ndim - 1, -1, -1))), unary()),
        Op("mT", lambda x: x.mT, lambda t, x: x.mT, unary(min_dims=2)),
        Op(
            "squeeze",
            lambda x, dim: x.squeeze() if dim is None else cr.squeeze(x, dim),
            lambda t, x, dim: x.squeeze() if dim is None else t.squeeze(x, dim),
            _squeeze_example(small=small),
        ),
        Op(
            "unsqueeze",
            lambda x, dim: x.unsqueeze(dim),
            lambda t, x, dim: x.unsqueeze(dim),
            unary(params=_unsqueeze_params),
        ),
        Op(
            "expand",
            lambda x, sizes, target, as_tuple: x.expand(sizes) if as_tuple else x.expand(*sizes),
            lambda t, x, sizes, target, as_tuple: x.expand(sizes),
            _expand_example(small=small),
        ),
        Op(
            "broadcast_to",
            lambda x, sizes, target, as_tuple: cr.broadcast_to(x, target),
            lambda t, x, sizes, target, as_tuple: t.broadcast_to(x, target),
            _expand_example(small=small),
        ),
        Op(
            "cat",
            _cr_join(cr.cat),
            lambda t, *xs, dim, numpy_names: t.cat(xs, dim),
            _cat_example(small=small),
        ),
        Op(
            "stack",
            _cr_join(cr.stack),
            lambda t, *xs, dim, numpy_names: t.stack(xs, dim),
            _cat_example(stack=True, small=small),
        ),
        Op(
            "split_size",
            lambda x, arg, dim: x.split(arg, dim),
            lambda t, x, arg, dim: t.split(x, arg, dim),
            _split_example("size", small=small),
        ),
        Op(
            "split_sizes",
            lambda x, arg, dim: cr.split(x, arg, dim=dim),
            lambda t, x, arg, dim: t.split(x, arg, dim),
            _split_example("sizes", small=small),
        ),
        Op(
            "split_first_piece",  # the other pieces get no gradient
            lambda x, arg, dim: x.split(arg, dim)[0] * 2,
            lambda t, x, arg, dim: t.split(x, arg, dim)[0] * 2,
            _split_example("size", small=small),
        ),
        Op(
            "chunk",
            lambda x, arg, dim: x.chunk(arg, dim),
            lambda t, x, arg, dim: t.chunk(x, arg, dim),
            _split_example("size", small=small),
        ),
        # ----- indexing -----
        Op("index_basic", _cr_index, _torch_numpy_index, _basic_index_example(small=small)),
        Op("index_int_array", _cr_index, _torch_index, _int_array_example(small=small)),
        Op("index_pick", _cr_index, _torch_index, _pick_example(small=small)),
        Op("index_mask", _cr_index, _torch_index, _mask_example(small=small)),
        Op("index_mixed", _cr_index, _torch_numpy_index, _mixed_index_example(small=small)),
        # ----- losses and the L2 penalty -----
        Op("cross_entropy", *_loss("cross_entropy"), _class_scores_example(small)),
        Op(
            "cross_entropy_smoothed",
            *_loss("cross_entropy", label_smoothing=0.1),
            _class_scores_example(small),
        ),
        Op("nll_loss", *_loss("nll_loss"), _class_scores_example(small)),
        Op(
            "binary_cross_entropy",
            *_loss("binary_cross_entropy"),
            _class_scores_example(small, True),
        ),
        Op(
            "binary_cross_entropy_with_logits",
            *_loss("binary_cross_entropy_with_logits"),
            _class_scores_example(small, True),
        ),
        Op(
            "l2_penalty",
            lambda x, y: cr.nn.l2_penalty([x, y]),
            lambda t, x, y: (x**2).sum() + (y**2).sum(),
            binary(),
        ),
        # ----- dtype conversion -----
        Op(
            "astype_float32",
            lambda x: x.astype(cr.float32) * 2,
            lambda t, x: x.to(t.float32) * 2,
            unary(),
            gradcheck={"eps": 1e-3, "atol": 1e-3},
            rtol=1e-6,
        ),
        Op(
            "float_double",
            lambda x: x.float().double().astype(cr.float64),
            lambda t, x: x.float().double(),
            unary(),
            gradcheck={"eps": 1e-3, "atol": 1e-3},
            rtol=1e-6,
        ),
        # ----- images (NCHW): convolution, unfold/fold, pooling -----
        *_image_rows(small),
    ]


def _image_rows(small: bool) -> list[Op]:
    from _conv_rows import conv_rows  # that file builds on this one's helpers

    return conv_rows(small)


OPS = build()
SECOND_ORDER = [op for op in build(small=True) if op.second_order]


def by_name(name: str) -> Op:
    return next(op for op in OPS if op.name == name)
