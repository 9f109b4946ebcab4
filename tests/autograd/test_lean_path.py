"""The lean path for 0-d tensors (issue 14): same values, types and checks as the general path.

NumPy returns a scalar (np.float32) from an operation on 0-d arrays; ``Function.apply`` and the
engine wrap it back into a 0-d array directly, and ``cr.tensor(float)`` makes its leaf without
``to_array``. These tests pin what that must keep: every ``_data`` and ``.grad`` is a 0-d
ndarray of the right dtype, the lecture's neuron gives the lecture's numbers (and PyTorch's),
and the version counters still catch in-place changes of saved values whatever order a Function
saves them in.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr


def _neuron(dtype=None):
    make = (
        (lambda v: cr.tensor(v, requires_grad=True))
        if dtype is None
        else (lambda v: cr.tensor(v, dtype=dtype, requires_grad=True))
    )
    w0, w1, w2, x0, x1 = (make(v) for v in (2.0, -3.0, -3.0, -1.0, -2.0))
    f = 1 / (1 + (-(w0 * x0 + w1 * x1 + w2)).exp())
    f.backward()
    return f, (w0, w1, w2, x0, x1)


def test_zero_d_results_and_grads_are_arrays_of_the_default_dtype():
    f, leaves = _neuron()
    assert type(f._data) is np.ndarray and f._data.shape == () and f.dtype == cr.float32
    for t in leaves:
        assert t.is_leaf and t.requires_grad
        assert type(t._data) is np.ndarray and t._data.dtype == np.float32
        assert type(t.grad._data) is np.ndarray and t.grad._data.shape == ()
        assert t.grad._data.dtype == np.float32


def test_lean_leaf_follows_the_default_dtype():
    prev = cr.get_default_dtype()
    try:
        cr.set_default_dtype(cr.float64)
        t = cr.tensor(1.5, requires_grad=True)
        assert t.dtype == cr.float64 and t.requires_grad and t.is_leaf
    finally:
        cr.set_default_dtype(prev)
    t = cr.tensor(1.5)
    assert t.dtype == cr.float32 and not t.requires_grad
    assert cr.tensor(1.5, name="w").name == "w"  # a name takes the general path, still kept


def test_the_lecture_neuron_matches_the_chain_rule_by_hand_in_float64():
    f, (w0, w1, w2, x0, x1) = _neuron(cr.float64)
    dot = 2.0 * -1.0 + -3.0 * -2.0 + -3.0
    s = 1.0 / (1.0 + math.exp(-dot))
    ds = (1 - s) * s
    assert f.item() == pytest.approx(s, abs=1e-15)
    got = [t.grad.item() for t in (w0, w1, w2, x0, x1)]
    want = [-1.0 * ds, -2.0 * ds, ds, 2.0 * ds, -3.0 * ds]
    assert got == pytest.approx(want, abs=1e-15)


def test_the_lecture_neuron_matches_pytorch_bit_for_bit_in_float32():
    torch = pytest.importorskip("torch")
    f, leaves = _neuron()
    tl = [torch.tensor(v, requires_grad=True) for v in (2.0, -3.0, -3.0, -1.0, -2.0)]
    w0, w1, w2, x0, x1 = tl
    tf = 1 / (1 + (-(w0 * x0 + w1 * x1 + w2)).exp())
    tf.backward()
    assert f.item() == tf.item()
    for t, u in zip(leaves, tl):
        assert t.grad.item() == pytest.approx(u.grad.item(), rel=1e-6)


class _SavesReversed(cr.autograd.Function):
    """z = x * y, saving (y, x): the saved values in the other order than the arguments."""

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(y, x)
        return x * y

    @staticmethod
    def backward(ctx, grad):
        y, x = ctx.saved_tensors
        return grad * y, grad * x


@pytest.mark.parametrize("which", [0, 1])
def test_in_place_change_of_a_saved_input_is_caught_in_any_saving_order(which):
    x = cr.tensor(3.0, requires_grad=True)
    y = cr.tensor(4.0, requires_grad=True)
    xd, yd = x.detach(), y.detach()  # share the version counters
    z = _SavesReversed.apply(x, y)
    with cr.no_grad():
        (xd, yd)[which].add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        z.backward()


def test_saving_in_reversed_order_gives_the_right_gradients():
    x = cr.tensor(3.0, requires_grad=True)
    y = cr.tensor(4.0, requires_grad=True)
    _SavesReversed.apply(x, y).backward()
    assert (x.grad.item(), y.grad.item()) == (4.0, 3.0)


def test_saved_output_of_a_zero_d_op_is_tagged_and_checked():
    x = cr.tensor(0.5, requires_grad=True)
    z = x.exp()  # Exp saves its output, which NumPy handed back as a scalar
    with cr.no_grad():
        z.detach().mul_(2.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        z.backward()
