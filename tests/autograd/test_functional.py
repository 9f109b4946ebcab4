"""Gradients as values: cr.autograd.grad, the functional API (jacobian, hessian, vjp, hvp), and
gradcheck / gradgradcheck."""

import re

import numpy as np
import pytest

import chainrule as cr

F64 = cr.float64
functional = cr.autograd.functional


def t64(values, requires_grad=True):
    return cr.tensor(values, dtype=F64, requires_grad=requires_grad)


# ----- cr.autograd.grad -----
def test_grad_of_a_leaf():
    x = t64([1.0, -2.0, 3.0])
    (g,) = cr.autograd.grad((x * x).sum(), x)
    np.testing.assert_array_equal(g.numpy(), [2.0, -4.0, 6.0])
    assert not g.requires_grad


def test_grad_accepts_a_single_tensor_or_sequences():
    x = t64(3.0)
    assert cr.autograd.grad(x * x, x)[0].item() == 6.0
    assert cr.autograd.grad([x * x], [x])[0].item() == 6.0
    assert cr.autograd.grad((x * x,), (x,))[0].item() == 6.0


def test_grad_of_a_non_leaf():
    x = t64([1.0, 2.0])
    h = x * 3.0
    out = (h * h).sum()
    (gh,) = cr.autograd.grad(out, h)
    np.testing.assert_array_equal(gh.numpy(), [6.0, 12.0])  # 2h


def test_grad_multiple_outputs_and_inputs():
    x = t64([1.0, 2.0])
    w = t64([3.0, 4.0])
    h = x * w
    o1 = h.sum()
    o2 = (h * h).sum()
    gx, gh, gw = cr.autograd.grad([o1, o2], [x, h, w])
    hv = np.array([3.0, 8.0])
    # d(o1 + o2)/dh = 1 + 2h; chain through h = x w
    np.testing.assert_array_equal(gh.numpy(), 1 + 2 * hv)
    np.testing.assert_array_equal(gx.numpy(), (1 + 2 * hv) * [3.0, 4.0])
    np.testing.assert_array_equal(gw.numpy(), (1 + 2 * hv) * [1.0, 2.0])


def test_grad_outputs_weights_each_output():
    x = t64([1.0, 2.0])
    (g,) = cr.autograd.grad(x * x, x, grad_outputs=t64([1.0, 10.0], requires_grad=False))
    np.testing.assert_array_equal(g.numpy(), [2.0, 40.0])
    a, b = x * 2.0, x * 3.0
    (g,) = cr.autograd.grad([a.sum(), b.sum()], x, grad_outputs=[t64(1.0, False), t64(-1.0, False)])
    np.testing.assert_array_equal(g.numpy(), [-1.0, -1.0])


def test_grad_outputs_count_must_match():
    x = t64([1.0, 2.0])
    with pytest.raises((ValueError, RuntimeError)):
        cr.autograd.grad([x.sum(), x.sum()], x, grad_outputs=[t64(1.0, False)])


def test_grad_non_scalar_output_needs_grad_outputs():
    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"\(2,\)"):
        cr.autograd.grad(x * 2.0, x)


def test_grad_allow_unused():
    x = t64([1.0, 2.0])
    unused = t64(5.0)
    out = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        cr.autograd.grad(out, [x, unused], retain_graph=True)
    gx, gu = cr.autograd.grad(out, [x, unused], allow_unused=True)
    np.testing.assert_array_equal(gx.numpy(), [2.0, 2.0])
    assert gu is None


def test_grad_input_must_require_grad():
    x = t64([1.0, 2.0])
    c = t64([1.0, 2.0], requires_grad=False)
    with pytest.raises(RuntimeError, match="require"):
        cr.autograd.grad((x * c).sum(), c)


def test_grad_does_not_touch_dot_grad():
    x = t64([1.0, 2.0])
    h = x * 3.0
    h.register_hook(lambda g: None)
    cr.autograd.grad((h * h).sum(), x)
    assert x.grad is None
    x.grad = t64([5.0, 5.0], requires_grad=False)
    cr.autograd.grad((x * x).sum(), x)
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])


