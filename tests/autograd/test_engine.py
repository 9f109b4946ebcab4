"""The backward engine: accumulation, graph freeing, broadcasting, memory, version counters and
the graph API on tensors (detach, retain_grad, hooks, is_leaf, grad_fn)."""

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import chainrule as cr
from chainrule.autograd.engine import GATE_NUMBERS, KEEP_NUMBERS

F64 = cr.float64


def t64(values, requires_grad=True):
    return cr.tensor(values, dtype=F64, requires_grad=requires_grad)


# ----- accumulation and the shape of the graph -----
def test_gradients_accumulate_across_backward_calls():
    x = t64([1.0, -2.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0])
    (3.0 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, -1.0])


def test_value_used_twice_gets_the_sum():
    x = t64(3.0)
    (x * x).backward()
    assert x.grad.item() == 6.0
    x.grad = None
    (x + x).backward()
    assert x.grad.item() == 2.0


def test_diamond_graph():
    # a feeds b and c, both feed d: a's gradient is the sum over both paths
    x = t64(0.5)
    a = x * 3.0
    b = cr.exp(a)
    c = a * a
    d = b * c
    d.backward()
    # d = e^{3x} 9x^2, dd/dx = 27 x^2 e^{3x} + 18 x e^{3x}
    expected = (27 * 0.25 + 18 * 0.5) * np.exp(1.5)
    assert x.grad.item() == pytest.approx(expected, rel=1e-13)


