"""The image ops' pooled buffers (``chainrule.ops._workspace``): reuse never changes a result.

The question each test asks: can a pooled buffer be handed out while something still reads it?
A scenario runs twice: once with the pool warm and *poisoned* (every array that goes back into
the pool is first filled with NaN bytes, so whatever still reads it sees NaN; and other steps
run in between, so the pool hands the same buffers out again and overwrites them), once with a
pool that keeps nothing. Every value the scenario observes must be the same in both. The risks
(one scenario each): a graph retained for two backwards; create_graph, whose backward is itself
a graph; graphs alive while others run; outputs, hook gradients and saved values kept by the
user; a user's Function; anomaly mode; the drawings' trace; exceptions in forward and backward;
threads; in-place changes. ``test_the_poisoned_comparison_detects_a_buffer_pooled_too_early``
shows that the comparison fails when the pool's guard is switched off.
"""

from __future__ import annotations

import copy
import functools
import sys
import threading
import types
import weakref
from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import _workspace, conv
from chainrule.ops.conv import col2im

F = cr.nn.functional
RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 2, 14, 14))
OTHER = RNG.standard_normal((3, 2, 14, 14))
W = RNG.standard_normal((4, 2, 3, 3))


def _net() -> cr.nn.Sequential:
    """Both of col2im's ways (overlapping pooling windows add, 2x2 ones are assigned), padding,
    groups, and every conv weight needing a gradient (its columns leased to backward)."""
    cr.manual_seed(0)
    return cr.nn.Sequential(
        cr.nn.Conv2d(2, 4, 3, padding=1),
        cr.nn.ReLU(),
        cr.nn.MaxPool2d(3, stride=2),
        cr.nn.Conv2d(4, 6, 3, groups=2),
        cr.nn.ReLU(),
        cr.nn.MaxPool2d(2),
        cr.nn.Flatten(),
        cr.nn.Linear(24, 3),
    ).double()


def _grads(net: cr.nn.Module, *extra: cr.Tensor) -> list[np.ndarray]:
    return [t.grad.numpy().copy() for t in (*extra, *net.parameters())]


def _step(net: cr.nn.Module, x: np.ndarray) -> list[np.ndarray]:
    net.zero_grad()
    xt = cr.tensor(x, requires_grad=True)
    (net(xt) ** 2).sum().backward()
    return _grads(net, xt)


@functools.cache
def _churn_net() -> cr.nn.Sequential:
    return _net()


def _churn(times: int = 2) -> None:
    """Steps of another network of the same shapes: they take every buffer the pool holds,
    write into it and give it back, and they reuse whatever was pooled too early."""
    net = _churn_net()
    for k in range(times):
        _step(net, OTHER * (k + 2))
        with cr.no_grad():
            net(cr.tensor(OTHER * (k + 3)))


def _pooled() -> list:
    return [a for arrays in _workspace._pool().values() for a in arrays]


def _check_pool() -> None:
    """Each pooled array is there once, owns its memory, and the pool's list is its only holder."""
    ids = [id(a) for a in _pooled()]
    assert len(set(ids)) == len(ids), "an array is pooled twice"
    for arrays in _workspace._pool().values():
        for a in arrays:
            assert a.base is None
            # the pool's list, this loop's variable and getrefcount's argument
            assert sys.getrefcount(a) == 3, "a pooled array is referenced from outside the pool"


def _observe(scenario: Callable[[], list], monkeypatch, pooled: bool) -> list[np.ndarray]:
    with monkeypatch.context() as m:
        m.setattr(_workspace, "POISON", pooled)
        m.setattr(_workspace, "MAX_PER_SHAPE", 2 if pooled else 0)
        _workspace.clear()
        if pooled:
            _churn()  # a warm pool
        out = [np.array(a, dtype=np.float64) for a in scenario()]
        if pooled:
            _check_pool()
        _workspace.clear()
    return out


def _same_with_and_without_the_pool(scenario: Callable[[], list], monkeypatch) -> list:
    want = _observe(scenario, monkeypatch, pooled=False)
    got = _observe(scenario, monkeypatch, pooled=True)
    assert len(got) == len(want) > 0
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
    return got