def test_grad_frees_the_graph_unless_retained():
    x = t64([1.0, 2.0])
    out = (x * x).sum()
    cr.autograd.grad(out, x, retain_graph=True)
    cr.autograd.grad(out, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        cr.autograd.grad(out, x)


def test_grad_create_graph_second_derivative_of_x_cubed():
    x = t64([1.0, 2.0, -3.0])
    (g,) = cr.autograd.grad((x**3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0, 27.0], rtol=1e-15)
    assert g.requires_grad and g.grad_fn is not None
    (gg,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), [6.0, 12.0, -18.0], rtol=1e-15)  # 6x
    assert x.grad is None


def test_grad_create_graph_third_derivative():
    x = t64(2.0)
    (g1,) = cr.autograd.grad(x**4, x, create_graph=True)
    (g2,) = cr.autograd.grad(g1, x, create_graph=True)
    (g3,) = cr.autograd.grad(g2, x)
    assert g1.item() == pytest.approx(32.0)  # 4x^3
    assert g2.item() == pytest.approx(48.0)  # 12x^2
    assert g3.item() == pytest.approx(48.0)  # 24x


def test_backward_create_graph_makes_grad_differentiable():
    x = t64(2.0)
    (x**3).backward(create_graph=True)
    assert x.grad.item() == pytest.approx(12.0)
    assert x.grad.requires_grad
    (gg,) = cr.autograd.grad(x.grad, x)
    assert gg.item() == pytest.approx(12.0)  # 6x


def test_readme_tanh_second_derivative():
    w = cr.tensor([2.0, -3.0, -3.0], dtype=F64, requires_grad=True)
    (g,) = cr.autograd.grad(cr.tanh(w).sum(), w, create_graph=True)
    (gg,) = cr.autograd.grad(g.sum(), w)
    th = np.tanh([2.0, -3.0, -3.0])
    np.testing.assert_allclose(g.detach().numpy(), 1 - th**2, rtol=1e-12)
    np.testing.assert_allclose(gg.numpy(), -2 * th * (1 - th**2), rtol=1e-12)


def test_create_graph_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    xa, wa = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    x, w = t64(xa), t64(wa)
    (gw,) = cr.autograd.grad(cr.tanh(x @ w).sum(), w, create_graph=True)
    (gx,) = cr.autograd.grad((gw * gw).sum(), x)
    tx, tw = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    (tgw,) = torch.autograd.grad(torch.tanh(tx @ tw).sum(), tw, create_graph=True)
    (tgx,) = torch.autograd.grad((tgw * tgw).sum(), tx)
    np.testing.assert_allclose(gw.detach().numpy(), tgw.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(gx.numpy(), tgx.numpy(), rtol=1e-10)


def test_autograd_backward_with_several_roots():
    a = t64(2.0)
    cr.autograd.backward([a * 3.0, a * a], [t64(1.0, False), t64(1.0, False)])
    assert a.grad.item() == 7.0  # 3 + 2a


# ----- functional: jacobian, hessian, vjp, hvp -----
def test_jacobian_of_a_linear_map_is_its_matrix():
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    jac = functional.jacobian(lambda x: cr.tensor(A) @ x, cr.tensor([1.0, -1.0, 2.0], dtype=F64))
    assert jac.shape == (2, 3)
    np.testing.assert_array_equal(jac.numpy(), A)


def test_jacobian_of_several_inputs_and_shapes():
    x = np.array([1.0, -1.0, 2.0])
    jx, jy = functional.jacobian(lambda a, b: a * b, (cr.tensor(x), cr.tensor(2 * x)))
    np.testing.assert_array_equal(jx.numpy(), np.diag(2 * x))
    np.testing.assert_array_equal(jy.numpy(), np.diag(x))
    jac = functional.jacobian(lambda m: m.sum(dim=1), cr.tensor(np.ones((2, 3))))
    assert jac.shape == (2, 2, 3)
    np.testing.assert_array_equal(jac.numpy()[0], [[1, 1, 1], [0, 0, 0]])


def test_hessian_of_a_quadratic_form():
    M = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 1.0]])
    hess = functional.hessian(lambda t: (t * (cr.tensor(M) @ t)).sum(), cr.tensor([1.0, -1.0, 2.0]))
    np.testing.assert_allclose(hess.numpy(), M + M.T, rtol=1e-14)


