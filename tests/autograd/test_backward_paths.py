"""The engine's two ways of calling a node's backward: a built-in op's one output that nothing
observes is called directly from ``_process``; several outputs, hooks, retain_grad, captures by
``autograd.grad`` and a user's Function go through ``_backward``. Both must give the same
gradients, bit for bit, and the same checks on what backward returns."""

import numpy as np
import pytest

import chainrule as cr


def _graph(dtype, observe):
    """A small graph of many ops (one with two outputs) on fixed values; ``observe`` puts
    retain_grad and a hook that returns None on every intermediate result."""
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((3, 4)), dtype=dtype, requires_grad=True)
    w = cr.tensor(rng.standard_normal((4, 2)), dtype=dtype, requires_grad=True)
    b = cr.tensor(rng.standard_normal(2), dtype=dtype, requires_grad=True)
    seen = []

    def watch(t):
        if observe:
            t.retain_grad()
            t.register_hook(lambda g: seen.append(g.shape))
        return t

    h = watch(x @ w + b)
    s = watch(cr.exp(-h.abs()) * h - h / (1 + h * h))
    m, _ = s.max(dim=1)
    loss = watch(watch(m).sum() + (s * s).mean())
    loss.backward()
    return [t.grad.numpy() for t in (x, w, b)], seen


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_observed_nodes_give_the_same_gradients_bit_for_bit(dtype):
    plain, none_seen = _graph(dtype, observe=False)
    observed, seen = _graph(dtype, observe=True)
    assert none_seen == [] and len(seen) == 4  # the hooks ran: the observed path was taken
    for a, b in zip(plain, observed):
        assert a.dtype == b.dtype == np.dtype(dtype)
        assert a.tobytes() == b.tobytes()


class _OneGradientForTwo(cr.autograd.Function):
    """A built-in style op (on arrays) whose backward forgets its second input's gradient."""

    on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        return x * y

    @staticmethod
    def backward(ctx, grad):
        return grad


class _UserOneGradientForTwo(cr.autograd.Function):
    """The same mistake in a user's Function (on Tensors): the general path."""

    @staticmethod
    def forward(ctx, x, y):
        return x * y

    @staticmethod
    def backward(ctx, grad):
        return grad


@pytest.mark.parametrize("fn", [_OneGradientForTwo, _UserOneGradientForTwo])
def test_a_wrong_number_of_gradients_names_the_op_on_both_paths(fn):
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.tensor([3.0, 4.0], requires_grad=True)
    out = fn.apply(x, y).sum()
    with pytest.raises(RuntimeError, match=rf"{fn.__name__}Backward: backward returned 1 "):
        out.backward()


class _NanGradient(cr.autograd.Function):
    on_arrays = True

    @staticmethod
    def forward(ctx, x):
        return x + 0

    @staticmethod
    def backward(ctx, grad):
        return grad * np.nan


def test_anomaly_mode_checks_the_common_path_gradients():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    out = _NanGradient.apply(x).sum()
    with cr.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="_NanGradientBackward produced nan"):
            out.backward()