def test_second_backward_through_a_freed_graph_raises():
    x = t64([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph") as info:
        y.backward()
    assert "second time" in str(info.value) or "freed" in str(info.value)
    assert "Backward" in str(info.value)  # names the node it stopped at


def test_second_backward_through_a_large_freed_graph_raises():
    x = t64(np.ones(KEEP_NUMBERS + 1))
    y = (x * x).sum()
    y.backward()
    assert y.grad_fn.inputs is None
    with pytest.raises(RuntimeError, match="second time.*retain_graph"):
        y.backward()


def test_a_small_graph_keeps_its_inputs_and_frees_its_saved_values():
    # what a drawing after backward needs (issue 17, item 2); saved values go either way
    x = t64([1.0, 2.0])
    h = cr.exp(x)
    y = (h * h).sum()
    exp, mul = h.grad_fn, y.grad_fn.inputs[0].grad_fn
    y.backward()
    assert all(node.saved is None for node in (y.grad_fn, mul, exp))
    assert mul.inputs[0] is h and mul.inputs[1] is h and exp.inputs[0] is x
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([2.0, 4.0]), rtol=1e-15)


class _TimesSumOf(cr.autograd.Function):
    """y = x * sum(c), c a constant: a small output from a large input that needs no gradient."""

    @staticmethod
    def forward(ctx, x, c):
        return x * c.sum()

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.inputs[1].sum(), None


def _nodes(y):
    """Every node of y's graph, before backward frees anything."""
    nodes, stack = [], [y.grad_fn]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack += [a.grad_fn for a in node.inputs if getattr(a, "grad_fn", None) is not None]
    return nodes


def _chain(n):
    y = t64(1.0)
    for _ in range(n):
        y = y * 1.0
    return y


GATES = KEEP_NUMBERS // (GATE_NUMBERS + 1)  # the longest chain of y * 1.0 on a number kept

GRAPHS = {  # name -> (graph, does backward keep its inputs?)
    "at the budget": (lambda: t64(np.ones(KEEP_NUMBERS - GATE_NUMBERS)).sum(), True),
    "one number over": (lambda: t64(np.ones(KEEP_NUMBERS - GATE_NUMBERS + 1)).sum(), False),
    "a few numbers over, near the output": (
        lambda: (t64(np.ones(3)) * 2.0).sum() + (t64(np.ones(KEEP_NUMBERS // 2)) * 3.0).sum(),
        False,
    ),
    "a few numbers over, near the leaves": (
        lambda: ((t64(np.ones(KEEP_NUMBERS // 2)) * 3.0) * 2.0).sum() + t64(np.ones(3)).sum(),
        False,
    ),
    "a large input that needs no gradient": (
        lambda: _TimesSumOf.apply(t64(1.0), cr.ones(KEEP_NUMBERS)),
        False,
    ),
    "at the budget in gates": (lambda: _chain(GATES), True),
    "one gate over": (lambda: _chain(GATES + 1), False),
}


@pytest.mark.parametrize("name", GRAPHS)
def test_backward_keeps_the_inputs_of_small_graphs_only_and_all_or_nothing(name):
    make, keeps = GRAPHS[name]
    y = make()
    nodes = _nodes(y)
    y.backward()
    assert all(node.saved is None for node in nodes)
    assert [node.inputs is not None for node in nodes] == [keeps] * len(nodes)


def test_retain_graph_allows_a_second_backward():
    x = t64([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])


def test_non_scalar_backward_without_gradient_is_an_error():
    x = t64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"one element|scalar") as info:
        y.backward()
    assert "(2, 3)" in str(info.value)
    assert x.grad is None


def test_gradient_of_the_wrong_shape_names_both_shapes():
    x = t64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = x * 2.0
    with pytest.raises(RuntimeError) as info:
        y.backward(cr.ones(3, 2, dtype=F64))
    assert "(3, 2)" in str(info.value)
    assert "(2, 3)" in str(info.value)


def test_gradient_may_be_a_numpy_array_or_a_list():
    x = t64([1.0, 2.0])
    (x * 3.0).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 30.0])
    x.grad = None
    (x * 3.0).backward([2.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 3.0])


def test_a_chain_of_100000_ops_needs_no_recursion():
    x = t64(1.5)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_backward_on_a_leaf_fills_its_own_grad():
    x = t64([1.0, 2.0])
    x.backward(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


# ----- broadcasting -----
BROADCAST_CASES = [
    ((3,), (2, 3)),
    ((2, 1), (2, 3)),
    ((), (2, 3)),
    ((1, 3), (4, 2, 3)),
    ((2, 1, 3), (4, 3)),
]


@pytest.mark.parametrize("x_shape, y_shape", BROADCAST_CASES, ids=str)
def test_gradients_of_broadcast_inputs_are_summed_to_the_input_shape(x_shape, y_shape):
    rng = np.random.default_rng(0)
    xa, ya = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    out_shape = np.broadcast_shapes(x_shape, y_shape)
    ga = rng.standard_normal(out_shape)
    x, y = t64(xa), t64(ya)
    (x * y).backward(cr.tensor(ga))
    assert x.grad.shape == x_shape
    assert y.grad.shape == y_shape

    def summed(full, shape):  # the broadcast gradient summed back, by hand
        lead = full.ndim - len(shape)
        full = full.sum(axis=tuple(range(lead)))
        axes = tuple(k for k, n in enumerate(shape) if n == 1)
        return full.sum(axis=axes, keepdims=True).reshape(shape)

    np.testing.assert_allclose(x.grad.numpy(), summed(ga * ya, x_shape), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), summed(ga * xa, y_shape), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
def test_broadcast_gradient_shapes_property(shapes):
    (x_shape, y_shape), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(0)
    xa, ya = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    x, y = t64(xa), t64(ya)
    (x + 2.0 * y).backward(cr.ones(out_shape, dtype=F64))
    assert x.grad.shape == x_shape and y.grad.shape == y_shape
    # each input element was copied prod(out) / prod(in) times by broadcasting
    copies_x = int(np.prod(out_shape)) // max(int(np.prod(x_shape)), 1)
    copies_y = int(np.prod(out_shape)) // max(int(np.prod(y_shape)), 1)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(x_shape, float(copies_x)))
    np.testing.assert_array_equal(y.grad.numpy(), np.full(y_shape, 2.0 * copies_y))


def test_broadcast_gradients_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    xa, ya, ba = rng.standard_normal((4, 1, 3)), rng.standard_normal((5, 1)), rng.standard_normal(3)
    x, y, b = t64(xa), t64(ya), t64(ba)
    (cr.tanh(x * y + b) ** 2).sum().backward()
    tx, ty, tb = (torch.tensor(a, requires_grad=True) for a in (xa, ya, ba))
    (torch.tanh(tx * ty + tb) ** 2).sum().backward()
    for ours, theirs in ((x, tx), (y, ty), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10)


def test_gradient_keeps_the_input_dtype():
    x = cr.tensor([1.0, 2.0, 3.0], dtype=cr.float32, requires_grad=True)
    y = cr.tensor(np.ones((2, 3)), dtype=F64, requires_grad=True)
    z = x * y
    assert z.dtype == np.float64
    z.sum().backward()
    assert x.grad.dtype == np.float32
    assert x.grad.shape == (3,)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
    assert y.grad.dtype == np.float64


def test_float32_graph_gives_float32_gradients():
    x = cr.tensor([[1.0, -2.0]], requires_grad=True)  # Python floats: float32
    w = cr.tensor([[0.5], [0.25]], requires_grad=True)
    (x @ w).relu().sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


# ----- work skipped for inputs that need no gradient -----
class NoGradForSecond(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad):
        assert not ctx.needs_input_grad[1], "backward asked for a gradient nobody needs"
        x, y = ctx.saved_tensors
        return grad * y, None


def test_backward_does_no_work_for_inputs_that_do_not_require_grad():
    x = t64([1.0, 2.0])
    y = t64([3.0, 4.0], requires_grad=False)
    NoGradForSecond.apply(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert y.grad is None


def test_branches_without_grad_are_not_recorded():
    x = t64([1.0, 2.0], requires_grad=False)
    h = cr.exp(x) * 2.0  # nothing requires grad: no graph
    assert h.grad_fn is None and not h.requires_grad
    w = t64([3.0, 4.0])
    out = (h * w).sum()
    assert out.grad_fn.next_functions[0][0].next_functions[0][0] is None
    out.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2.0 * np.exp([1.0, 2.0]), rtol=1e-15)


# ----- memory: the graph is freed by reference counting -----
def _training_step(x, w1, w2):
    h = (x @ w1).relu()
    loss = ((h @ w2) ** 2).mean() + 1e-3 * (w1 * w1).sum()
    loss.backward()
    with cr.no_grad():
        for p in (w1, w2):
            p -= 0.1 * p.grad
            p.grad = None
    return loss.item()


def test_a_training_step_keeps_no_inputs_after_backward():
    # the activations (8 x 600) exceed KEEP_NUMBERS: nothing of the step outlives backward
    cr.manual_seed(0)
    x = cr.randn(8, 400)
    w1 = cr.randn(400, 600, requires_grad=True)
    w2 = cr.randn(600, 2, requires_grad=True)
    loss = ((x @ w1).relu() @ w2).pow(2).mean()
    node = loss.grad_fn
    loss.backward()
    assert node.inputs is None and node.saved is None


def test_graph_is_freed_by_reference_counting():
    cr.manual_seed(0)
    x = cr.randn(8, 4)
    w1 = cr.randn(4, 5, requires_grad=True)
    w2 = cr.randn(5, 2, requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            _training_step(x, w1, w2)
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0


def test_intermediate_grad_fn_dies_with_its_output():
    x = t64([1.0, 2.0])
    h = x * 2.0
    out = cr.exp(h).sum()
    node = weakref.ref(h.grad_fn)
    del h
    assert node() is not None  # still held by the graph behind out
    del out
    assert node() is None


def test_intermediate_grad_fn_dies_after_backward_and_del():
    gc.disable()
    try:
        x = t64([1.0, 2.0])
        h = x * 2.0
        out = (h * h).sum()
        node = weakref.ref(h.grad_fn)
        del h
        out.backward()
        del out
        assert node() is None
    finally:
        gc.enable()


# ----- .grad arrays belong to their leaf -----
def test_leaf_grads_of_an_add_are_not_aliased():
    x = t64([1.0, 2.0])
    y = t64([3.0, 4.0])
    (x + y).backward(cr.tensor([1.0, 1.0], dtype=F64))
    x.grad.zero_()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])


def test_leaf_grads_from_a_sum_are_writable_and_not_aliased():
    # PyTorch: x.grad.zero_() works here and leaves y.grad alone (optimizers' zero_grad,
    # gradient clipping with p.grad.mul_ rely on it)
    x = t64([1.0, 2.0])
    y = t64([3.0, 4.0])
    (x + y).sum().backward()
    x.grad.zero_()
    y.grad.mul_(3.0)
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(y.grad.numpy(), [3.0, 3.0])


@pytest.mark.parametrize("as_tensor", [True, False], ids=["Tensor", "ndarray"])
@pytest.mark.parametrize("root", ["leaf", "mul", "add"])
def test_grad_is_not_the_users_gradient_array(as_tensor, root):
    x = t64([1.0, 2.0])
    y = {"leaf": lambda: x, "mul": lambda: x * 1.0, "add": lambda: x + 0.0}[root]()
    g_array = np.array([1.0, 1.0])
    g = cr.from_numpy(g_array) if as_tensor else g_array
    y.backward(g)
    assert not np.shares_memory(x.grad.numpy(), g_array)
    g_array[:] = 100.0  # changing the caller's array afterwards leaves x.grad alone
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


# ----- version counter: saved values changed in place -----
def test_saved_input_modified_in_place_raises_on_backward():
    x = cr.randn(4, 3, dtype=F64)
    w = cr.randn(3, 2, dtype=F64, requires_grad=True)
    loss = (x @ w).sum()
    with cr.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place") as info:
        loss.backward()
    assert "saved" in str(info.value)
    assert "MatMul" in str(info.value)


def test_saved_input_modified_with_isub_raises_on_backward():
    x = cr.randn(4, 3, dtype=F64)
    w = cr.randn(3, 2, dtype=F64, requires_grad=True)
    loss = (x @ w).sum()
    with cr.no_grad():
        w -= 1.0
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_saved_non_leaf_modified_in_place_raises_on_backward():
    x = t64([1.0, 2.0])
    h = x * 2.0
    loss = (h * h).sum()
    with cr.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_saved_output_modified_in_place_raises_on_backward():
    # exp saves its output; a backward that used the changed output would be silently wrong
    x = t64([0.0, 1.0])
    y = cr.exp(x)
    with cr.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


def test_saved_input_modified_through_a_detached_alias_raises_on_backward():
    # detach() shares memory, so (as in PyTorch) it must share the version counter too
    x = cr.ones(2, 2, dtype=F64, requires_grad=True)
    w = cr.ones(2, 2, dtype=F64)
    loss = (x @ w).sum()  # saves w for dL/dx
    w.detach().add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


VIEWS = {
    "slice": lambda t: t[0:2],
    "reshape": lambda t: t.reshape(2, 2),
    "transpose": lambda t: t.reshape(2, 2).T,
    "unsqueeze": lambda t: t.unsqueeze(0),
    "expand": lambda t: t.expand(3, 4),
    "split": lambda t: t.split(2)[1],
    "same-dtype cast": lambda t: t.double(),
    "view of a view": lambda t: t[1:].reshape(3, 1)[0:2],
}


@pytest.mark.parametrize("view", VIEWS.values(), ids=VIEWS)
@pytest.mark.parametrize("through", ["base", "view"])
@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "under-no_grad"])
def test_saved_view_modified_in_place_raises_on_backward(view, through, recorded):
    """A view shares its base's version counter, as in PyTorch: a change through either, after
    forward saved the view's values, makes backward raise instead of using the changed values
    (before, it silently returned the gradient at the changed values)."""
    x = t64([1.0, 2.0, 3.0, 4.0], requires_grad=recorded)
    with cr.set_grad_enabled(recorded):
        v = view(x)
    w = cr.ones(v.shape, dtype=F64, requires_grad=True)
    loss = (v * w).sum()  # saves v, for the gradient of w
    if through == "view" and view is VIEWS["expand"]:
        pytest.skip("an expanded view is read-only, as in PyTorch")
    with cr.no_grad():
        (x if through == "base" else v).add_(10.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def _index_tensor():
    return cr.tensor([0, 2])


CONSTANTS = {
    # name: (make the op's constant, the loss of x using it, change it in place)
    "index tensor": (_index_tensor, lambda x, c: (x[:, c] * t64([[1.0, 2.0]] * 2, False)).sum()),
    "index array": (lambda: np.array([0, 2]), lambda x, c: (x[:, c] * 3.0).sum()),
    "index pair": (_index_tensor, lambda x, c: (x[c[:2] * 0 + 1, c] * 3.0).sum()),
    "mask": (lambda: cr.tensor([[True, False, True]] * 2), lambda x, c: (x[c] ** 2).sum()),
    "cross_entropy target": (_index_tensor, lambda x, c: cr.nn.functional.cross_entropy(x, c)),
    "nll_loss target": (_index_tensor, lambda x, c: cr.nn.functional.nll_loss(x, c)),
    "array operand": (lambda: np.array([1.0, 2.0, 3.0]), lambda x, c: (x * c).sum()),
    "array divisor": (lambda: np.array([1.0, 2.0, 3.0]), lambda x, c: (c / x).sum()),
}


@pytest.mark.parametrize("const, loss_of", CONSTANTS.values(), ids=CONSTANTS)
def test_a_constant_changed_in_place_after_forward_leaves_the_gradient_alone(const, loss_of):
    """An index, a mask, a class target or a NumPy operand that the graph keeps is kept as
    forward saw it: changing the caller's tensor or array in place before backward (a new batch
    read into the same buffer) gives the gradient of the forward that ran. Before, backward
    read the changed values: the gradient scattered to other positions, silently."""
    xs = [t64([[0.2, -1.0, 0.5], [1.5, 0.3, -0.7]]) for _ in range(2)]
    expected = loss_of(xs[0], const())
    expected.backward()
    c = const()
    loss = loss_of(xs[1], c)
    with cr.no_grad():
        if isinstance(c, cr.Tensor):
            c.copy_(cr.tensor(1, dtype=c.dtype).expand(*c.shape))  # every index 1, or True
        else:
            c[...] = 1  # a NumPy array
    loss.backward()
    np.testing.assert_array_equal(xs[1].grad.numpy(), xs[0].grad.numpy())


def test_adding_a_value_that_requires_grad_into_a_plain_tensor_carries_its_gradient():
    """``acc += value`` where value requires grad and acc does not (summing losses or penalties
    into a zeros tensor) rebinds acc to acc + value, in the graph, as ``x += y`` on a tensor in
    the graph does. Before, acc took the numbers only: an L2 penalty summed this way added
    nothing to the gradient, silently."""
    w = t64([1.0, -2.0])
    ce = (w * 3.0).sum()
    reg = cr.zeros((), dtype=F64)
    for _ in range(2):
        reg += (w * w).sum()
    assert reg.requires_grad and reg.grad_fn is not None
    (ce + 0.5 * reg).backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0 + 2.0 * 1.0, 3.0 + 2.0 * -2.0])
    with cr.no_grad():  # no graph to carry: in place, as before
        acc = cr.zeros(2, dtype=F64)
        acc += w
        assert not acc.requires_grad
        np.testing.assert_array_equal(acc.numpy(), [1.0, -2.0])


ALIASES = ["x is a view", "a view of x", "x.detach()", "x saved", "x.numpy() kept"]


@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("x_in_graph", [False, True], ids=["plain x", "x in the graph"])
def test_rebinding_x_plus_equals_is_refused_where_others_share_xs_memory(alias, x_in_graph):
    """``x += y`` in the graph rebinds x, leaving its memory as it was, where PyTorch writes
    into it: another tensor or array over that memory (a view, an alias, a value an op saved,
    the array x.numpy() gave) would not see the sum, or PyTorch's backward would raise, so +=
    refuses there, and writes nothing."""
    w = t64([1.0, -2.0])
    base = t64([0.0] * 4, x_in_graph) * 1.0 if x_in_graph else cr.zeros(4, dtype=F64)
    if alias == "x is a view":
        x = base[0:2]
    else:
        x = t64([0.0, 0.0]) * 1.0 if x_in_graph else cr.zeros(2, dtype=F64)
    keep = {
        "a view of x": lambda: x[0:1],
        "x.detach()": x.detach,
        "x saved": lambda: x * w,
        "x.numpy() kept": lambda: x.detach().numpy(),
    }
    other = keep.get(alias, lambda: None)()  # noqa: F841 (held while += runs)
    match = "tensor in the graph" if x_in_graph else "requires grad into a tensor that does not"
    with pytest.raises(RuntimeError, match=match):
        x += w
    np.testing.assert_array_equal(x.detach().numpy(), [0.0, 0.0])
    alone = t64([0.0, 0.0]) * 1.0 if x_in_graph else cr.zeros(2, dtype=F64)
    alone += w  # nothing shares its memory: rebound, in the graph
    assert alone.grad_fn is not None


def test_rebinding_x_plus_equals_on_an_op_output_that_views_the_ops_own_array():
    """A convolution returns a view of an array of its own (the batch innermost in memory):
    nothing else holds that memory, so ``out += x`` (a residual block without BatchNorm)
    rebinds, as it did before += learned to refuse shared memory, which first refused it."""
    conv = cr.nn.Conv2d(2, 2, 3, padding=1).double()
    x = cr.randn(2, 2, 4, 4, dtype=F64, requires_grad=True)
    out = conv(x)
    assert out._data.base is not None
    out += x
    out.sum().backward()
    expected = cr.autograd.grad((conv(x) + x).sum(), x)[0]
    np.testing.assert_allclose(x.grad.numpy(), expected.numpy(), rtol=1e-12)


IN_PLACE_WRITES = {
    "add_": lambda a, v: a.add_(v),
    "sub_": lambda a, v: a.sub_(v, alpha=2),
    "mul_": lambda a, v: a.mul_(v),
    "div_": lambda a, v: a.div_(v),
    "clamp_": lambda a, v: a.clamp_(min=v),
    "copy_": lambda a, v: a.copy_(v),
    "setitem": lambda a, v: a.__setitem__(0, v[1]),
}


@pytest.mark.parametrize("write", IN_PLACE_WRITES.values(), ids=IN_PLACE_WRITES)
def test_writing_a_value_that_requires_grad_into_a_plain_tensor_in_place_is_refused(write):
    """The in-place methods and item assignment cannot rebind a name: writing a value that
    requires grad into a tensor outside the graph would keep its numbers and lose its gradient
    (silently, before), so it raises, and writes nothing; under no_grad it writes."""
    v = t64([2.0, 4.0])
    a = cr.ones(2, dtype=F64)
    with pytest.raises(RuntimeError, match="requires grad into a tensor that does not"):
        write(a, v)
    np.testing.assert_array_equal(a.numpy(), [1.0, 1.0])
    with cr.no_grad():
        write(a, v)
    assert not a.requires_grad and not np.array_equal(a.numpy(), [1.0, 1.0])


def test_in_place_change_of_an_unsaved_input_is_fine():
    b = t64([1.0, 2.0])
    w = t64([3.0, 4.0])
    loss = ((b + 1.0) * w).sum()  # add saves nothing of b
    with cr.no_grad():
        b.add_(10.0)
    loss.backward()
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 3.0])  # b + 1 as computed in forward


