"""Gradients that share memory: in-place accumulation, .grad tensors, detach, clamp's bounds.

Each test here reproduces a wrong gradient that random programs compared with PyTorch once found
(issue 11), with PyTorch's numbers written out, so it runs without PyTorch installed. The rule
that decides when the engine may add into an array in place (``engine._sum_into``) has its own
tests below: views, retained gradients, ``autograd.grad`` results and caller-given gradients.
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import engine

F64 = cr.float64


def t64(values, requires_grad=True):
    return cr.tensor(values, dtype=F64, requires_grad=requires_grad)


# ----- bug 1: in-place accumulation into memory that others hold -----
def test_a_retained_gradient_is_not_changed_through_a_reshape_view():
    x = cr.arange(4.0, dtype=F64).requires_grad_()
    y = x.reshape(2, 2)
    z = y.reshape(4)
    z.retain_grad()
    ((y * 5.0).sum() + (z * 3.0).sum()).backward()
    np.testing.assert_array_equal(z.grad.numpy(), [3.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 8.0, 8.0, 8.0])


def test_autograd_grad_of_an_intermediate_is_not_changed_through_a_view():
    x = cr.arange(4.0, dtype=F64).requires_grad_()
    y = x.reshape(2, 2)
    z = y.reshape(4)
    loss = (y * 5.0).sum() + (z * 3.0).sum()
    gz, gx = cr.autograd.grad(loss, [z, x])
    np.testing.assert_array_equal(gz.numpy(), [3.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(gx.numpy(), [8.0, 8.0, 8.0, 8.0])


def test_a_leaf_gradient_is_right_when_a_view_of_it_flows_on():
    w = cr.arange(6.0, dtype=F64).requires_grad_()
    a = cr.ones(2, 3, dtype=F64, requires_grad=True)
    u = w * 2.0
    ((u * 5.0).sum() + ((a + u.reshape(2, 3)) * 3.0).sum()).backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 3), 3.0))
    np.testing.assert_array_equal(w.grad.numpy(), np.full(6, 16.0))


def test_caller_gradients_are_never_written_into():
    x = t64([1.0, 2.0])
    s = cr.sigmoid(x)
    a, b = s.reshape(2, 1), s.reshape(1, 2)
    ga, gb = cr.ones(2, 1, dtype=F64), cr.full((1, 2), 10.0, dtype=F64)
    for _ in range(2):
        cr.autograd.backward([a, b], [ga, gb], retain_graph=True)
    np.testing.assert_array_equal(ga.numpy(), [[1.0], [1.0]])
    np.testing.assert_array_equal(gb.numpy(), [[10.0, 10.0]])
    np.testing.assert_allclose(x.grad.numpy(), [4.3255, 2.3099], atol=5e-5)  # PyTorch's


# ----- the rule itself -----
def _alone():
    class Holder:
        __slots__ = ("value",)

    h = Holder()
    h.value = np.ones(3)
    return h


def test_sum_into_adds_in_place_into_an_array_only_its_holder_refers_to():
    h = _alone()
    out = engine._sum_into(h.value, np.ones(3))
    assert out is h.value  # no new array
    np.testing.assert_array_equal(out, [2.0, 2.0, 2.0])


def test_sum_into_never_writes_into_a_view():
    base = np.ones(4)
    h = _alone()
    h.value = base.reshape(2, 2)  # the holder's array is a view: its memory is base's
    del base  # nobody names the base any more; the view alone keeps it alive
    view = h.value
    out = engine._sum_into(h.value, np.ones((2, 2)))
    assert out is not view
    np.testing.assert_array_equal(view.base, np.ones(4))


def test_sum_into_never_writes_into_an_array_a_view_refers_to():
    h = _alone()
    view = h.value[1:]  # holds h.value as its base: one more reference
    out = engine._sum_into(h.value, np.ones(3))
    assert out is not h.value
    np.testing.assert_array_equal(view, [1.0, 1.0])


def test_sum_into_never_writes_into_a_read_only_array():
    h = _alone()
    h.value.flags.writeable = False
    out = engine._sum_into(h.value, np.ones(3))
    assert out is not h.value and h.value[0] == 1.0


def test_a_grad_the_user_holds_a_view_of_is_not_changed_by_accumulation():
    w = t64([1.0, 2.0])
    (w * 2.0).sum().backward()
    part = w.grad.numpy()[:1]  # a NumPy view of the gradient's memory
    (w * 5.0).sum().backward()
    np.testing.assert_array_equal(part, [2.0])
    np.testing.assert_array_equal(w.grad.numpy(), [7.0, 7.0])


def test_a_user_function_returning_its_own_tensor_does_not_become_a_grad():
    # backward returns a tensor the user keeps: .grad must be a copy, or zero_() would clear it
    kept = t64([1.0, 1.0], requires_grad=False)

    class Passthrough(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            return kept

    x = t64([3.0, 4.0])
    Passthrough.apply(x).sum().backward()
    x.grad.zero_()
    np.testing.assert_array_equal(kept.numpy(), [1.0, 1.0])


def test_a_hook_returning_a_tensor_it_keeps_does_not_become_a_grad():
    kept = t64([2.0, 2.0], requires_grad=False)
    x = t64([3.0, 4.0])
    x.register_hook(lambda g: kept)
    (x * 1.0).sum().backward()
    x.grad.mul_(0.0)
    np.testing.assert_array_equal(kept.numpy(), [2.0, 2.0])


@pytest.mark.parametrize("on", ["leaf", "intermediate"])
def test_a_hook_changing_its_gradient_in_place_changes_that_gradient_only(on):
    """The add gate hands one gradient array to both inputs; a hook on one input that scales
    its argument in place (``g.mul_(10)``, as gradient-clipping hooks do) scaled the other
    input's gradient too, silently. Each hook now gets a copy; what it does to it goes on."""
    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    h = x if on == "leaf" else x * 1.0
    seen = []
    h.register_hook(lambda g: g.mul_(10.0))
    h.register_hook(lambda g: seen.append(g.numpy().copy()))  # the next hook sees the change
    ((h + y) * t64([1.0, 2.0], requires_grad=False)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 20.0])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(seen[0], [10.0, 20.0])


