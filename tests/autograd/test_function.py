"""A user's own Function: the lecture's Multiply gate, written exactly as the lecture writes it."""

import re

import numpy as np
import pytest

import chainrule as cr

F64 = cr.float64


class Multiply(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        z = x * y
        return z

    @staticmethod
    def backward(ctx, grad_z):
        x, y = ctx.saved_tensors
        grad_x = y * grad_z
        grad_y = x * grad_z
        return grad_x, grad_y


class ExpSavingOutput(cr.autograd.Function):
    """y = e^x; backward reuses the saved output."""

    @staticmethod
    def forward(ctx, x):
        y = cr.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


def randn(*shape, requires_grad=True):
    return cr.randn(*shape, dtype=F64, requires_grad=requires_grad)


@pytest.fixture(autouse=True)
def _seed():
    cr.manual_seed(1234)


# ----- values and gradients -----
def test_multiply_scalar_values_and_gradients():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.tensor(3.0, requires_grad=True)
    z = Multiply.apply(x, y)
    assert isinstance(z, cr.Tensor)
    assert z.item() == 6.0
    assert z.requires_grad
    assert not z.is_leaf
    assert "MultiplyBackward" in repr(z.grad_fn)
    z.backward(cr.tensor(5.0))
    assert x.grad.item() == 15.0
    assert y.grad.item() == 10.0


def test_multiply_vectors_match_numpy():
    x, y = randn(4), randn(4)
    g = np.array([1.0, -2.0, 0.5, 3.0])
    z = Multiply.apply(x, y)
    np.testing.assert_array_equal(z.detach().numpy(), x.detach().numpy() * y.detach().numpy())
    z.backward(cr.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy() * g)
    np.testing.assert_array_equal(y.grad.numpy(), x.detach().numpy() * g)


def test_multiply_passes_gradcheck():
    assert cr.autograd.gradcheck(Multiply.apply, (randn(3, 2), randn(3, 2)))


def test_multiply_with_broadcasting_passes_gradcheck():
    # the engine sums the (3, 2) gradient of y back to y's shape (2,)
    assert cr.autograd.gradcheck(Multiply.apply, (randn(3, 2), randn(2)))


def test_multiply_passes_gradgradcheck():
    assert cr.autograd.gradgradcheck(Multiply.apply, (randn(3), randn(3)))


def test_multiply_second_derivative_under_create_graph():
    # z = x * x through Multiply: dz/dx = 2x, d2z/dx2 = 2
    x = cr.tensor([1.0, -2.0, 3.0], dtype=F64, requires_grad=True)
    (g,) = cr.autograd.grad(Multiply.apply(x, x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), [2.0, -4.0, 6.0])
    assert g.requires_grad
    (gg,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(gg.numpy(), [2.0, 2.0, 2.0])


def test_multiply_composes_with_builtin_ops():
    # the README's neuron, with the dot product's products made by the user's gate
    w = cr.tensor([2.0, -3.0, -3.0], dtype=F64, requires_grad=True)
    x = cr.tensor([-1.0, -2.0, 1.0], dtype=F64, requires_grad=True)
    f = cr.sigmoid(Multiply.apply(w, x).sum())
    f.backward()
    s = 1 / (1 + np.exp(-1.0))
    ds = s * (1 - s)
    assert f.item() == pytest.approx(s, abs=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), [-ds, -2 * ds, ds], atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), [2 * ds, -3 * ds, -3 * ds], atol=1e-12)
    # and inside a larger expression with built-ins before and after
    a, b = randn(3), randn(3)
    assert cr.autograd.gradcheck(lambda a, b: cr.tanh(Multiply.apply(a * 2.0, b.exp())), (a, b))


def test_multiply_matches_torch():
    torch = pytest.importorskip("torch")
    xa, ya, ga = np.random.default_rng(0).standard_normal((3, 4))
    x, y = cr.tensor(xa, requires_grad=True), cr.tensor(ya, requires_grad=True)
    Multiply.apply(x, y).backward(cr.tensor(ga))
    tx = torch.tensor(xa, requires_grad=True)
    ty = torch.tensor(ya, requires_grad=True)
    (tx * ty).backward(torch.tensor(ga))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-12)


# ----- ctx -----
class Probe(cr.autograd.Function):
    """Records ctx.needs_input_grad and grad mode as forward and backward see them."""

    seen: dict = {}

    @staticmethod
    def forward(ctx, x, y):
        Probe.seen["forward_grad_enabled"] = cr.is_grad_enabled()
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad):
        Probe.seen["needs_input_grad"] = tuple(ctx.needs_input_grad)
        x, y = ctx.saved_tensors
        return grad * y, grad * x