@pytest.mark.parametrize(
    "op",
    [
        lambda t: t.add_(1.0),
        lambda t: t.mul_(2.0),
        lambda t: t.zero_(),
        lambda t: t.__iadd__(1.0),
        lambda t: t.__setitem__(0, 5.0),
    ],
    ids=["add_", "mul_", "zero_", "+=", "setitem"],
)
def test_in_place_on_a_leaf_requiring_grad_raises_outside_no_grad(op):
    w = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="in-place"):
        op(w)
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, 2.0])  # unchanged
    with cr.no_grad():
        op(w)  # allowed where optimizers work
    assert w.requires_grad and w.is_leaf


# ----- the graph API on tensors -----
def test_detach_shares_values_and_leaves_the_graph():
    x = t64([1.0, 2.0])
    y = x * 3.0
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    np.testing.assert_array_equal(d.numpy(), [3.0, 6.0])
    assert np.shares_memory(d.numpy(), y.detach().numpy())
    (d * x).sum().backward()  # no gradient flows through d
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 6.0])


def test_requires_grad_():
    x = cr.tensor([1.0, 2.0])
    assert not x.requires_grad
    assert x.requires_grad_() is x
    assert x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2.0).requires_grad_(False)


def test_is_leaf():
    x = t64([1.0])
    c = cr.tensor([1.0])
    assert x.is_leaf and c.is_leaf
    assert not (x * 2.0).is_leaf
    assert (c * 2.0).is_leaf  # nothing recorded
    with cr.no_grad():
        assert (x * 2.0).is_leaf
    assert x.detach().is_leaf


