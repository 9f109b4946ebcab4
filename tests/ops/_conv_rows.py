"""The op table's rows for images (NCHW): convolution, unfold/fold and pooling.

Each example draws a geometry that fits (the kernel inside the padded image, channels that the
groups divide, pooling's padding at most half the window) and small float64 images; ``small``
draws the sizes the second-order checks can afford (a backward per element).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from _table import SEEDS, Example, Op, distinct, normal
from hypothesis import strategies as st

import chainrule as cr

F = cr.nn.functional


@st.composite
def _conv_example(draw, bias: bool, small: bool, one_image: bool = False) -> Example:
    """An image batch, a filter bank (and a bias) with stride, padding, dilation and groups."""
    groups = draw(st.sampled_from([1, 1, 2]))
    cg = draw(st.integers(1, 1 if small else 2))
    og = draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 2 if small else 3)), draw(st.integers(1, 2 if small else 3))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    same = not small and draw(st.booleans()) and stride == (1, 1)
    padding: Any = "same" if same else (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    sides = []
    for i, k in enumerate((kh, kw)):
        span = dilation[i] * (k - 1) + 1 - (0 if same else 2 * padding[i])
        sides.append(draw(st.integers(max(1, span), max(1, span) + (2 if small else 3))))
    n = draw(st.integers(1, 1 if small else 2))
    rng = np.random.default_rng(draw(SEEDS))
    x_shape = (groups * cg, *sides) if one_image else (n, groups * cg, *sides)
    arrays = [normal(rng, x_shape), normal(rng, (groups * og, cg, kh, kw))]
    if bias:
        arrays.append(normal(rng, (groups * og,)))
    params = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return Example(tuple(arrays), params)


def _conv_cr(x, w, b=None, **p):
    return F.conv2d(x, w, b, **p)


def _conv_torch(t, x, w, b=None, **p):
    return t.nn.functional.conv2d(x, w, b, **p)


@st.composite
def _unfold_example(draw, small: bool) -> Example:
    k = (draw(st.integers(1, 2 if small else 3)), draw(st.integers(1, 2 if small else 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    s = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    lows = [max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]) for i in range(2)]
    sides = [draw(st.integers(lo, lo + (1 if small else 3))) for lo in lows]
    c = draw(st.integers(1, 1 if small else 2))
    rng = np.random.default_rng(draw(SEEDS))
    params = {"kernel_size": k, "dilation": d, "padding": p, "stride": s}
    return Example((normal(rng, (1 if small else 2, c, *sides)),), params)


@st.composite
def _fold_example(draw, small: bool) -> Example:
    ex = draw(_unfold_example(small))
    (x,) = ex.arrays
    p = ex.params
    blocks = [
        (x.shape[2 + i] + 2 * p["padding"][i] - p["dilation"][i] * (p["kernel_size"][i] - 1) - 1)
        // p["stride"][i]
        + 1
        for i in range(2)
    ]
    rng = np.random.default_rng(draw(SEEDS))
    k = p["kernel_size"][0] * p["kernel_size"][1]
    cols = normal(rng, (x.shape[0], x.shape[1] * k, blocks[0] * blocks[1]))
    return Example((cols,), {"output_size": tuple(x.shape[2:]), **p})


@st.composite
def _pool_example(draw, kind: str, small: bool) -> Example:
    """Distinct values (no ties within a window) and a pooling geometry PyTorch accepts."""
    k = (draw(st.integers(1, 2 if small else 3)), draw(st.integers(1, 2 if small else 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if kind == "max" else (1, 1)
    # at most half the window (PyTorch's max-pool checks it without the dilation)
    p = tuple(draw(st.integers(0, k[i] // 2)) for i in range(2))
    lows = [max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]) for i in range(2)]
    sides = [draw(st.integers(lo, lo + (1 if small else 3))) for lo in lows]
    shape = (1, 1, *sides) if small else (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *sides)
    rng = np.random.default_rng(draw(SEEDS))
    (x,) = distinct(rng, (shape,))
    params: dict = {"kernel_size": k, "stride": s, "padding": p, "ceil_mode": draw(st.booleans())}
    if kind == "max":
        params["dilation"] = d
    else:
        params["count_include_pad"] = draw(st.booleans())
        params["divisor_override"] = draw(st.sampled_from([None, None, 3]))
    return Example((x,), params)


def _row_of(example: Example) -> Example:
    """A 2-d example as its 1-d one: each array's first row, each pair's width entry (the
    geometry is drawn for each axis alone, so the width's holds by itself)."""
    arrays = tuple(
        a[:, :, 0, :] if a.ndim == 4 else a[:, 0, :] if a.ndim == 3 else a for a in example.arrays
    )
    params = {
        k: (v[1] if isinstance(v, tuple) else v)
        for k, v in example.params.items()
        if k != "divisor_override"  # avg_pool1d has none
    }
    return Example(arrays, params)


def conv_rows(small: bool = False) -> list[Op]:
    """The table's rows for the image ops (``small``: sizes for second-order checks)."""
    return [
        Op("conv2d", _conv_cr, _conv_torch, _conv_example(False, small)),
        Op("conv2d_bias", _conv_cr, _conv_torch, _conv_example(True, small)),
        Op("conv2d_one_image", _conv_cr, _conv_torch, _conv_example(True, small, True)),
        Op(
            "unfold",
            lambda x, **p: F.unfold(x, **p),
            lambda t, x, **p: t.nn.functional.unfold(x, **p),
            _unfold_example(small),
        ),
        Op(
            "fold",
            lambda x, **p: F.fold(x, **p),
            lambda t, x, **p: t.nn.functional.fold(x, **p),
            _fold_example(small),
        ),
        Op(
            "max_pool2d",
            lambda x, **p: F.max_pool2d(x, **p),
            lambda t, x, **p: t.nn.functional.max_pool2d(x, **p),
            _pool_example("max", small),
        ),
        Op(
            "avg_pool2d",
            lambda x, **p: F.avg_pool2d(x, **p),
            lambda t, x, **p: t.nn.functional.avg_pool2d(x, **p),
            _pool_example("avg", small),
        ),
        Op(
            "conv1d",
            lambda x, w, b=None, **p: F.conv1d(x, w, b, **p),
            lambda t, x, w, b=None, **p: t.nn.functional.conv1d(x, w, b, **p),
            _conv_example(True, small).map(_row_of),
        ),
        Op(
            "conv1d_one_sequence",
            lambda x, w, b=None, **p: F.conv1d(x, w, b, **p),
            lambda t, x, w, b=None, **p: t.nn.functional.conv1d(x, w, b, **p),
            _conv_example(False, small, True).map(_row_of),
        ),
        Op(
            "max_pool1d",
            lambda x, **p: F.max_pool1d(x, **p),
            lambda t, x, **p: t.nn.functional.max_pool1d(x, **p),
            _pool_example("max", small).map(_row_of),
        ),
        Op(
            "avg_pool1d",
            lambda x, **p: F.avg_pool1d(x, **p),
            lambda t, x, **p: t.nn.functional.avg_pool1d(x, **p),
            _pool_example("avg", small).map(_row_of),
        ),
        Op(
            "group_norm",  # a composite of differentiable ops, on (N, C, H, W)
            lambda x, w, b, **p: F.group_norm(x, p["num_groups"], w, b),
            lambda t, x, w, b, **p: t.nn.functional.group_norm(x, p["num_groups"], w, b),
            _group_norm_example(small),
            rtol=1e-9,
        ),
        Op(
            "batch_norm_2d",  # a composite of differentiable ops, on (N, C, H, W)
            lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
            lambda t, x, w, b: t.nn.functional.batch_norm(x, None, None, w, b, training=True),
            _batch_norm_example(small),
            rtol=1e-9,
        ),
    ]


@st.composite
def _group_norm_example(draw, small: bool) -> Example:
    groups = draw(st.sampled_from([1, 2]))
    c = groups * draw(st.integers(1, 2))
    n, h = draw(st.integers(1, 2)), draw(st.integers(1, 2 if small else 3))
    rng = np.random.default_rng(draw(SEEDS))
    x = normal(rng, (n, c, h, 2)) * 2 + np.arange(c).reshape(1, c, 1, 1)
    return Example((x, normal(rng, (c,)), normal(rng, (c,))), {"num_groups": groups})


@st.composite
def _batch_norm_example(draw, small: bool) -> Example:
    n, c = draw(st.integers(2, 2 if small else 3)), draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 2)), draw(st.integers(1, 2 if small else 3))
    rng = np.random.default_rng(draw(SEEDS))
    x = normal(rng, (n, c, h, w)) * 2 + np.arange(c).reshape(1, c, 1, 1)
    return Example((x, normal(rng, (c,)), normal(rng, (c,))), {})