@pytest.mark.parametrize(
    "x_req, y_req", [(True, True), (True, False), (False, True)], ids=["both", "x", "y"]
)
def test_needs_input_grad(x_req, y_req):
    Probe.seen.clear()
    x = cr.tensor([1.0, 2.0], requires_grad=x_req)
    y = cr.tensor([3.0, 4.0], requires_grad=y_req)
    Probe.apply(x, y).sum().backward()
    assert Probe.seen["needs_input_grad"] == (x_req, y_req)
    assert (x.grad is not None) == x_req
    assert (y.grad is not None) == y_req


def test_needs_input_grad_is_false_for_a_python_constant():
    Probe.seen.clear()
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    Probe.apply(x, 3.0).sum().backward()
    assert Probe.seen["needs_input_grad"] == (True, False)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_forward_runs_with_recording_off():
    Probe.seen.clear()
    Probe.apply(cr.tensor(1.0, requires_grad=True), cr.tensor(2.0))
    assert Probe.seen["forward_grad_enabled"] is False
    assert cr.is_grad_enabled()  # and it is restored afterwards


def test_saved_output_tensor():
    x = cr.tensor([0.0, 1.0, -2.0], dtype=F64, requires_grad=True)
    y = ExpSavingOutput.apply(x)
    np.testing.assert_allclose(y.detach().numpy(), np.exp([0.0, 1.0, -2.0]), rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0, -2.0]), rtol=1e-15)


def test_saved_output_tensor_gradcheck_and_gradgradcheck():
    x = randn(3)
    assert cr.autograd.gradcheck(ExpSavingOutput.apply, (x,))
    assert cr.autograd.gradgradcheck(ExpSavingOutput.apply, (x,))


def test_ctx_keeps_attributes_and_constant_arguments():
    class Scale(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, alpha):
            ctx.alpha = alpha
            return x * alpha

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.alpha, None

    x = cr.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    y = Scale.apply(x, 3.0)
    np.testing.assert_array_equal(y.detach().numpy(), [3.0, 6.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_function_with_two_outputs():
    class TwoOut(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0, x * 3.0

        @staticmethod
        def backward(ctx, g2, g3):
            return g2 * 2.0 + g3 * 3.0

    x = cr.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    a, b = TwoOut.apply(x)
    assert a.grad_fn is b.grad_fn
    (a.sum() + 10.0 * b.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [32.0, 32.0])
    # an output that receives no gradient contributes zeros
    x.grad = None
    a, b = TwoOut.apply(x)
    b.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_nothing_recorded_without_inputs_requiring_grad_or_under_no_grad():
    out = Multiply.apply(cr.tensor(2.0), cr.tensor(3.0))
    assert out.item() == 6.0
    assert not out.requires_grad and out.grad_fn is None
    x = cr.tensor(2.0, requires_grad=True)
    with cr.no_grad():
        out = Multiply.apply(x, x)
    assert not out.requires_grad and out.grad_fn is None


# ----- errors that name the Function -----
def test_backward_returning_too_few_gradients_names_the_function():
    class Multiply(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, grad_z):
            x, y = ctx.saved_tensors
            return y * grad_z  # one gradient for two inputs

    x, y = randn(2), randn(2)
    z = Multiply.apply(x, y)
    with pytest.raises(RuntimeError, match="MultiplyBackward") as info:
        z.sum().backward()
    msg = str(info.value)
    assert re.search(r"\b1\b", msg) and re.search(r"\b2\b", msg)  # got 1, expected 2


def test_backward_returning_too_many_gradients_names_the_function():
    class Multiply(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, grad_z):
            return grad_z, grad_z, grad_z

    z = Multiply.apply(randn(2), randn(2))
    with pytest.raises(RuntimeError, match="MultiplyBackward"):
        z.sum().backward()


def test_backward_returning_a_wrongly_shaped_gradient_names_the_function_and_shapes():
    class Multiply(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, grad_z):
            return cr.ones(5, dtype=F64), grad_z  # x has shape (2, 3)

    z = Multiply.apply(randn(2, 3), randn(2, 3))
    with pytest.raises(RuntimeError, match="MultiplyBackward") as info:
        z.sum().backward()
    assert "(5,)" in str(info.value)
    assert "(2, 3)" in str(info.value)


def test_forward_must_return_tensors():
    class Bad(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return "not a tensor"

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(TypeError, match="Bad"):
        Bad.apply(randn(2))
