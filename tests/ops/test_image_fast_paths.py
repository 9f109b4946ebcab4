"""The image ops' first-order fast paths give the numbers of their recorded rules.

A first-order backward of ``Conv2d`` folds its input gradient with the batch as the innermost
axis (``conv._input_grad``), and ``col2im`` assigns instead of adding where windows cannot
overlap, leaving its result uninitialised where they also tile the image. Under create_graph
the same formulas run as recorded ops; both must agree, and col2im must equal adding every
window value one by one.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

import chainrule as cr
from chainrule import backend
from chainrule.ops import conv
from chainrule.ops.conv import col2im

F = cr.nn.functional
RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    "kernel, stride, dilation, padding, size",
    [
        ((2, 2), (2, 2), (1, 1), ((0, 0), (0, 0)), (8, 8)),  # tiled: no zeroing
        ((2, 2), (2, 2), (1, 1), ((0, 1), (0, 1)), (7, 7)),  # tiled with ceil_mode's padding
        ((2, 2), (2, 2), (1, 1), ((0, 0), (0, 0)), (7, 7)),  # the last row, column in no window
        ((2, 3), (3, 4), (1, 1), ((0, 0), (0, 0)), (9, 11)),  # apart, gaps between windows
        ((2, 2), (3, 3), (2, 2), ((1, 1), (0, 0)), (8, 9)),  # apart, dilated
        ((3, 3), (2, 2), (1, 1), ((0, 0), (0, 0)), (9, 9)),  # overlapping: added
        ((2, 2), (2, 1), (1, 1), ((0, 0), (0, 0)), (6, 6)),  # apart in one direction only
    ],
)
def test_col2im_equals_adding_every_window_value(
    kernel, stride, dilation, padding, size, monkeypatch
) -> None:
    """Where col2im leaves its result uninitialised (``empty``), every element must be written:
    here ``empty`` gives NaN, so one left out shows."""
    namespace = types.SimpleNamespace(**vars(backend.NUMPY))
    namespace.empty = lambda shape, dtype, device=None: np.full(shape, np.nan, dtype)
    monkeypatch.setattr(conv, "namespace", lambda array: namespace)
    (pt, pb), (pl, pr) = padding
    hp, wp = size[0] + pt + pb, size[1] + pl + pr
    ho = (hp - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    wo = (wp - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    cols = RNG.standard_normal((2, 3 * kernel[0] * kernel[1], ho * wo))
    want = np.zeros((2, 3, hp, wp))
    blocks = cols.reshape(2, 3, kernel[0], kernel[1], ho, wo)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            for p in range(ho):
                for q in range(wo):
                    r, c = p * stride[0] + i * dilation[0], q * stride[1] + j * dilation[1]
                    want[:, :, r, c] += blocks[:, :, i, j, p, q]
    want = want[:, :, pt : pt + size[0], pl : pl + size[1]]
    np.testing.assert_allclose(col2im(cols, size, kernel, dilation, padding, stride), want)


@pytest.mark.parametrize(
    "kwargs, size",
    [
        ({"kernel_size": 3, "stride": 2}, 15),  # overlapping windows: the shares are added
        ({"kernel_size": 2}, 8),  # tiled: assigned, nothing zeroed
        ({"kernel_size": 2, "ceil_mode": True}, 7),  # tiled with the bottom/right padding
        ({"kernel_size": 2}, 7),  # the last row and column in no window: zeroed
        ({"kernel_size": 3, "stride": 3, "padding": 1, "dilation": 1}, 10),  # apart, padded
    ],
    ids=["overlapping", "tiled", "ceil_mode", "leftover", "padded"],
)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_max_pool_s_first_order_gradient_equals_the_recorded_rule_s(dtype, kwargs, size) -> None:
    """Bit for bit, in the gradient's own dtype (float16 summed as float16, as the rule does);
    ties (a repeated value) included, so the first winner of each window is the one routed."""
    rng = np.random.default_rng(1)
    x = np.round(rng.standard_normal((4, 3, size, size)) * 2).astype(dtype)  # many ties
    shape = F.max_pool2d(cr.tensor(x), **kwargs).shape
    g = cr.tensor((rng.standard_normal(shape) * 100).astype(dtype))
    first = cr.tensor(x, requires_grad=True)
    F.max_pool2d(first, **kwargs).backward(g)
    recorded = cr.tensor(x, requires_grad=True)
    (gx,) = cr.autograd.grad(F.max_pool2d(recorded, **kwargs), [recorded], g, create_graph=True)
    assert first.grad.dtype == dtype
    np.testing.assert_array_equal(first.grad.numpy(), gx.detach().numpy())


def test_max_pool_s_first_order_gradient_routes_inf_and_nan_as_the_recorded_rule() -> None:
    """A non-finite upstream takes where() (inf times 0 would be NaN): only the winners get it."""
    x = np.arange(2 * 1 * 4 * 4, dtype=np.float64).reshape(2, 1, 4, 4)
    g = np.array([np.inf, -np.inf, np.nan, 1.0] * 2).reshape(2, 1, 2, 2)
    first = cr.tensor(x, requires_grad=True)
    F.max_pool2d(first, 2).backward(cr.tensor(g))
    recorded = cr.tensor(x, requires_grad=True)
    (gx,) = cr.autograd.grad(F.max_pool2d(recorded, 2), [recorded], cr.tensor(g), create_graph=True)
    np.testing.assert_array_equal(first.grad.numpy(), gx.detach().numpy())
    assert np.isnan(first.grad.numpy()).sum() == 2  # the two NaN shares, at their winners only


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"stride": 2, "padding": 1}, {"dilation": 2, "padding": (2, 1)}, {"groups": 2}],
    ids=["plain", "stride_padding", "dilation", "groups"],
)
@pytest.mark.parametrize("n", [1, 3])
def test_conv_s_first_order_gradients_equal_the_recorded_rule_s(kwargs, n) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, 4, 9, 8))
    w = rng.standard_normal((6, 4 // kwargs.get("groups", 1), 3, 3))
    first = [cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)]
    y = F.conv2d(*first, **kwargs)
    g = cr.tensor(rng.standard_normal(y.shape))
    y.backward(g)
    again = [cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)]
    recorded = cr.autograd.grad(F.conv2d(*again, **kwargs), again, g, create_graph=True)
    for t, r in zip(first, recorded):
        np.testing.assert_allclose(t.grad.numpy(), r.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("memory", ["nchw", "batch_innermost"])
@pytest.mark.parametrize(
    "kernel, stride, dilation, padding",
    [((3, 2), (1, 1), (1, 1), ((0, 0), (0, 0))), ((3, 3), (2, 1), (1, 2), ((1, 2), (0, 1)))],
    ids=["plain", "strided_dilated_padded"],
)
def test_im2col_s_batch_last_columns_hold_unfold_s(
    memory, kernel, stride, dilation, padding
) -> None:
    """The columns of the whole batch, (C*kh*kw, L*N), are F.unfold's (N, C*kh*kw, L) moved
    about, value for value, whether x lies in memory as (N, C, H, W) or as (C, H, W, N)."""
    x = RNG.standard_normal((3, 2, 7, 6))
    if memory == "batch_innermost":
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
        assert conv.batch_innermost(x)
    want = conv.im2col(np.ascontiguousarray(x), kernel, dilation, padding, stride)  # (N, K, L)
    got = conv.im2col(x, kernel, dilation, padding, stride, batch="last")
    n, k, length = want.shape
    np.testing.assert_array_equal(got.reshape(k, length, n), want.transpose(1, 2, 0))


@pytest.mark.parametrize(
    "cin, size, kwargs",
    [
        (2, 12, {}),  # few channels, many positions (a first layer)
        (8, 6, {}),  # many channels, few positions (a later layer)
        (8, 7, {"stride": 2, "padding": 1, "groups": 2}),  # grouped
        (4, 9, {"dilation": 2, "padding": (2, 1), "groups": 4}),  # depthwise
    ],
    ids=["first_layer", "later_layer", "groups", "depthwise"],
)
def test_conv_s_batch_last_columns_match_torch_values_and_gradients(cin, size, kwargs) -> None:
    """The batch-last columns, and the output left batch-innermost in memory, give PyTorch's
    output and all three gradients, in float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    groups = kwargs.get("groups", 1)
    x = rng.standard_normal((3, cin, size, size))
    w = rng.standard_normal((8, cin // groups, 3, 3))
    b = rng.standard_normal(8)
    ours = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.conv2d(*ours, **kwargs)
    t = torch.nn.functional.conv2d(*theirs, **kwargs)
    g = rng.standard_normal(tuple(t.shape))
    y.backward(cr.tensor(g))
    t.backward(torch.tensor(g))
    np.testing.assert_allclose(y.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-10)
    for a, r in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), r.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "shape",
    [(64, 32, 8, 8), (3, 16), (5, 3, 7), (2, 48), (4, 0), (1, 32)],
    ids=["power_of_two_rows", "one_tile", "no_tiles", "three_tiles", "empty", "one_image"],
)
@pytest.mark.parametrize("where", ["numpy", "strict"])
def test_batch_to_last_is_the_transposed_batch(shape, where) -> None:
    """``batch_to_last`` (16-value tiles where the row divides, else one transposing copy) gives
    x as (N, F) transposed, C order, value for value, on NumPy and on array-api-strict."""
    if where == "strict":
        pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
    x = RNG.standard_normal(shape)
    a = x if where == "numpy" else cr.tensor(x, device="strict:1")._data
    got = backend.to_numpy(conv.batch_to_last(a))
    want = x.reshape(shape[0], -1).T
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    if where == "numpy" and shape[0] > 1 and x.size:
        assert got.flags.c_contiguous and not np.shares_memory(got, x)