def _unchanged(kept: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Arrays handed to the user, each beside a copy taken when it was handed out."""
    for array, at_the_time in kept:
        np.testing.assert_array_equal(array, at_the_time)
    return [a for a, _ in kept]


# ----- the scenarios: each returns what it observed -----
def retained_graph_two_backwards() -> list:
    net = _net()
    xt = cr.tensor(X, requires_grad=True)
    loss = (net(xt) ** 2).sum()
    loss.backward(retain_graph=True)
    first = _grads(net, xt)
    _churn()  # the retained graph's columns stay leased meanwhile
    net.zero_grad()
    xt.grad = None
    loss.backward()
    second = _grads(net, xt)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    return first + second


def create_graph_second_order() -> list:
    """The backward is recorded: its graph must hold no pooled array, even after the forward
    graph's own values (the leased columns) are gone and other steps reused the pool."""
    net = _net()
    params = list(net.parameters())
    xt = cr.tensor(X, requires_grad=True)
    loss = (net(xt) ** 2).sum()
    grads = cr.autograd.grad(loss, [xt, *params], create_graph=True)
    del loss
    _churn()
    penalty = sum((g**2).sum() for g in grads)
    _churn()
    penalty.backward()
    return [g.detach().numpy() for g in grads] + _grads(net, xt)


def create_graph_then_first_order_through_the_same_nodes() -> list:
    """A double backward walks the forward nodes again, first order, reading their leases."""
    net = _net()
    xt = cr.tensor(X, requires_grad=True)
    out = net(xt)
    (gx,) = cr.autograd.grad((out**2).sum(), [xt], create_graph=True)
    _churn()
    ((gx * xt).sum() + (out**3).sum()).backward()
    return [gx.detach().numpy()] + _grads(net, xt)


def graphs_alive_at_once_in_any_order() -> list:
    net = _net()
    xs = [X, X[:, ::-1].copy(), X * 2]
    losses = [(net(cr.tensor(x)) ** 2).sum() for x in xs]
    out = []
    for k in (2, 0, 1):  # backward in another order than forward, steps in between
        _churn(1)
        net.zero_grad()
        losses[k].backward()
        out += _grads(net)
    return out


def outputs_hook_gradients_and_retained_grads_kept() -> list:
    """Every array chainrule hands out, kept by the user across later steps: layer outputs
    (with and without grad, one changed in place), gradients seen by hooks, retained .grad."""
    net = _net()
    xt = cr.tensor(X, requires_grad=True)
    kept, hooked, retained = [], [], []
    h = xt
    for layer in net:
        h = layer(h)
        h.retain_grad()
        h.register_hook(lambda g: hooked.append((g.numpy(), g.numpy().copy())))
        retained.append(h)
        kept.append((h.detach().numpy(), h.detach().numpy().copy()))
    (h**2).sum().backward()
    with cr.no_grad():
        y = net[0](cr.tensor(X))
        y.add_(1.0)  # in place on an output: it is the caller's own array
        kept.append((y.numpy(), y.numpy().copy()))
        z = net[2](y)
        kept.append((z.numpy(), z.numpy().copy()))
    grads = [(t.grad.numpy(), t.grad.numpy().copy()) for t in retained]
    _churn()
    return _unchanged(kept + hooked + grads) + _grads(net, xt)


def saved_values_read_out_of_the_graph() -> list:
    """A user reads a convolution's saved values (the leased columns among them) and keeps
    them, and a view of them, after the graph is gone."""
    x = cr.tensor(X)
    w = cr.tensor(W, requires_grad=True)
    y = F.conv2d(x, w)
    saved = y.grad_fn.saved_tensors
    arrays = [s.array if isinstance(s, _workspace.Lease) else s for s in saved]
    arrays.append(arrays[-1][:, :5])  # a view of the columns
    kept = [(a, a.copy()) for a in arrays]
    copied = copy.copy(saved[-1])  # a second lease on the same array
    (y**2).sum().backward()
    del y, saved, copied
    _churn()
    return _unchanged(kept) + [w.grad.numpy()]


class _SquaredConv(cr.autograd.Function):
    """A user's Function around a convolution: its forward runs the op with recording off and
    saves the output; its backward runs a graph of its own."""

    @staticmethod
    def forward(ctx, x, w):
        y = F.conv2d(x, w)
        ctx.save_for_backward(x, w, y)
        return y * y

    @staticmethod
    def backward(ctx, grad):
        x, w, y = ctx.saved_tensors
        xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
        with cr.enable_grad():
            again = F.conv2d(xg, wg)
            _churn(1)
            return cr.autograd.grad(again, [xg, wg], 2 * y * grad)


def a_user_function_around_a_convolution() -> list:
    x = cr.tensor(X, requires_grad=True)
    w = cr.tensor(W, requires_grad=True)
    out = _SquaredConv.apply(x, w)
    _churn()
    (out * out).sum().backward()
    return [out.detach().numpy(), x.grad.numpy(), w.grad.numpy()]


def anomaly_mode() -> list:
    with cr.autograd.detect_anomaly():
        return _step(_net(), X)


def traced_for_a_drawing() -> list:
    """``viz.trace`` runs every gate's backward on its saved values and keeps the arrays."""
    net = _net()
    xt = cr.tensor(X, requires_grad=True)
    loss = (net(xt) ** 2).sum()
    graph = cr.viz.trace(loss)
    kept = [(v.data, np.array(v.data)) for v in graph.values]
    kept += [(v.grad, np.array(v.grad)) for v in graph.values if v.grad is not None]
    _churn()
    loss.backward()
    _churn()
    return _unchanged(kept) + _grads(net, xt)


def an_exception_in_forward() -> list:
    x = cr.tensor(X)
    w = cr.tensor(np.ones((4, 3, 3, 3)), requires_grad=True)  # 3 channels, not 2
    with pytest.raises(RuntimeError, match="Conv2d"):
        conv.Conv2d.apply(x, w, None, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)  # after the lease
    _check_pool()
    return _step(_net(), X)


def an_exception_in_backward_then_the_rest_of_the_graph() -> list:
    """A hook raises halfway through backward; the user later backpropagates from the point
    it stopped, with the gradient the hook saw: the rest of the graph is intact."""
    net = _net()
    xt = cr.tensor(X, requires_grad=True)
    h = net[:4](xt)  # through the second convolution
    seen = []

    def stop(g: cr.Tensor) -> None:
        seen.append(g.numpy().copy())
        raise KeyboardInterrupt

    handle = h.register_hook(stop)
    with pytest.raises(KeyboardInterrupt):
        (net[4:](h) ** 2).sum().backward()
    _check_pool()
    _churn()
    handle.remove()
    h.backward(cr.tensor(seen[0]))
    return seen + _grads(net, xt)


def an_exception_inside_an_op_s_backward(monkeypatch) -> list:
    """The op fails between taking its buffers and giving them back: they are lost to the
    garbage collector, never given back twice, and the next steps are right."""
    real = conv.xp
    fails = iter([True])

    def matmul(*args, **kwargs):
        if "out" in kwargs and next(fails, False):
            raise MemoryError("planted")
        return real.matmul(*args, **kwargs)

    namespace = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real)})
    namespace.matmul = matmul
    net = _net()
    xt = cr.tensor(X, requires_grad=True)
    loss = (net(xt) ** 2).sum()
    with monkeypatch.context() as m:
        m.setattr(conv, "xp", namespace)
        with pytest.raises(MemoryError, match="planted"):
            loss.backward()
    del loss
    _check_pool()
    return _step(net, X) + _step(net, X * 2)


