"""The image ops' pooled buffers (``chainrule.ops._workspace``): reuse never changes a result.

The convolution leases its im2col columns to backward and the pooled temporaries go back
before an op returns; these tests hold graphs alive in every order (retained, interleaved, two
graphs at once, threads) and compare every gradient with a run whose pool keeps nothing.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import _workspace

F = cr.nn.functional


def _net_grads(x: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    cr.manual_seed(seed)
    net = cr.nn.Sequential(
        cr.nn.Conv2d(2, 4, 3), cr.nn.ReLU(), cr.nn.MaxPool2d(2), cr.nn.Conv2d(4, 3, 2, stride=2)
    )
    xt = cr.tensor(x, requires_grad=True)
    (net(xt) ** 2).sum().backward()
    return [xt.grad.numpy()] + [p.grad.numpy() for p in net.parameters()]


@pytest.fixture
def no_pool(monkeypatch):
    monkeypatch.setattr(_workspace, "MAX_PER_SHAPE", 0)
    _workspace.clear()


X = np.random.default_rng(0).standard_normal((3, 2, 10, 10)).astype(np.float32)


def test_a_lease_goes_back_to_the_pool_when_the_graph_is_freed() -> None:
    _workspace.clear()
    w = cr.randn(4, 2, 3, 3, requires_grad=True)
    y = F.conv2d(cr.tensor(X), w)
    lease = y.grad_fn.saved[2]
    assert isinstance(lease, _workspace.Lease)
    buffer = lease.array
    y.sum().backward(retain_graph=True)  # retained: still leased
    assert lease.array is buffer and not any(buffer is a for a in _pooled())
    first = w.grad.numpy().copy()
    y.sum().backward()  # the second backward reads the same columns, then frees them
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-6)
    del lease
    assert any(buffer is a for a in _pooled())


def _pooled() -> list:
    return [a for arrays in _workspace._pool().values() for a in arrays]


def test_graphs_alive_at_once_in_any_order_match_a_run_without_the_pool(monkeypatch) -> None:
    w = cr.randn(4, 2, 3, 3, requires_grad=True)
    xs = [X, X[:, ::-1].copy(), X * 2]
    outs = [F.max_pool2d(F.conv2d(cr.tensor(x), w), 2) for x in xs]  # three graphs alive
    grads = []
    for k in (2, 0, 1):  # backward in another order than forward
        w.grad = None
        (outs[k] ** 2).sum().backward()
        grads.append((k, w.grad.numpy().copy()))
    monkeypatch.setattr(_workspace, "MAX_PER_SHAPE", 0)
    _workspace.clear()
    for k, g in grads:
        w.grad = None
        (F.max_pool2d(F.conv2d(cr.tensor(xs[k]), w), 2) ** 2).sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), g)


def test_a_network_s_gradients_equal_those_without_the_pool(no_pool, monkeypatch) -> None:
    reference = _net_grads(X)
    monkeypatch.setattr(_workspace, "MAX_PER_SHAPE", 2)
    for _ in range(3):  # the pool warm, buffers reused step after step
        for got, want in zip(_net_grads(X), reference):
            np.testing.assert_array_equal(got, want)


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
    array = lease.array
    del lease  # released here, taken there: not pooled here
    assert not any(array is a for a in _pooled())
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
