"""Gradients of gradients: gradgradcheck on the ops, and Hessians, Hessian-vector products and
Jacobians against closed forms and against PyTorch (those skip without it)."""

from __future__ import annotations

import numpy as np
import pytest
from _table import SECOND_ORDER, Op
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.autograd.functional import hessian, hvp, jacobian, vjp

try:
    import torch
except ImportError:  # the PyTorch comparisons skip; the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def t64(a, requires_grad: bool = True) -> cr.Tensor:
    return cr.tensor(np.array(a, dtype=np.float64), requires_grad=requires_grad)


# ----- gradgradcheck, every op of the second-order table -----
@pytest.mark.parametrize("op", SECOND_ORDER, ids=lambda op: op.name)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_gradgradcheck(op: Op, data: st.DataObject) -> None:
    ex = data.draw(op.example, label="example")
    inputs = [t64(a) for a in ex.arrays]
    assert cr.autograd.gradgradcheck(lambda *xs: op.cr(*xs, **ex.params), inputs, **op.gradcheck)


def test_gradgradcheck_catches_a_wrong_second_derivative() -> None:
    """A backward that is right to first order but saves a value it then treats as constant."""

    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * cr.tensor(x.detach().numpy() ** 2)  # right value, cut graph

    x = t64([0.5, -1.5])
    assert cr.autograd.gradcheck(Cube.apply, [x])
    with pytest.raises(cr.autograd.GradcheckError):
        cr.autograd.gradgradcheck(Cube.apply, [x])


def test_second_derivative_of_tanh() -> None:
    x = t64(np.linspace(-3, 3, 13))
    (g,) = cr.autograd.grad(cr.tanh(x).sum(), x, create_graph=True)
    (gg,) = cr.autograd.grad(g.sum(), x, create_graph=True)
    (ggg,) = cr.autograd.grad(gg.sum(), x)
    th = np.tanh(x.detach().numpy())
    np.testing.assert_allclose(g.detach().numpy(), 1 - th**2, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gg.detach().numpy(), -2 * th * (1 - th**2), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ggg.numpy(), (1 - th**2) * (6 * th**2 - 2), rtol=1e-12, atol=1e-14)


def test_second_derivative_of_sigmoid_and_log() -> None:
    x = t64([-2.0, 0.3, 1.7])
    (g,) = cr.autograd.grad(cr.sigmoid(x).sum(), x, create_graph=True)
    (gg,) = cr.autograd.grad(g.sum(), x)
    s = 1 / (1 + np.exp(-x.detach().numpy()))
    np.testing.assert_allclose(gg.numpy(), s * (1 - s) * (1 - 2 * s), rtol=1e-12)
    (g,) = cr.autograd.grad(cr.log(x * x).sum(), x, create_graph=True)  # 2/x, then -2/x^2
    (gg,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), -2 / x.detach().numpy() ** 2, rtol=1e-12)


# ----- Hessians against closed forms -----
def _cubic(x):  # sum(x^3) + x0 x1: H = diag(6 x) + (e0 e1^T + e1 e0^T)
    return (x**3).sum() + x[0] * x[1]


def _cubic_hessian(x: np.ndarray) -> np.ndarray:
    h = np.diag(6 * x)
    h[0, 1] = h[1, 0] = 1.0
    return h


def _lse_hessian(x: np.ndarray) -> np.ndarray:  # d^2 logsumexp = diag(p) - p p^T
    p = np.exp(x - x.max())
    p /= p.sum()
    return np.diag(p) - np.outer(p, p)


A = np.array([[1.0, 2.0, 0.0], [-1.0, 3.0, 0.5], [0.0, 4.0, -2.0]])