def test_retain_grad_on_a_non_leaf():
    x = t64([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    assert h.retains_grad
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), [6.0, 12.0])  # 2h
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])


def test_non_leaf_grad_is_none_without_retain_grad():
    x = t64([1.0, 2.0])
    h = x * 3.0
    (h * h).sum().backward()
    assert h.grad is None
    assert x.grad is not None


def test_retain_grad_on_a_leaf_changes_nothing():
    x = t64([1.0, 2.0])
    x.retain_grad()
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_hook_on_a_leaf_doubles_its_gradient_and_can_be_removed():
    x = t64([1.0, 2.0])
    seen = []

    def double(grad):
        seen.append(grad.detach().numpy().copy())
        return grad * 2.0

    handle = x.register_hook(double)
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])
    handle.remove()  # PyTorch's RemovableHandle
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert len(seen) == 1


def test_hook_on_a_non_leaf_changes_what_flows_on():
    x = t64([1.0, 2.0])
    h = x * 3.0
    h.register_hook(lambda grad: grad * 2.0)
    (h * h).sum().backward()
    # dL/dh = 2h = [6, 12], doubled by the hook, times dh/dx = 3
    np.testing.assert_array_equal(x.grad.numpy(), [36.0, 72.0])


def test_hook_on_a_non_leaf_can_be_removed_with_its_handle():
    x = t64([1.0, 2.0])
    h = x * 3.0
    handle = h.register_hook(lambda grad: grad * 2.0)
    handle.remove()
    (h * h).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])