def test_vjp_and_hvp():
    x = np.array([1.0, -1.0, 2.0])
    out, vjp = functional.vjp(lambda t: t * t, cr.tensor(x), cr.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(out.numpy(), x * x)
    np.testing.assert_array_equal(vjp.numpy(), 2 * x * [1.0, 2.0, 3.0])
    out, hv = functional.hvp(lambda t: (t**3).sum(), cr.tensor(x), cr.tensor([1.0, 0.0, 2.0]))
    assert out.item() == pytest.approx(8.0)
    np.testing.assert_allclose(hv.numpy(), 6 * x * [1.0, 0.0, 2.0], rtol=1e-14)


# ----- gradcheck -----
class WrongSquare(cr.autograd.Function):
    """y = x^2 with a backward off by a factor 3/2 (3x instead of 2x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3.0 * x * grad


class DetachedCube(cr.autograd.Function):
    """y = x^3; backward 3x^2 is right to first order, but built from detached values, so its own
    derivative (what gradgradcheck differentiates) is zero instead of 6x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xd = x.detach()
        return 3.0 * xd * xd * grad


@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda x: (x * x).sum(), [(3,)]),
        (lambda x, w: cr.tanh(x @ w), [(2, 3), (3, 4)]),
        (lambda x: cr.sigmoid(x).exp(), [(2, 2)]),
        (lambda x, y: x / (y * y + 1.0), [(3,), (2, 3)]),
    ],
    ids=["square-sum", "tanh-matmul", "sigmoid-exp", "broadcast-div"],
)
def test_gradcheck_and_gradgradcheck_pass_on_correct_ops(fn, shapes):
    rng = np.random.default_rng(0)
    inputs = tuple(t64(rng.standard_normal(s)) for s in shapes)
    assert cr.autograd.gradcheck(fn, inputs) is True
    assert cr.autograd.gradgradcheck(fn, inputs) is True


def test_gradcheck_catches_a_wrong_backward_and_says_where():
    x = t64([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(cr.autograd.GradcheckError) as info:
        cr.autograd.gradcheck(WrongSquare.apply, (x,))
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert "input 0" in msg
    # analytic 3x vs numeric 2x on the diagonal: the absolute error x is largest (4) at x = 4,
    # the element (1, 1); the relative error is 0.5 everywhere
    abs_part = re.search(r"absolute error ([0-9.e+-]+)", msg)
    assert abs_part and float(abs_part.group(1)) == pytest.approx(4.0, rel=1e-3)
    rel_part = re.search(r"relative error ([0-9.e+-]+)", msg)
    assert rel_part and float(rel_part.group(1)) == pytest.approx(0.5, rel=1e-3)
    assert "(1, 1)" in msg


def test_gradcheck_names_the_failing_input():
    a, b = t64([1.0, 2.0]), t64([3.0, 4.0])
    with pytest.raises(cr.autograd.GradcheckError) as info:
        cr.autograd.gradcheck(lambda a, b: a * WrongSquare.apply(b), (a, b))
    msg = str(info.value)
    assert "input 1" in msg and "input 0 (" not in msg


def test_gradcheck_can_return_false_instead_of_raising():
    x = t64([1.0, 2.0])
    assert cr.autograd.gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False


def test_gradcheck_rejects_float32_inputs():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises((TypeError, ValueError, RuntimeError), match="float64"):
        cr.autograd.gradcheck(lambda x: x * x, (x,))


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises((ValueError, RuntimeError)):
        cr.autograd.gradcheck(lambda x: x * x, (t64([1.0], requires_grad=False),))


def test_gradcheck_accepts_a_single_tensor_and_leaves_it_unchanged():
    x = t64([0.5, -1.5])
    before = x.detach().numpy().copy()
    assert cr.autograd.gradcheck(cr.tanh, x)
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None


def test_gradgradcheck_catches_a_wrong_second_derivative():
    x = t64([1.0, 2.0])
    assert cr.autograd.gradcheck(DetachedCube.apply, (x,))  # first order is right
    with pytest.raises(cr.autograd.GradcheckError):
        cr.autograd.gradgradcheck(DetachedCube.apply, (x,))
    assert cr.autograd.gradgradcheck(DetachedCube.apply, (x,), raise_exception=False) is False
