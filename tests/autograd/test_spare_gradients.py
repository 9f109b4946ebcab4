"""A backward that writes into its upstream gradient (``Function.overwrites_grad``: ReLU, Tanh,
Sigmoid) does so
only where the engine proves that nobody else holds that array (``engine._spare``): the same
gradients as out of place, bit for bit, and every array someone else holds left as it was."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import engine
from chainrule.ops import activations

F = cr.nn.functional
RNG = np.random.default_rng(0)


@pytest.fixture
def owned(monkeypatch) -> list:
    """What ``ctx.owns_grad`` was at each call of ReLU's backward, in order."""
    seen: list = []
    original = activations.ReLU.backward

    def spy(ctx, grad):
        seen.append(ctx.owns_grad)
        return original(ctx, grad)

    monkeypatch.setattr(activations.ReLU, "backward", staticmethod(spy))
    return seen


def _lenet_grads(x: np.ndarray, params: list) -> list:
    ts = [cr.tensor(p, requires_grad=True) for p in params]
    h = F.max_pool2d(F.relu(F.conv2d(cr.tensor(x), ts[0], ts[1])), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, ts[2], ts[3])), 2).flatten(1)
    out = F.linear(F.relu(F.linear(h, ts[4], ts[5])), ts[6])
    F.cross_entropy(out, cr.tensor(np.arange(len(x)) % 3)).backward()
    return [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_in_place_gives_the_out_of_place_gradients_bit_for_bit(dtype, owned, monkeypatch):
    """A small ConvNet (each ReLU's upstream is spare: a fresh product, max-pool's permuted
    fold): every ReLU writes in place, and the gradients are those of the out-of-place rule."""
    x = RNG.standard_normal((4, 1, 14, 14)).astype(dtype)
    shapes = [(4, 1, 3, 3), (4,), (6, 4, 3, 3), (6,), (10, 24), (10,), (3, 10)]
    params = [(RNG.standard_normal(s) * 0.5).astype(dtype) for s in shapes]
    in_place = _lenet_grads(x, params)
    assert owned == [True, True, True]
    owned.clear()
    monkeypatch.setattr(engine, "_spare", lambda g: False)
    out_of_place = _lenet_grads(x, params)
    assert owned == [False, False, False]
    for a, b in zip(in_place, out_of_place):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)


def test_an_add_gate_s_shared_gradient_is_not_masked(owned):
    """The add gate hands one array to both inputs; the leaf's .grad keeps it, so the ReLU on
    the other input must not write into it."""
    x = cr.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    b = cr.tensor([0.5, 0.5, 0.5, 0.5], requires_grad=True)
    c = np.array([1.0, 2.0, 3.0, 4.0])
    ((F.relu(x) + b) * cr.tensor(c)).sum().backward()
    assert owned == [False]
    np.testing.assert_array_equal(b.grad.numpy(), c)
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 0.0, 4.0])


@pytest.mark.parametrize("through", ["itself", "a_view", "autograd_grad"])
def test_the_caller_s_gradient_is_left_as_it_was(through, owned):
    """The gradient given to backward (or to autograd.grad) reaches the ReLU as it is, or as a
    view of it (the reshape's backward): it is the caller's, and stays so."""
    x = cr.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    given = RNG.standard_normal((3, 4))
    kept = given.copy()
    z = F.relu(x)
    if through == "itself":
        z.backward(cr.tensor(given))
    elif through == "a_view":
        z.reshape(12).backward(cr.tensor(given.reshape(12)))
    else:
        cr.autograd.grad(z, x, cr.tensor(given))
    assert owned == [False]
    np.testing.assert_array_equal(given, kept)


def test_a_gradient_a_user_s_function_keeps_is_left_as_it_was(owned):
    """A user's Function returns an array it also keeps: the ReLU before it must not write
    into it."""
    kept = []

    class Keep(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, grad):
            g = grad * 3.0
            kept.append(g)
            return g

    x = cr.tensor([-1.0, 2.0], requires_grad=True)
    Keep.apply(F.relu(x)).sum().backward()
    assert owned == [False]
    np.testing.assert_array_equal(kept[0].numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 3.0])