@pytest.mark.parametrize("kind", ["leaf", "non-leaf"])
def test_a_hook_registered_twice_runs_twice(kind):
    # as in PyTorch, on leaves and non-leaves alike
    x = t64([1.0, 2.0])
    t = x if kind == "leaf" else x * 1.0

    def double(grad):
        return grad * 2.0

    t.register_hook(double)
    t.register_hook(double)
    t.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0])


def test_hook_returning_none_observes_only():
    x = t64([1.0, 2.0])
    seen = []
    h = x * 3.0
    h.register_hook(lambda grad: seen.append(grad.detach().numpy().copy()))
    h.sum().backward()
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_hook_returning_a_wrong_shape_raises():
    x = t64([1.0, 2.0])
    x.register_hook(lambda grad: cr.ones(3, dtype=F64))
    with pytest.raises(RuntimeError) as info:
        (x * 2.0).sum().backward()
    assert "(2,)" in str(info.value) and "(3,)" in str(info.value)


def test_hooks_and_retain_grad_need_requires_grad():
    c = cr.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="requires_grad|require"):
        c.register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="requires_grad|require"):
        c.retain_grad()


def test_grad_fn_repr_and_next_functions():
    x = t64([1.0, 2.0])
    w = t64([3.0, 4.0])
    a = x * w
    b = a + 1.0
    c = cr.exp(b)
    assert "MulBackward" in repr(a.grad_fn)
    assert "AddBackward" in repr(b.grad_fn)
    assert "ExpBackward" in repr(c.grad_fn)
    assert "grad_fn=<ExpBackward" in repr(c)
    (prev, index) = c.grad_fn.next_functions[0]
    assert prev is b.grad_fn and index == 0
    assert b.grad_fn.next_functions[0][0] is a.grad_fn
    assert b.grad_fn.next_functions[1][0] is None  # the constant 1.0
    assert len(a.grad_fn.next_functions) == 2  # two leaves: no node of their own here
    assert all(fn is None for fn, _ in a.grad_fn.next_functions)


