"""The image layers (Conv2d, pooling, BatchNorm2d, Dropout2d, Flatten) against PyTorch: output
shapes, default initialisation, state-dict keys, values and gradients; and the edge cases of
pooling that random values never reach (ties, NaN, the indices it returns)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

F = cr.nn.functional
torch = pytest.importorskip("torch")


def _to_torch(m_cr, m_t) -> None:
    m_t.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in m_cr.state_dict().items()}
    )


LAYERS = [
    (lambda: nn.Conv2d(3, 4, 3), lambda: torch.nn.Conv2d(3, 4, 3)),
    (
        lambda: nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2),
        lambda: torch.nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2),
    ),
    (
        lambda: nn.Conv2d(3, 2, 4, padding="same", bias=False),
        lambda: torch.nn.Conv2d(3, 2, 4, padding="same", bias=False),
    ),
    (lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2)),
    (
        lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        lambda: torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
    ),
    (lambda: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2)),
    (
        lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
        lambda: torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False),
    ),
    (lambda: nn.BatchNorm2d(4), lambda: torch.nn.BatchNorm2d(4)),
    (lambda: nn.BatchNorm2d(4, bias=False), lambda: torch.nn.BatchNorm2d(4, bias=False)),
    (lambda: nn.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4)),
    (lambda: nn.GroupNorm(4, 4, affine=False), lambda: torch.nn.GroupNorm(4, 4, affine=False)),
    (lambda: nn.Flatten(), lambda: torch.nn.Flatten()),
    (
        lambda: nn.Sequential(
            nn.Conv2d(4, 5, 3, padding=1),
            nn.BatchNorm2d(5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(5 * 3 * 3, 3),
        ),
        lambda: torch.nn.Sequential(
            torch.nn.Conv2d(4, 5, 3, padding=1),
            torch.nn.BatchNorm2d(5),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(5 * 3 * 3, 3),
        ),
    ),
]


LAYERS_1D = [
    (lambda: nn.Conv1d(3, 4, 3), lambda: torch.nn.Conv1d(3, 4, 3)),
    (
        lambda: nn.Conv1d(4, 6, 2, stride=2, padding=1, dilation=2, groups=2),
        lambda: torch.nn.Conv1d(4, 6, 2, stride=2, padding=1, dilation=2, groups=2),
    ),
    (
        lambda: nn.Conv1d(3, 2, 4, padding="same", bias=False),
        lambda: torch.nn.Conv1d(3, 2, 4, padding="same", bias=False),
    ),
    (lambda: nn.MaxPool1d(2), lambda: torch.nn.MaxPool1d(2)),
    (
        lambda: nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True),
        lambda: torch.nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True),
    ),
    (lambda: nn.AvgPool1d(2), lambda: torch.nn.AvgPool1d(2)),
    (
        lambda: nn.AvgPool1d(3, 2, 1, count_include_pad=False),
        lambda: torch.nn.AvgPool1d(3, 2, 1, count_include_pad=False),
    ),
    (
        lambda: nn.Sequential(nn.Conv1d(4, 5, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2)),
        lambda: torch.nn.Sequential(
            torch.nn.Conv1d(4, 5, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool1d(2)
        ),
    ),
]


@pytest.mark.parametrize(
    ("make", "size"),
    [(m, (7, 6)) for m in LAYERS] + [(m, (9,)) for m in LAYERS_1D],
    ids=lambda m: repr(m[0]()).split("(")[0] if isinstance(m, tuple) and callable(m[0]) else "",
)
def test_same_outputs_gradients_and_buffers_as_pytorch(make, size) -> None:
    cr.manual_seed(0)
    m_cr, m_t = make[0]().double(), make[1]().double()
    assert sorted(m_cr.state_dict()) == sorted(m_t.state_dict())  # the same keys
    assert repr(m_cr) == repr(m_t)
    _to_torch(m_cr, m_t)
    channels = 3 if "d(3," in repr(m_cr) else 4
    x = np.random.default_rng(0).standard_normal((2, channels, *size))
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yc, yt = m_cr(xc), m_t(xt)
    assert yc.shape == tuple(yt.shape)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(yc.shape)
    yc.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    tgrads = dict(m_t.named_parameters())
    for name, p in m_cr.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tgrads[name].grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, b in m_t.named_buffers():
        np.testing.assert_allclose(m_cr.state_dict()[name].numpy(), b.numpy(), rtol=1e-10)
    m_cr.eval(), m_t.eval()
    np.testing.assert_allclose(
        m_cr(xc).detach().numpy(), m_t(xt).detach().numpy(), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "shape"),
    [
        ((1, 16, 5), {}, (64, 1, 28, 28)),
        ((3, 8, 3), {"stride": 2, "padding": 1}, (4, 3, 32, 32)),
        ((2, 4, (1, 3)), {"dilation": 2, "padding": (0, 2)}, (1, 2, 5, 9)),
        ((4, 4, 3), {"groups": 4, "padding": "same"}, (2, 4, 6, 6)),
    ],
)
def test_conv2d_output_shape_and_init_as_pytorch(args, kwargs, shape) -> None:
    m, t = nn.Conv2d(*args, **kwargs), torch.nn.Conv2d(*args, **kwargs)
    assert m.weight.shape == tuple(t.weight.shape) and m.bias.shape == tuple(t.bias.shape)
    out = m(cr.zeros(*shape))
    assert out.shape == tuple(t(torch.zeros(*shape)).shape)
    fan_in = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)), as PyTorch's default
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound


def test_conv2d_one_image_and_repr() -> None:
    m = nn.Conv2d(2, 3, 3, padding=1)
    assert m(cr.randn(2, 5, 5)).shape == (3, 5, 5)
    assert repr(m) == "Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: nn.Conv2d(3, 4, 3, groups=2), "divisible by groups"),
        (lambda: nn.Conv2d(3, 4, 0), "kernel_size must be at least 1"),
        (lambda: nn.Conv2d(3, 4, 3, padding_mode="reflect"), "padding_mode"),
        (lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same"), "stride 1"),
        (lambda: nn.Conv2d(3, 4, 3)(cr.randn(1, 2, 5, 5)), "expects input with 3 channels"),
        (lambda: nn.Conv2d(3, 4, 7)(cr.randn(1, 3, 5, 5)), "larger than the padded input"),
        (lambda: nn.Conv2d(3, 4, 3)(cr.randn(3, 5)), r"\(N, C, H, W\)"),
        (lambda: F.max_pool2d(cr.randn(1, 1, 4, 4), 2, padding=2), "at most half"),
        (lambda: F.avg_pool2d(cr.randn(1, 1, 4, 4), 5), "larger than the padded input"),
        (lambda: F.fold(cr.randn(1, 4, 5), 3, 2), r"expected input of shape \(N, C\*4, 4\)"),
        (lambda: nn.BatchNorm2d(3)(cr.randn(2, 3, 4)), r"\(N, 3, H, W\)"),
        (lambda: nn.Dropout2d(1.5), r"p must be in \[0, 1\]"),
        (lambda: nn.Conv1d(3, 4, 3)(cr.randn(1, 3, 5, 5)), r"\(N, C, L\) or \(C, L\)"),
        (lambda: nn.Conv1d(3, 4, 7)(cr.randn(1, 3, 5)), r"kernel \(7,\).*input \(5,\)"),
        (lambda: nn.Conv1d(3, 4, (3, 3)), "kernel_size must be an int or a sequence of 1"),
        (lambda: F.max_pool1d(cr.randn(1, 1, 4), 2, padding=2), "at most half"),
        (lambda: F.avg_pool1d(cr.randn(1, 1, 4), 5), "larger than the padded input"),
        (lambda: nn.GroupNorm(4, 6), "divisible by num_groups"),
        (lambda: nn.GroupNorm(2, 4)(cr.randn(2, 6, 3)), r"\(N, 4, \*\)"),
        (lambda: F.group_norm(cr.randn(2, 6, 3), 4), "dividing the 6 channels"),
    ],
)
def test_bad_arguments_say_what_was_expected(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def _both(fn, tfn, x):
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yc, yt = fn(xc), tfn(xt)
    g = np.arange(1.0, yc.numel() + 1).reshape(yc.shape)
    yc.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    return yc.detach().numpy(), yt.detach().numpy(), xc.grad.numpy(), xt.grad.numpy()


@pytest.mark.parametrize(
    "x",
    [
        np.zeros((1, 1, 4, 4)),  # every window a tie: the first element wins, as in PyTorch
        np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 3.0, 1.0]]]]),
        np.array([[[[1.0, np.nan, 2.0], [np.nan, 5.0, 0.0], [1.0, 1.0, np.nan]]]]),
    ],
    ids=["all_ties", "ties_overlapping", "nan"],
)
@pytest.mark.parametrize("stride", [1, 2])
def test_max_pool_routes_ties_and_nan_as_pytorch(x, stride) -> None:
    yc, yt, gc, gt = _both(
        lambda v: F.max_pool2d(v, 2, stride),
        lambda v: torch.nn.functional.max_pool2d(v, 2, stride),
        x,
    )
    np.testing.assert_array_equal(yc, yt)
    np.testing.assert_array_equal(gc, gt)  # each window's gradient reached one input only


def test_max_pool_indices_as_pytorch() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8))
    for kwargs in (
        {},
        {"stride": 1, "padding": 1, "dilation": 2},
        {"stride": 2, "ceil_mode": True},
    ):
        v, i = F.max_pool2d(cr.tensor(x), 3, return_indices=True, **kwargs)
        tv, ti = torch.nn.functional.max_pool2d(torch.tensor(x), 3, return_indices=True, **kwargs)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        assert i.dtype == cr.int64


def test_max_pool_is_the_max_gate_per_window() -> None:
    """The lecture's max gate: the whole upstream gradient goes to the window's largest input,
    and an input that wins two overlapping windows receives both gradients."""
    x = cr.tensor([[[[0.0, 9.0, 1.0], [2.0, 3.0, 4.0]]]], requires_grad=True)
    y = F.max_pool2d(x, (2, 2), stride=1)  # windows [0 9; 2 3] and [9 1; 3 4]: 9 wins both
    assert y.tolist() == [[[[9.0, 9.0]]]]
    y.backward(cr.tensor([[[[1.0, 10.0]]]]))
    assert x.grad.tolist() == [[[[0.0, 11.0, 0.0], [0.0, 0.0, 0.0]]]]


def test_pooling_without_grad_gives_the_same_values() -> None:
    x = cr.randn(2, 3, 9, 9)
    with cr.no_grad():
        a = F.max_pool2d(x, 3, 2, 1)
    b = F.max_pool2d(x.requires_grad_(), 3, 2, 1)
    np.testing.assert_array_equal(a.numpy(), b.detach().numpy())


def test_dropout2d_zeroes_whole_channels_and_scales_the_rest() -> None:
    cr.manual_seed(0)
    m = nn.Dropout2d(0.5)
    x = cr.ones(8, 16, 4, 4)
    y = m(x).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # a channel is kept or dropped
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    assert m(cr.ones(16, 4, 4)).shape == (16, 4, 4)  # one image (C, H, W)
    m.eval()
    assert m(x) is x


def test_batchnorm2d_normalises_each_channel_over_batch_and_positions() -> None:
    cr.manual_seed(0)
    bn = nn.BatchNorm2d(3).double()
    x = cr.randn(4, 3, 5, 5, dtype=cr.float64) * 3 + 2
    y = bn(x).detach().numpy()
    np.testing.assert_allclose(y.mean((0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var((0, 2, 3)), 1, atol=1e-3)
    assert int(bn.num_batches_tracked.item()) == 1


@pytest.mark.parametrize(
    "layer",
    [
        lambda: nn.Conv2d(2, 2, 2, stride=(1, 2), padding=1),
        lambda: nn.Conv2d(2, 4, 2, groups=2, bias=False),
        lambda: nn.BatchNorm2d(2),
        lambda: nn.Sequential(nn.Conv2d(2, 3, 2), nn.Tanh(), nn.AvgPool2d(2, 1)),
    ],
)
def test_layers_gradcheck(layer) -> None:
    cr.manual_seed(3)
    m = layer().double()
    x = cr.randn(2, 2, 4, 3, dtype=cr.float64, requires_grad=True)
    params = list(m.parameters())

    def f(x, *ps):
        return m(x)

    assert cr.autograd.gradcheck(f, (x, *params))
    assert cr.autograd.gradgradcheck(f, (x, *params))