def _forwards(net: cr.nn.Module, k: int) -> list[np.ndarray]:
    """Forwards of ``net`` that leave the grad mode alone (a ``no_grad`` block would set it for
    every thread: chainrule's switch is one for the process), recorded or not."""
    return [net(cr.tensor(OTHER * (k + s))).detach().numpy() for s in range(2)]


def another_thread_backwards_this_thread_s_graph() -> list:
    """The leases are taken here and released there (dropped, not pooled in either thread);
    this thread runs forwards meanwhile, on its own pool."""
    net, other_net = _net(), _net()
    xt = cr.tensor(X, requires_grad=True)
    loss = (net(xt) ** 2).sum()
    done = threading.Event()
    errors = []

    def other() -> None:
        try:
            loss.backward()
        except BaseException as e:  # pragma: no cover (reported below)
            errors.append(e)
        finally:
            done.set()

    seen = []
    t = threading.Thread(target=other)
    t.start()
    while not done.is_set() or not seen:
        seen = _forwards(other_net, 1)
    t.join()
    assert not errors
    return seen + _grads(net, xt)


def threads_at_once() -> list:
    """Four threads, each on its own pool: forwards run at once, and a training step at a time
    (the grad mode is one switch for the process: two backwards at once would race on it)."""
    results: dict = {}
    autograd = threading.Lock()
    errors = []

    nets = [_net() for _ in range(4)]  # here: the seed's generator is one for the process

    def work(k: int) -> None:
        try:
            net = nets[k]
            out = []
            for s in range(3):
                out += _forwards(net, k + s)
                with autograd:
                    out += _step(net, X * (k + 1) + s)
            results[k] = out
        except BaseException as e:  # pragma: no cover (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return [g for k in range(4) for g in results[k]]