def test_grad_assignment_is_checked():
    x = t64([1.0, 2.0])
    x.grad = cr.tensor([5.0, 6.0], dtype=F64)
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 6.0])
    with pytest.raises(RuntimeError, match=r"\(3,\)"):
        x.grad = cr.ones(3, dtype=F64)
    with pytest.raises(TypeError):
        x.grad = [1.0, 2.0]
    x.grad = None
    assert x.grad is None


# ----- accumulation in place (engine._sum_into) -----
@pytest.mark.parametrize("h_first", [True, False])
def test_a_shared_gradient_array_is_never_added_into_in_place(h_first):
    # Add hands the same array to the leaf a and to the node h; the gradient h gets later from
    # its other use must not change a.grad through it (both orders of the two uses)
    a = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    b = cr.tensor([3.0, 5.0], dtype=cr.float64, requires_grad=True)
    h = a * b
    parts = [(h * 10.0).sum(), (a + h).sum()]
    loss = parts[0] + parts[1] if h_first else parts[1] + parts[0]
    loss.backward()
    # d/da = 1 + 11 b, d/db = 11 a
    np.testing.assert_allclose(a.grad.numpy(), 1 + 11 * b.detach().numpy())
    np.testing.assert_allclose(b.grad.numpy(), 11 * a.detach().numpy())