HESSIANS = [
    ("cubic", _cubic, _cubic_hessian),
    ("logsumexp", cr.logsumexp, _lse_hessian),
    ("quadratic_form", lambda x: x @ t64(A, False) @ x, lambda x: A + A.T),
    (
        "exp_times_tanh",  # f = sum(e^x) * tanh(x0): product rule, twice
        lambda x: cr.exp(x).sum() * cr.tanh(x[0]),
        None,
    ),
]


@pytest.mark.parametrize(("name", "fn", "analytic"), HESSIANS, ids=[h[0] for h in HESSIANS])
def test_hessian_closed_form(name, fn, analytic) -> None:
    x = np.array([0.3, -1.2, 0.8])
    h = hessian(fn, t64(x, False)).numpy()
    assert h.shape == (3, 3)
    np.testing.assert_allclose(h, h.T, atol=1e-12)
    if analytic is None:  # the product rule by hand
        e, th = np.exp(x), np.tanh(x[0])
        d1, d2 = 1 - th**2, -2 * th * (1 - th**2)
        expected = np.diag(e) * th
        expected[0, :] += e * d1
        expected[:, 0] += e * d1
        expected[0, 0] += e.sum() * d2
    else:
        expected = analytic(x)
    np.testing.assert_allclose(h, expected, rtol=1e-10, atol=1e-12)


def test_hvp_matches_hessian_times_vector() -> None:
    x, v = np.array([0.3, -1.2, 0.8]), np.array([1.0, -2.0, 0.5])
    value, hv = hvp(_cubic, t64(x, False), t64(v, False))
    np.testing.assert_allclose(value.item(), (x**3).sum() + x[0] * x[1])
    np.testing.assert_allclose(hv.numpy(), _cubic_hessian(x) @ v, rtol=1e-12)


def test_jacobian_closed_form() -> None:
    """The Jacobian of softmax is diag(p) - p p^T; of x -> A x it is A."""
    x = np.array([0.5, -1.0, 2.0])
    j = jacobian(lambda z: cr.softmax(z, 0), t64(x, False)).numpy()
    np.testing.assert_allclose(j, _lse_hessian(x), rtol=1e-12, atol=1e-15)
    j = jacobian(lambda z: t64(A, False) @ z, t64(x, False)).numpy()
    np.testing.assert_allclose(j, A, rtol=1e-15)


# ----- against PyTorch -----
def _mlp_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    n, d, h, c = 8, 3, 5, 4
    params = [
        rng.standard_normal((d, h)),
        rng.standard_normal(h) * 0.1,
        rng.standard_normal((h, c)),
        rng.standard_normal(c) * 0.1,
    ]
    x, y = rng.standard_normal((n, d)), rng.integers(0, c, n)
    vs = [rng.standard_normal(p.shape) for p in params]
    return params, x, y, vs


def _cr_loss(x, y):
    def loss(w1, b1, w2, b2):
        hidden = cr.tanh(x @ w1 + b1)
        scores = hidden @ w2 + b2
        return -cr.log_softmax(scores, dim=1)[cr.arange(len(y)), y].mean()

    return loss


def _torch_loss(x, y):
    def loss(w1, b1, w2, b2):
        scores = torch.tanh(x @ w1 + b1) @ w2 + b2
        return torch.nn.functional.cross_entropy(scores, y)

    return loss