def input_changed_in_place_after_forward() -> list:
    """The saved input is version-checked: backward refuses, the leased columns go back."""
    net = _net()
    xt = cr.tensor(X.copy())
    loss = (net(xt) ** 2).sum()
    with cr.no_grad():
        xt.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()
    del loss
    _check_pool()
    return _step(net, X)


SCENARIOS = [
    retained_graph_two_backwards,
    create_graph_second_order,
    create_graph_then_first_order_through_the_same_nodes,
    graphs_alive_at_once_in_any_order,
    outputs_hook_gradients_and_retained_grads_kept,
    saved_values_read_out_of_the_graph,
    a_user_function_around_a_convolution,
    anomaly_mode,
    traced_for_a_drawing,
    an_exception_in_forward,
    an_exception_in_backward_then_the_rest_of_the_graph,
    another_thread_backwards_this_thread_s_graph,
    threads_at_once,
    input_changed_in_place_after_forward,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_a_scenario_observes_the_same_with_and_without_the_pool(scenario, monkeypatch) -> None:
    _same_with_and_without_the_pool(scenario, monkeypatch)


def test_an_exception_inside_an_op_s_backward(monkeypatch) -> None:
    _same_with_and_without_the_pool(
        lambda: an_exception_inside_an_op_s_backward(monkeypatch), monkeypatch
    )


def test_the_poisoned_comparison_detects_a_buffer_pooled_too_early(monkeypatch) -> None:
    """With give's reference count check switched off, the leased columns the user kept are
    pooled while the user holds them, and the comparison sees it: the tests above can fail."""
    monkeypatch.setattr(_workspace, "_ALONE", 1 << 30)
    with pytest.raises(AssertionError):
        _same_with_and_without_the_pool(saved_values_read_out_of_the_graph, monkeypatch)


def test_a_recorded_backward_holds_no_pooled_array() -> None:
    """Under create_graph the backward is a graph of its own, which may outlive the forward's
    leases: none of its values may be a leased array or a view of one."""
    net = _net()
    xt = cr.tensor(X, requires_grad=True)
    out = net(xt)
    leases = []
    stack, seen = [out.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        leases += [s.array for s in node.saved if isinstance(s, _workspace.Lease)]
        stack += [a.grad_fn for a in node.inputs if isinstance(a, cr.Tensor)]
    assert len(leases) == 2
    grads = cr.autograd.grad((out**2).sum(), [xt, *net.parameters()], create_graph=True)
    stack, values = [g.grad_fn for g in grads], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:  # (the forward's nodes were seen above)
            continue
        seen.add(node)
        values += [a._data if isinstance(a, cr.Tensor) else a for a in node.inputs]
        values += list(node.saved or ())
        stack += [a.grad_fn for a in node.inputs if isinstance(a, cr.Tensor)]
    assert len(values) > 50
    for v in values:
        if isinstance(v, np.ndarray):
            assert not any(v is a or v.base is a for a in leases)


# ----- the pool itself -----
def test_a_lease_goes_back_to_the_pool_when_the_graph_is_freed() -> None:
    _workspace.clear()
    w = cr.randn(4, 2, 3, 3, requires_grad=True)
    y = F.conv2d(cr.tensor(X.astype(np.float32)), w)
    lease = y.grad_fn.saved[2]
    assert isinstance(lease, _workspace.Lease)
    buffer = lease.array
    y.sum().backward(retain_graph=True)  # retained: still leased
    assert lease.array is buffer and not any(buffer is a for a in _pooled())
    first = w.grad.numpy().copy()
    y.sum().backward()  # the second backward reads the same columns, then frees them
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-6)
    del lease
    assert not any(buffer is a for a in _pooled())  # this test's name for it still holds it
    del buffer
    assert len(_pooled()) > 0
    _check_pool()


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.empty((4, 6))[:, :3],  # a view
        lambda: np.empty((6, 4)).T,  # not C-contiguous
        lambda: np.broadcast_to(np.empty(4), (3, 4)),  # read-only (and a view)
    ],
    ids=["view", "transposed", "read_only"],
)
def test_give_refuses_what_take_never_gives(make) -> None:
    _workspace.clear()
    _workspace.give(make())
    assert not _pooled()