def test_a_user_function_changing_its_upstream_gradient_in_place_changes_nothing_else():
    """A user's backward that scales its argument in place and returns it (``g.mul_(2)``): the
    array was the add gate's, shared with the other branch, whose gradient it doubled."""

    class Double(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.mul_(2)

    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    t = (x * 1.0) + y  # one gradient array reaches both uses of t
    ((Double.apply(t) + t) * t64([1.0, 2.0], requires_grad=False)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 6.0])  # (2 + 1) * w
    np.testing.assert_array_equal(y.grad.numpy(), [3.0, 6.0])


def test_two_leaves_fed_by_one_add_get_separate_grads():
    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    (x + y).sum().backward()
    assert x.grad is not y.grad
    x.grad.zero_()
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])


# ----- bug 2: create_graph=True stored one tensor as two leaves' .grad -----
def test_create_graph_gives_each_leaf_its_own_grad_tensor():
    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    c = t64([5.0, 7.0], requires_grad=False)
    ((x + y) * c).sum().backward(create_graph=True)
    assert x.grad is not y.grad
    ((x + y) * c).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 14.0])  # PyTorch's
    np.testing.assert_array_equal(y.grad.numpy(), [10.0, 14.0])
    with cr.no_grad():
        x.grad.zero_()
    np.testing.assert_array_equal(y.grad.numpy(), [10.0, 14.0])


def test_create_graph_does_not_store_the_callers_gradient_as_a_grad():
    x = t64([1.0, 2.0])
    v = t64([3.0, 4.0], requires_grad=False)
    x.backward(v, create_graph=True)
    assert x.grad is not v
    with cr.no_grad():
        x.grad.zero_()
    np.testing.assert_array_equal(v.numpy(), [3.0, 4.0])


def test_create_graph_retained_grads_are_their_own_tensors():
    x = t64([1.0, 2.0])
    a, b = x * 1.0, x * 1.0
    a.retain_grad()
    b.retain_grad()
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    with cr.no_grad():
        a.grad.zero_()
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_create_graph_grads_stay_differentiable():
    x = t64([1.0, 2.0])
    (x * x * x).sum().backward(create_graph=True)  # x.grad = 3 x^2
    (gx,) = cr.autograd.grad(x.grad.sum(), x)  # 6 x
    np.testing.assert_array_equal(gx.numpy(), [6.0, 12.0])


# ----- bug 3: x and x.detach() in one op -----
def test_a_detached_copy_in_the_same_op_is_a_constant_in_second_order():
    x = t64([1.5, -2.0, 0.5])
    (g,) = cr.autograd.grad((x * x.detach()).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.numpy() if not g.requires_grad else g.detach().numpy(), x.data)
    assert not g.requires_grad  # d/dx of x * c is c: a constant, as in PyTorch


@pytest.mark.parametrize("order", ["live_first", "detached_first"])
def test_a_detached_copy_is_a_constant_whichever_side_it_is_on(order):
    x = t64([1.5, -2.0, 0.5])
    y = cr.tanh(x)
    pair = (y, y.detach()) if order == "live_first" else (y.detach(), y)
    (g,) = cr.autograd.grad((pair[0] * pair[1]).sum(), x, create_graph=True)
    (h,) = cr.autograd.grad(g.sum(), x)
    # f = tanh(x) c, f' = (1 - tanh^2) c, f'' = -2 tanh (1 - tanh^2) c with c = tanh(x) fixed
    t = np.tanh(x.data.numpy())
    np.testing.assert_allclose(h.numpy(), -2 * t * (1 - t**2) * t, rtol=1e-12)


def test_a_tensor_sharing_an_array_with_a_live_one_is_a_constant():
    arr = np.array([1.0, 2.0])
    x = cr.from_numpy(arr).requires_grad_()
    c = cr.from_numpy(arr)  # the same array, not in the graph
    (g,) = cr.autograd.grad((x * c).sum(), x, create_graph=True)
    assert not g.requires_grad
    np.testing.assert_array_equal(g.numpy(), arr)