@needs_torch
def test_mlp_hessian_vector_product_matches_torch() -> None:
    params, x, y, vs = _mlp_data()
    # PyTorch: the gradient with a graph, then the gradient of <gradient, v>
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    tloss = _torch_loss(torch.tensor(x), torch.tensor(y))(*tp)
    tg = torch.autograd.grad(tloss, tp, create_graph=True)
    dot = sum((g * torch.tensor(v)).sum() for g, v in zip(tg, vs))
    thv = torch.autograd.grad(dot, tp)
    # chainrule, the same two passes by hand
    cp = [t64(p) for p in params]
    loss = _cr_loss(t64(x, False), cr.tensor(y))(*cp)
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    g = cr.autograd.grad(loss, cp, create_graph=True)
    for a, b in zip(g, tg):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    dot = sum((gi * t64(v, False)).sum() for gi, v in zip(g, vs))
    hv = cr.autograd.grad(dot, cp)
    for a, b in zip(hv, thv):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    # and the functional form
    _, hv2 = hvp(_cr_loss(t64(x, False), cr.tensor(y)), tuple(params), tuple(vs))
    for a, b in zip(hv2, thv):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def _flat_mlp_loss(lib, x, y, shapes):
    """The MLP loss as a function of one flat parameter vector (for full Hessians)."""
    sizes = [int(np.prod(s)) for s in shapes]
    cuts = np.cumsum([0, *sizes])

    def loss(theta):
        w = [theta[a:b].reshape(s) for a, b, s in zip(cuts[:-1], cuts[1:], shapes)]
        if lib == "torch":
            return _torch_loss(x, y)(*w)
        return _cr_loss(x, y)(*w)

    return loss


@needs_torch
def test_mlp_hessian_matches_torch() -> None:
    params, x, y, _ = _mlp_data(1)
    params = [p[:2] if p.ndim == 1 else p[:2, :2] for p in params]  # 14 parameters
    x = x[:, :2]
    y = np.minimum(y, 1)
    shapes = [p.shape for p in params]
    theta = np.concatenate([p.ravel() for p in params])
    f = _flat_mlp_loss("cr", t64(x, False), cr.tensor(y), shapes)
    tf = _flat_mlp_loss("torch", torch.tensor(x), torch.tensor(y), shapes)
    h = hessian(f, t64(theta, False)).numpy()
    th = torch.autograd.functional.hessian(tf, torch.tensor(theta)).numpy()
    assert h.shape == th.shape == (theta.size, theta.size)
    np.testing.assert_allclose(h, th, rtol=1e-9, atol=1e-12)


@needs_torch
@pytest.mark.parametrize(("name", "fn", "analytic"), HESSIANS, ids=[h[0] for h in HESSIANS])
def test_hessian_matches_torch(name, fn, analytic) -> None:
    x = np.array([0.3, -1.2, 0.8])
    tfns = {
        "cubic": lambda z: (z**3).sum() + z[0] * z[1],
        "logsumexp": lambda z: torch.logsumexp(z, 0),
        "quadratic_form": lambda z: z @ torch.tensor(A) @ z,
        "exp_times_tanh": lambda z: torch.exp(z).sum() * torch.tanh(z[0]),
    }
    h = hessian(fn, t64(x, False)).numpy()
    th = torch.autograd.functional.hessian(tfns[name], torch.tensor(x)).numpy()
    np.testing.assert_allclose(h, th, rtol=1e-10, atol=1e-12)


JACOBIANS = [
    ("softmax", lambda z: cr.softmax(z, -1), lambda z: torch.softmax(z, -1), (2, 3)),
    ("log_softmax", lambda z: cr.log_softmax(z, 0), lambda z: torch.log_softmax(z, 0), (3, 2)),
    ("tanh_matmul", lambda z: cr.tanh(z @ z.T), lambda z: torch.tanh(z @ z.T), (2, 3)),
    ("var", lambda z: cr.var(z, 1), lambda z: torch.var(z, 1), (2, 4)),
    ("index", lambda z: z[[0, 0, 1], ::-1], lambda z: z[[0, 0, 1]].flip(1), (2, 3)),
    ("sigmoid_sum", lambda z: cr.sigmoid(z).sum(0), lambda z: torch.sigmoid(z).sum(0), (3, 2)),
]


@needs_torch
@pytest.mark.parametrize(("name", "fn", "tfn", "shape"), JACOBIANS, ids=[j[0] for j in JACOBIANS])
def test_jacobian_matches_torch(name, fn, tfn, shape) -> None:
    x = np.random.default_rng(5).standard_normal(shape)
    j = jacobian(fn, t64(x, False)).numpy()
    tj = torch.autograd.functional.jacobian(tfn, torch.tensor(x)).numpy()
    assert j.shape == tj.shape
    np.testing.assert_allclose(j, tj, rtol=1e-10, atol=1e-12)