def test_give_refuses_an_array_someone_else_holds_and_one_already_pooled() -> None:
    _workspace.clear()
    a = np.empty((5, 5))
    other = a  # a second name
    _workspace.give(a)
    assert not _pooled()
    del other
    view = a[1:]
    _workspace.give(a)
    assert not _pooled()
    del view
    _workspace.give(a)
    _workspace.give(a)  # the pool's list holds it now: not pooled twice
    assert len(_pooled()) == 1
    del a
    first = _workspace.take((5, 5), np.float64)
    second = _workspace.take((5, 5), np.float64)
    assert first is not second


def test_a_copied_lease_does_not_give_its_array_twice() -> None:
    _workspace.clear()
    lease = _workspace.Lease((3, 4), np.float64)
    twin = copy.copy(lease)
    assert twin.array is lease.array
    del lease
    assert not _pooled()  # the twin still holds the array
    del twin
    assert len(_pooled()) == 1
    assert _workspace.take((3, 4), np.float64) is not _workspace.take((3, 4), np.float64)


def test_every_buffer_is_reused_once_the_pool_is_warm(monkeypatch) -> None:
    """The guard must not cost the trick: in a steady training step no buffer is made anew."""
    made = []

    class Counting:
        def __getattr__(self, name: str):
            return getattr(np, name)

        def empty(self, shape, dtype):
            made.append(shape)
            return np.empty(shape, dtype)

    monkeypatch.setattr(_workspace, "xp", Counting())
    _workspace.clear()
    net = _net()
    _step(net, X)
    assert made  # the first step fills the pool
    for _ in range(2):
        made.clear()
        _step(net, X)
        assert made == []


def test_threads_each_use_their_own_pool() -> None:
    """A buffer given back in one thread is never taken in another, and a lease released in
    another thread than its own is dropped, not pooled there."""
    _workspace.clear()
    mine = np.empty((7, 7))
    _workspace.give(mine)
    seen: dict = {}

    def other() -> None:
        seen["taken"] = _workspace.take((7, 7), np.float64)
        seen["lease"] = _workspace.Lease((5, 5), np.float64)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen["taken"] is not mine
    lease = seen.pop("lease")
    array = weakref.ref(lease.array)
    del lease  # released here, taken there: dropped, not pooled here
    assert array() is None
    assert _workspace.take((7, 7), np.float64) is mine


def test_the_pool_is_bounded(monkeypatch) -> None:
    _workspace.clear()
    for _ in range(5):
        _workspace.give(np.empty((10, 10)))
    assert len(_pooled()) == _workspace.MAX_PER_SHAPE
    monkeypatch.setattr(_workspace, "MAX_BYTES", 1000)
    _workspace.clear()
    _workspace.give(np.empty(1000))  # 8000 bytes: too large to keep
    assert not _pooled()


# ----- col2im's assignment where windows cannot overlap -----
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
    namespace = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np)})
    namespace.empty = lambda shape, dtype: np.full(shape, np.nan, dtype)
    monkeypatch.setattr(conv, "xp", namespace)
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


# ----- the first-order fast paths give the recorded rule's numbers -----
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_max_pool_s_first_order_gradient_equals_the_recorded_rule_s(dtype) -> None:
    """Bit for bit, in the gradient's own dtype (float16 summed as float16, as the rule does)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 15, 15)).astype(dtype)
    g = cr.tensor((rng.standard_normal((4, 3, 7, 7)) * 100).astype(dtype))
    first = cr.tensor(x, requires_grad=True)
    F.max_pool2d(first, 3, stride=2).backward(g)  # overlapping windows: col2im adds
    recorded = cr.tensor(x, requires_grad=True)
    (gx,) = cr.autograd.grad(F.max_pool2d(recorded, 3, stride=2), [recorded], g, create_graph=True)
    assert first.grad.dtype == dtype
    np.testing.assert_array_equal(first.grad.numpy(), gx.detach().numpy())


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"stride": 2, "padding": 1}, {"dilation": 2, "padding": (2, 1)}, {"groups": 2}],
    ids=["plain", "stride_padding", "dilation", "groups"],
)
def test_conv_s_first_order_gradients_equal_the_recorded_rule_s(kwargs) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 9, 8))
    w = rng.standard_normal((6, 4 // kwargs.get("groups", 1), 3, 3))
    first = [cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)]
    y = F.conv2d(*first, **kwargs)
    g = cr.tensor(rng.standard_normal(y.shape))
    y.backward(g)
    again = [cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)]
    recorded = cr.autograd.grad(F.conv2d(*again, **kwargs), again, g, create_graph=True)
    for t, r in zip(first, recorded):
        np.testing.assert_allclose(t.grad.numpy(), r.detach().numpy(), rtol=1e-12, atol=1e-12)