# ----- bug 4: clamp's tensor bounds get their gradients -----
def test_clamp_tensor_min_gets_its_gradient():
    x = t64([1.5, -2.0, 0.5])
    lo = t64([0.0, 0.0, 1.0])
    cr.clamp(x, min=lo).sum().backward()
    np.testing.assert_array_equal(lo.grad.numpy(), [0.0, 1.0, 1.0])  # PyTorch's
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0])


def test_clamp_tensor_bounds_both_and_crossed():
    x = t64([1.5, -2.0, 0.5, 3.0])
    lo = t64([0.0, 0.0, 1.0, 2.0])
    hi = t64([1.0, 1.0, 2.0, 1.0])  # the last pair is crossed: the result is hi, as in PyTorch
    z = cr.clamp(x, lo, hi)
    np.testing.assert_array_equal(z.detach().numpy(), [1.0, 0.0, 1.0, 1.0])
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(lo.grad.numpy(), [0.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(hi.grad.numpy(), [1.0, 0.0, 0.0, 1.0])


def test_clamp_tensor_max_broadcasts_and_its_gradient_sums_back():
    x = t64([[1.5, -2.0], [0.5, 3.0]])
    hi = t64([1.0])  # one bound for all: its gradient counts the clamped places
    cr.clamp(x, max=hi).sum().backward()
    np.testing.assert_array_equal(hi.grad.numpy(), [2.0])
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0], [1.0, 0.0]])


def test_clamp_tensor_bounds_gradcheck():
    x = t64([1.5, -2.0, 0.5, 0.2])
    lo = t64([0.0, -1.0, 1.0, -0.3])
    hi = t64([1.0, 1.0, 2.0, 0.9])
    assert cr.autograd.gradcheck(lambda a, b, c: cr.clamp(a, b, c), (x, lo, hi))


# ----- found by the differential test (tests/autograd/test_differential.py) -----
def test_a_retained_0d_gradient_stays_a_tensor_of_an_array_when_accumulated():
    # NumPy returns a scalar, not a 0-d array, for the sum of two 0-d arrays
    x = t64([1.0, 2.0])
    s = x.sum()
    s.retain_grad()
    loss = s * 2.0
    loss.backward(create_graph=True)
    loss.backward()
    assert isinstance(s.grad.detach().numpy(), np.ndarray)
    assert s.grad.item() == 4.0
    with cr.no_grad():
        s.grad.zero_()
    assert s.grad.item() == 0.0


def test_autograd_grad_with_the_same_tensor_twice():
    x = t64([1.0, 2.0])
    y = x * 1.0
    gy, gx, gy2 = cr.autograd.grad((y * 3.0).sum(), [y, x, y])
    for g in (gy, gx, gy2):
        np.testing.assert_array_equal(g.numpy(), [3.0, 3.0])


def test_a_detached_copy_among_many_arguments_is_a_constant_in_second_order():
    # ops of three or more arguments take the general path of Function.apply: linear(x, w, b)
    # with w = x.detach(); dL/dx = upstream @ w is constant in x, so d2L/dx2 = 0
    x = t64([[1.0, 2.0], [3.0, -4.0]])
    out = cr.nn.functional.linear(x, x.detach(), t64([0.5, -0.5], requires_grad=False))
    (g,) = cr.autograd.grad(out.sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), [[4.0, -2.0], [4.0, -2.0]])
    assert not g.requires_grad


def test_unfold_of_one_by_one_windows_is_a_copy_as_in_pytorch():
    """F.unfold with 1x1 windows could be a view of its input (NumPy's reshape of the strided
    window view needs no copy): changing the input in place then changed the unfolded values,
    and a backward through an op that saved them (cos, a product) used the changed ones,
    silently. PyTorch's unfold is a copy: so is chainrule's now."""
    a = np.arange(24.0).reshape(2, 2, 2, 3)
    x = cr.tensor(a, requires_grad=True)
    cols = cr.nn.functional.unfold(x, (1, 1), stride=(2, 2))
    before = cols.detach().numpy().copy()
    loss = cols.cos().sum()
    with cr.no_grad():
        x.add_(100.0)
    assert np.array_equal(cols.detach().numpy(), before)
    loss.backward()
    expected = cr.tensor(a, requires_grad=True)
    cr.nn.functional.unfold(expected, (1, 1), stride=(2, 2)).cos().sum().backward()
    assert np.array_equal(x.grad.numpy(), expected.grad.numpy())


def test_the_owner_of_a_strided_window_view_is_the_array_it_views():
    """An op's output that views an input through NumPy's as_strided (a chain of bases that
    passes through a helper object) shares the input's version counter: memory_owner walks
    the chain to its end."""
    from chainrule.autograd.function import memory_owner

    base = np.arange(12.0)
    window = np.lib.stride_tricks.as_strided(base[2:], shape=(3, 2), strides=(16, 8))
    assert memory_owner(window.reshape(-1)[1:]) is memory_owner(base[5:]) is base