def test_a_second_backward_accumulates_into_the_same_grad_tensor():
    w = cr.tensor([1.0, -2.0], requires_grad=True)
    (w * w).sum().backward()
    first = w.grad
    (w * 3.0).sum().backward()
    assert w.grad is first  # as PyTorch: accumulated in place
    np.testing.assert_allclose(first.numpy(), [5.0, -1.0])


def test_accumulation_leaves_an_array_someone_else_holds_alone():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w * 2.0).sum().backward()
    held = w.grad.numpy()  # a NumPy alias of the gradient's memory
    kept = held.copy()
    (w * 5.0).sum().backward()
    np.testing.assert_array_equal(held, kept)  # the alias kept its values ...
    np.testing.assert_allclose(w.grad.numpy(), [7.0, 7.0])  # ... the sum went to a new array


def test_accumulation_leaves_a_saved_gradient_alone():
    # w.grad used in a recorded op is saved by that op; accumulating must not change it
    w = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    v = cr.tensor([3.0, 4.0], dtype=cr.float64, requires_grad=True)
    (w * 2.0).sum().backward()
    later = (w.grad * v).sum()  # saves w.grad's array for v's gradient
    (w * 5.0).sum().backward()
    later.backward()
    np.testing.assert_allclose(v.grad.numpy(), [2.0, 2.0])
