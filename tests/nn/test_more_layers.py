"""Embedding, AdaptiveAvgPool2d, Unflatten, the activations SiLU/LogSigmoid/Softplus/Hardtanh/
ReLU6, the smooth L1 and Huber losses, F.normalize and F.pad, against PyTorch: values, gradients
(float64), the modules' state-dict keys and their arguments' defaults."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
F, TF = cr.nn.functional, torch.nn.functional
RNG = np.random.default_rng(0)


def _np(t):
    return None if t is None else t.detach().numpy()


def _compare(ours_fn, theirs_fn, *arrays):
    """Call both on float64 leaves made from ``arrays``; compare outputs and gradients."""
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = ours_fn(*xs), theirs_fn(*ts)
    np.testing.assert_allclose(_np(out), _np(tout), rtol=1e-12, atol=1e-14)
    w = RNG.standard_normal(tuple(tout.shape))
    (out * cr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(_np(x.grad), _np(t.grad), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "name,args",
    [
        ("SiLU", ()),
        ("LogSigmoid", ()),
        ("Softplus", (2.0, 5.0)),
        ("Hardtanh", (-0.5, 1.5)),
        ("ReLU6", ()),
    ],
)
def test_activation_modules_match_pytorch(name, args):
    x = RNG.standard_normal((4, 5)) * 4
    x[0, :3] = [-0.5, 1.5, 6.0]  # Hardtanh's and ReLU6's ends: no gradient there, as PyTorch's
    _compare(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), x)
    assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


@pytest.mark.parametrize(
    "loss,kwargs",
    [
        ("SmoothL1Loss", {}),
        ("SmoothL1Loss", {"beta": 0.3, "reduction": "sum"}),
        ("SmoothL1Loss", {"beta": 0.0}),
        ("HuberLoss", {}),
        ("HuberLoss", {"delta": 2.5, "reduction": "none"}),
    ],
)
def test_smooth_l1_and_huber_losses_match_pytorch(loss, kwargs):
    x, t = RNG.standard_normal((3, 4)) * 3, RNG.standard_normal((3, 4))
    x[0, 0] = t[0, 0]  # d = 0: gradient 0
    _compare(getattr(nn, loss)(**kwargs), getattr(torch.nn, loss)(**kwargs), x, t)


@pytest.mark.parametrize("size", [1, (1, 1), (2, 3), (3, None), (4, 5), (7, 2)])
def test_adaptive_avg_pool2d_matches_pytorch(size):
    x = RNG.standard_normal((2, 3, 7, 5))
    _compare(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), x)


@pytest.mark.parametrize(
    "pad,mode,value",
    [
        ((1, 2), "constant", 0.5),
        ((1, 0, -1, 2), "constant", None),
        ((2, 1, 1, 2), "reflect", None),
        ((3, 3, 1, 2), "replicate", None),
        ((2, 4, 1, 0), "circular", None),
    ],
)
def test_pad_matches_pytorch(pad, mode, value):
    x = RNG.standard_normal((2, 3, 4, 5))
    _compare(lambda a: F.pad(a, pad, mode, value), lambda a: TF.pad(a, pad, mode, value), x)


def test_pad_refuses_what_does_not_fit():
    x = cr.ones(1, 2, 3)
    with pytest.raises(ValueError, match="less than the size 3"):
        F.pad(x, (3, 0), "reflect")
    with pytest.raises(ValueError, match="mode must be"):
        F.pad(x, (1, 1), "wrap")
    with pytest.raises(ValueError, match="even number"):
        F.pad(x, (1,))


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, -1), (3.0, 0)])
def test_normalize_matches_pytorch(p, dim):
    x = RNG.standard_normal((3, 4))
    x[1] = 0.0  # a zero row: divided by eps, gradient finite
    _compare(lambda a: F.normalize(a, p, dim), lambda a: TF.normalize(a, p, dim), x)


def _embedding_pair(**kwargs):
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(6, 3, dtype=torch.float64, **kwargs)
    ours = nn.Embedding(6, 3, dtype=cr.float64, **kwargs)
    ours.load_state_dict({"weight": cr.tensor(theirs.weight.detach().numpy())})
    return ours, theirs


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"padding_idx": 2}, {"padding_idx": -1}, {"scale_grad_by_freq": True}, {"max_norm": 1.0}],
    ids=["plain", "padding", "padding-negative", "scale-by-freq", "max-norm"],
)
def test_embedding_matches_pytorch(kwargs):
    ours, theirs = _embedding_pair(**kwargs)
    idx = np.array([[0, 2, 2, 5], [1, 2, 0, 4]])
    out, tout = ours(cr.tensor(idx)), theirs(torch.tensor(idx))
    np.testing.assert_allclose(_np(out), _np(tout), rtol=1e-12)
    w = RNG.standard_normal(tuple(tout.shape))
    (out * cr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(_np(ours.weight.grad), _np(theirs.weight.grad), rtol=1e-12)
    np.testing.assert_allclose(_np(ours.weight), _np(theirs.weight), rtol=1e-12)  # max_norm
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"padding_idx": 3},
        {"scale_grad_by_freq": True},
        {"padding_idx": 1, "scale_grad_by_freq": True},
    ],
)
def test_embedding_with_a_scaled_gradient_passes_inf_nan_and_minus_zero_as_they_are(kwargs):
    """Padding and frequency scaling change the gradient only: the looked-up rows are the
    table's, bit for bit (they were kept + (out - kept) * share: inf - inf made NaN, and -0.0
    came out +0.0), and the gradient is PyTorch's; second order, it is linear in the upstream."""
    table = np.array([[1.0, -0.0], [np.inf, 2.0], [-np.inf, np.nan], [3.0, 4.0]])
    idx = np.array([[0, 1, 2, 1], [3, 3, 0, 2]])
    w = cr.tensor(table, requires_grad=True)
    out = F.embedding(cr.tensor(idx), w, **kwargs)
    got, want = _np(out), table[idx]
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    tw = torch.tensor(table, requires_grad=True)
    g = np.arange(out.numel(), dtype=np.float64).reshape(out.shape)
    out.backward(cr.tensor(g))
    TF.embedding(torch.tensor(idx), tw, **kwargs).backward(torch.tensor(g))
    np.testing.assert_array_equal(_np(w.grad), _np(tw.grad))
    up = cr.tensor(g, requires_grad=True)
    (gw,) = cr.autograd.grad(F.embedding(cr.tensor(idx), w, **kwargs), [w], up, create_graph=True)
    (gup,) = cr.autograd.grad(gw.sum(), [up])
    share = (idx != kwargs.get("padding_idx", -1)).astype(np.float64)
    if kwargs.get("scale_grad_by_freq"):
        share /= np.unique(idx, return_counts=True)[1][np.searchsorted(np.unique(idx), idx)]
    np.testing.assert_array_equal(_np(gup), np.repeat(share[..., None], 2, axis=-1))


def test_embedding_starts_as_pytorch_s_and_loads_a_pretrained_table():
    e = nn.Embedding(1000, 4, padding_idx=3)
    w = e.weight.detach().numpy()
    assert np.all(w[3] == 0) and abs(w.mean()) < 0.1 and abs(w.std() - 1) < 0.1
    table = cr.tensor(np.arange(12.0).reshape(4, 3))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    assert frozen(cr.tensor([3, 0])).tolist() == [[9.0, 10.0, 11.0], [0.0, 1.0, 2.0]]
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    with pytest.raises(RuntimeError, match="integer index"):
        e(cr.tensor([1.0]))


def test_unflatten_is_flatten_s_inverse():
    x = cr.randn(2, 12)
    ours = nn.Unflatten(1, (3, 4))(x)
    theirs = torch.nn.Unflatten(1, (3, 4))(torch.tensor(x.numpy()))
    assert tuple(ours.shape) == tuple(theirs.shape) and repr(nn.Unflatten(1, (3, 4))) == repr(
        torch.nn.Unflatten(1, (3, 4))
    )
    assert np.array_equal(nn.Flatten()(ours).numpy(), x.numpy())