def test_a_convolution_leaves_its_output_and_input_gradient_batch_innermost() -> None:
    x = RNG.standard_normal((3, 2, 9, 8))
    w = RNG.standard_normal((4, 2, 3, 3))
    y = F.conv2d(cr.tensor(x), cr.tensor(w))
    assert conv.batch_innermost(y._data)
    g_t = conv.batch_to_last(RNG.standard_normal(y.shape)).reshape(1, 4, -1)
    for input_grad in (conv._input_grad, conv._folded_input_grad):
        gx = input_grad(g_t, w, 3, (9, 8), (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1))
        assert conv.batch_innermost(gx)


@pytest.mark.parametrize(
    "kernel, stride, dilation, padding, size, groups, shifted",
    [
        ((5, 5), (1, 1), (1, 1), ((0, 0), (0, 0)), (12, 12), 1, True),  # LeNet's second conv
        ((3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), (7, 6), 1, True),  # "same": W = Wo
        ((2, 4), (1, 1), (1, 1), ((0, 1), (1, 2)), (5, 7), 1, True),  # "same", even kernel
        ((3, 2), (2, 1), (2, 3), ((1, 1), (2, 2)), (9, 8), 2, True),  # strided rows, dilated
        ((1, 1), (1, 1), (1, 1), ((0, 0), (0, 0)), (4, 5), 2, True),  # 1x1, grouped
        ((3, 3), (1, 2), (1, 1), ((0, 0), (0, 0)), (9, 9), 1, False),  # strided columns
        ((2, 6), (1, 1), (1, 1), ((0, 0), (0, 0)), (6, 7), 1, False),  # W = 7 > 2 Wo = 4
    ],
)
def test_conv_s_input_gradient_by_shifted_columns_equals_col2im_s(
    kernel, stride, dilation, padding, size, groups, shifted, monkeypatch
) -> None:
    """``_input_grad`` sums a kernel row's offsets in one product over shifted copies of G; it
    must give col2im's numbers (``_folded_input_grad``, which it falls back to where the
    columns are strided or the shifts would be mostly zeros), for any geometry."""
    rng = np.random.default_rng(6)
    n, cg, og = 3, 2, 3
    ho, wo = conv._blocks(size, kernel, dilation, padding, stride)
    w = rng.standard_normal((groups * og, cg, *kernel))
    g_t = rng.standard_normal((groups, og, ho * wo * n))
    want = conv._folded_input_grad(g_t, w, n, size, kernel, dilation, padding, stride)
    folded = []
    monkeypatch.setattr(conv, "_folded_input_grad", lambda *a: folded.append(a) or want)
    got = conv._input_grad(g_t, w, n, size, kernel, dilation, padding, stride)
    assert bool(folded) != shifted
    assert got.shape == (n, groups * cg, *size)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "pool",
    [
        lambda x: F.max_pool2d(x, 2),
        lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
        lambda x: F.max_pool2d(x, 2, dilation=2),
        lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
        lambda x: F.unfold(x, 3, padding=1),
        lambda x: F.conv2d(x, cr.tensor(np.linspace(-1, 1, 72).reshape(4, 2, 3, 3)), padding=1),
    ],
    ids=["max_2", "max_3_pad_ceil", "max_dilated", "avg_pad", "unfold", "conv_padded"],
)
def test_image_ops_on_a_batch_innermost_input_give_the_c_order_input_s_numbers(pool) -> None:
    """An op after a convolution reads its input in the memory order the convolution left
    (``conv.batch_innermost``: windows, padding, max-pool's fold): the same values and input
    gradient, bit for bit, as from the same input in C order. Ties and NaN included."""
    data = RNG.standard_normal((3, 2, 9, 8))
    data[0, 0, :2, :2] = 1.0  # a window of equal winners
    data[1, 1, 3, 4] = np.nan
    inner = np.ascontiguousarray(data.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    assert conv.batch_innermost(inner) and not conv.batch_innermost(data)
    results = []
    for a in (data, inner):
        x = cr.tensor(a, requires_grad=True)
        assert conv.batch_innermost(x._data) == (a is inner)
        y = pool(x)
        y.backward(cr.tensor(np.arange(y.numel(), dtype=np.float64).reshape(y.shape) % 7 - 3))
        results.append((y.detach().numpy(), x.grad.numpy()))
    for got, want in zip(results[1], results[0]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kwargs", [{}, {"stride": 1, "padding": 1, "dilation": 2}])
def test_max_pool_s_indices_on_a_batch_innermost_input(kwargs) -> None:
    """``return_indices`` on a convolution's output: the same winners, counted in the flat
    (H, W) of each image, as on the same input in C order and as PyTorch's."""
    data = RNG.standard_normal((3, 2, 9, 8))
    data[0, 0, :2, :2] = 1.0  # a window of equal winners
    inner = np.ascontiguousarray(data.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    x = cr.tensor(inner)
    assert conv.batch_innermost(x._data)
    _, want = F.max_pool2d(cr.tensor(data), 3, return_indices=True, **kwargs)
    _, got = F.max_pool2d(x, 3, return_indices=True, **kwargs)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    torch = pytest.importorskip("torch")
    _, theirs = torch.nn.functional.max_pool2d(torch.tensor(data), 3, return_indices=True, **kwargs)
    np.testing.assert_array_equal(got.numpy(), theirs.numpy())


def test_lenet_s_layers_after_a_convolution_match_torch() -> None:
    """conv -> ReLU -> max-pool -> conv -> ReLU -> max-pool -> flatten, the ops between the
    convolutions reading the batch-innermost outputs: PyTorch's loss and gradients, float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 16, 16))
    w1, w2 = rng.standard_normal((6, 3, 5, 5)) * 0.2, rng.standard_normal((5, 6, 3, 3)) * 0.2
    b1, b2 = rng.standard_normal(6), rng.standard_normal(5)

    def net(m, f, x, w1, b1, w2, b2):
        h = f.max_pool2d(f.relu(f.conv2d(x, w1, b1)), 2)
        h = f.max_pool2d(f.relu(f.conv2d(h, w2, b2, padding=1)), 2)
        return (h.reshape(h.shape[0], -1) ** 2).sum()

    ours = [cr.tensor(a, requires_grad=True) for a in (x, w1, b1, w2, b2)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w1, b1, w2, b2)]
    lo = net(cr, F, *ours)
    lt = net(torch, torch.nn.functional, *theirs)
    lo.backward()
    lt.backward()
    np.testing.assert_allclose(lo.item(), lt.item(), rtol=1e-12)
    for a, r in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), r.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "dtype, groups, inside",
    [(np.float32, 1, True), (np.float64, 1, True), (np.float16, 1, False), (np.float64, 2, False)],
)
def test_conv_s_bias_inside_the_product_gives_the_bias_added_after_it(dtype, groups, inside):
    """``Conv2d`` adds the bias as W's last column against a row of ones (``_bias_row``) and
    reads dL/db off the weight gradient's product: the same output and gradients as the
    convolution without bias, the bias added after it and dL/db summed from G."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((3, 4, 7, 6)), rng.standard_normal((6, 4 // groups, 3, 2))
    b, g = rng.standard_normal(6), rng.standard_normal((3, 6, 7, 7))
    x, w, b, g = (a.astype(dtype) for a in (x, w, b, g))
    assert conv._bias_row(x, w, b, groups) == inside
    ours = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.conv2d(*ours, padding=(1, 1), groups=groups)
    y.backward(cr.tensor(g))
    apart = [cr.tensor(a, requires_grad=True) for a in (x, w)]
    want = F.conv2d(*apart, padding=(1, 1), groups=groups) + cr.tensor(b).reshape(1, 6, 1, 1)
    want.backward(cr.tensor(g))
    tol = {"rtol": 2e-2, "atol": 2e-2} if dtype == np.float16 else {"rtol": 1e-5, "atol": 1e-4}
    np.testing.assert_allclose(y.detach().numpy(), want.detach().numpy(), **tol)
    for a, r in zip(ours[:2], apart):
        assert a.grad.dtype == dtype
        np.testing.assert_allclose(a.grad.numpy(), r.grad.numpy(), **tol)
    assert ours[2].grad.dtype == dtype and ours[2].grad.shape == (6,)
    gb = g.astype(np.float64).sum(axis=(0, 2, 3))
    np.testing.assert_allclose(ours[2].grad.numpy(), gb, **tol)


@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_a_convolution_of_an_empty_batch_has_empty_output_and_zero_gradients(bias, groups):
    """No images: (0, O, Ho, Wo) out, and dL/dW, dL/db zeros (the bias row's reshape once could
    not size an axis of -1 with no positions)."""
    x = cr.tensor(np.zeros((0, 3, 8, 8)), requires_grad=True)
    w = cr.tensor(RNG.standard_normal((6, 3 // groups, 3, 3)), requires_grad=True)
    b = cr.tensor(RNG.standard_normal(6), requires_grad=True) if bias else None
    y = F.conv2d(x, w, b, padding=1, groups=groups)
    assert y.shape == (0, 6, 8, 8)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 8, 8)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros(w.shape))
    if bias:
        np.testing.assert_array_equal(b.grad.numpy(), np.zeros(6))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"padding": 1, "stride": (2, 1)}, {"stride": (1, 2), "dilation": 2}, {"groups": 2}],
    ids=["shifted_columns", "shifted_strided_rows", "col2im", "grouped"],
)
def test_conv_s_first_order_fast_paths_run_on_another_array_module(kwargs):
    """The first-order backward (the shifted-columns or col2im input gradient, dL/db off the
    bias row) on array-api-strict gives NumPy's numbers: the op table checks that module under
    create_graph only, where the recorded rule runs instead."""
    pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
    rng = np.random.default_rng(8)
    x, w = (
        rng.standard_normal((3, 4, 7, 8)),
        rng.standard_normal((6, 4 // kwargs.get("groups", 1), 3, 3)),
    )
    b = rng.standard_normal(6)
    got = []
    for where in ("cpu", "strict:1"):
        ts = [cr.tensor(a, device=where, requires_grad=True) for a in (x, w, b)]
        y = F.conv2d(*ts, **kwargs)
        y.backward(cr.tensor(np.cos(np.arange(y.numel())).reshape(y.shape), device=where))
        got.append([y.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in ts])
    for a, b_ in zip(*got):
        np.testing.assert_allclose(a, b_, rtol=1e-12, atol=1e-12)