@needs_torch
def test_jacobian_of_two_inputs_and_vjp_match_torch() -> None:
    rng = np.random.default_rng(6)
    a, b, v = rng.standard_normal((2, 3)), rng.standard_normal((3,)), rng.standard_normal(2)
    ja, jb = jacobian(lambda x, w: cr.tanh(x @ w), (t64(a, False), t64(b, False)))
    tja, tjb = torch.autograd.functional.jacobian(
        lambda x, w: torch.tanh(x @ w), (torch.tensor(a), torch.tensor(b))
    )
    np.testing.assert_allclose(ja.numpy(), tja.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jb.numpy(), tjb.numpy(), rtol=1e-10, atol=1e-12)
    out, (ga, gb) = vjp(lambda x, w: cr.tanh(x @ w), (a, b), t64(v, False))
    tout, (tga, tgb) = torch.autograd.functional.vjp(
        lambda x, w: torch.tanh(x @ w), (torch.tensor(a), torch.tensor(b)), torch.tensor(v)
    )
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ga.numpy(), tga.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb.numpy(), tgb.numpy(), rtol=1e-10, atol=1e-12)


@needs_torch
@pytest.mark.parametrize(
    ("name", "fn", "tfn"),
    [
        ("elu", lambda z: cr.elu(z, 0.7), lambda z: torch.nn.functional.elu(z, 0.7)),
        ("pow", lambda z: cr.pow(z * z + 1, z), lambda z: torch.pow(z * z + 1, z)),
        ("div", lambda z: z / (z * z + 1), lambda z: z / (z * z + 1)),
        ("std", lambda z: cr.std(z, 0), lambda z: torch.std(z, 0)),
        ("softmax", lambda z: cr.softmax(z, 0) ** 2, lambda z: torch.softmax(z, 0) ** 2),
        ("logsumexp", lambda z: cr.logsumexp(z, 0), lambda z: torch.logsumexp(z, 0)),
        ("amax", lambda z: cr.amax(z * z, 0), lambda z: torch.amax(z * z, 0)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_grad_of_grad_matches_torch(name, fn, tfn) -> None:
    """d/dx <v, d/dx <u, f(x)>> in both libraries."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3))
    cx, tx = t64(x), torch.tensor(x, requires_grad=True)
    y, ty = fn(cx), tfn(tx)
    u, v = rng.standard_normal(tuple(ty.shape)), rng.standard_normal(x.shape)
    (g,) = cr.autograd.grad(y, cx, t64(u, False), create_graph=True)
    (tg,) = torch.autograd.grad(ty, tx, torch.tensor(u), create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    (gg,) = cr.autograd.grad((g * t64(v, False)).sum(), cx)
    (tgg,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tx)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-10, atol=1e-12)


# ----- backward rules reach the array module through ctx.xp, never through NumPy's dispatch -----
@pytest.fixture
def no_numpy_dispatch(monkeypatch):
    """NumPy functions on Tensors fail, as they do with CuPy (which has no such protocol)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a backward rule called a NumPy function on a Tensor")

    monkeypatch.setattr(cr.Tensor, "__array_ufunc__", refuse)
    monkeypatch.setattr(cr.Tensor, "__array_function__", refuse)


@pytest.mark.parametrize("op", SECOND_ORDER, ids=lambda op: op.name)
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_second_order_needs_no_numpy_dispatch(no_numpy_dispatch, op: Op, data) -> None:
    ex = data.draw(op.example, label="example")
    inputs = [cr.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in ex.arrays]
    assert cr.autograd.gradgradcheck(lambda *xs: op.cr(*xs, **ex.params), inputs, **op.gradcheck)