def test_a_retained_or_hooked_output_gradient_is_left_as_it_was(owned):
    x = cr.tensor([-1.0, 2.0], requires_grad=True)
    z = F.relu(x)
    z.retain_grad()
    seen = []
    z.register_hook(lambda g: seen.append(g))
    (z * cr.tensor([5.0, 7.0])).sum().backward()
    assert owned == [False]
    np.testing.assert_array_equal(z.grad.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(seen[0].numpy(), [5.0, 7.0])


def _spare_of(make):
    g = make()
    return engine._spare(g)


def test_spare_needs_one_holder_a_writeable_numpy_array_and_a_base_only_its_view_holds():
    held = []

    def also_held():
        g = np.zeros((4, 5))
        held.append(g)
        return g

    base_held = np.zeros((5, 4))
    assert _spare_of(lambda: np.zeros((4, 5)))
    assert _spare_of(lambda: np.zeros((5, 4)).T)  # the base: the view holds it alone
    assert _spare_of(lambda: np.zeros((6, 5))[1:5])
    assert not _spare_of(also_held)
    assert not _spare_of(lambda: base_held.T)
    assert not _spare_of(lambda: np.broadcast_to(np.zeros(5), (4, 5)))  # read-only
    assert not _spare_of(lambda: np.lib.stride_tricks.as_strided(np.zeros(8), (4, 5), (8, 8)))
    assert not _spare_of(lambda: [1.0, 2.0])


def test_apart_tells_a_view_that_reaches_an_element_twice():
    a = np.zeros((4, 6, 8), dtype=np.float32)
    assert engine._apart(a.transpose(2, 0, 1))
    assert engine._apart(a[:, 1:5, ::2])
    assert engine._apart(a[:, :, :1])
    overlapping = np.lib.stride_tricks.as_strided(a, (4, 6), (8, 4))  # rows 2 elements apart
    assert not engine._apart(overlapping)
    assert not engine._apart(np.lib.stride_tricks.as_strided(a, (3, 5), (0, 4)))


def test_a_retained_graph_gives_the_same_gradients_at_each_backward(owned):
    """retain_graph: the ReLU's node runs again; each run proves its own upstream spare, and
    the flag does not outlive the call (a hook added before the second run sees a copy)."""
    x = cr.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    w = cr.tensor(RNG.standard_normal((3, 3)), requires_grad=True)
    z = F.relu(x @ w)
    loss = (z * z).sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    seen = []
    z.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.grad = None
    loss.backward()
    assert owned == [True, False]  # the second through the hook's path
    np.testing.assert_array_equal(x.grad.numpy(), first)
    np.testing.assert_array_equal(seen[0], 2 * z.detach().numpy())


def test_a_compiled_step_s_replays_write_in_place_too_and_give_eager_s_numbers(owned):
    """The replay proves the upstream spare as the engine does (the code before it lets go of
    what it handed over): every replay's ReLUs write in place, and the weights after each step
    are eager's, bit for bit."""

    def make():
        cr.manual_seed(0)
        model = cr.nn.Sequential(
            cr.nn.Linear(3, 8), cr.nn.ReLU(), cr.nn.Linear(8, 8), cr.nn.ReLU(), cr.nn.Linear(8, 2)
        )
        return model, cr.optim.SGD(model.parameters(), lr=0.1)

    x = cr.tensor(RNG.standard_normal((16, 3)))
    y = cr.tensor(np.arange(16) % 2)
    runs = []
    for compiled in (False, True):
        model, opt = make()

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        run = cr.compile(step) if compiled else step
        owned.clear()
        for _ in range(4):
            run(x, y)
        runs.append([p.detach().numpy() for p in model.parameters()])
        assert owned[-2:] == [True, True]  # the last call: a replay when compiled
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(5, 4), ()])
@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu"])
def test_each_activation_in_place_gives_the_out_of_place_gradients(act, shape, monkeypatch):
    """An MLP-like chain (a 0-d one too, where NumPy's arithmetic gives scalars) through each
    activation that writes into a spare upstream: the same gradients, bit for bit, and the
    in-place path taken."""
    cls = {"tanh": activations.Tanh, "sigmoid": activations.Sigmoid, "relu": activations.ReLU}
    seen = []
    original = cls[act].backward
    monkeypatch.setattr(
        cls[act],
        "backward",
        staticmethod(lambda ctx, g: seen.append(ctx.owns_grad) or original(ctx, g)),
    )
    x0 = RNG.standard_normal(shape)
    w0 = RNG.standard_normal(shape)

    def grads() -> list:
        x, w = cr.tensor(x0, requires_grad=True), cr.tensor(w0, requires_grad=True)
        (getattr(F, act)(x * w) * 3.0).sum().backward()
        return [x.grad.numpy(), w.grad.numpy()]

    in_place = grads()
    assert seen == [True]
    monkeypatch.setattr(engine, "_spare", lambda g: False)
    for a, b in zip(in_place, grads()):
        np.testing.assert_array_equal(a, b)
