"""Every op against PyTorch in float64: the same forward values and the same input gradients.

The inputs are the table's (``_table.py``); each output gets a random upstream gradient, and both
libraries run backward with it. Skipped as a whole when PyTorch is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from _table import OPS, SCORES_1E4, Op, distinct, shapes_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _tuple(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol, err_msg=what)


def run_both(op: Op, arrays: tuple, params: dict, seed: int = 0):
    """Forward and backward (random upstream gradient) in both libraries; returns
    (chainrule outputs, torch outputs, chainrule input grads, torch input grads)."""
    xs = [cr.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    ts = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    outs = _tuple(op.cr(*xs, **params))
    touts = _tuple(op.torch(torch, *ts, **params))
    assert len(outs) == len(touts), f"{len(outs)} outputs, PyTorch gives {len(touts)}"
    for k, (o, t) in enumerate(zip(outs, touts)):
        assert o.shape == tuple(t.shape), f"output {k}: shape {o.shape}, PyTorch {tuple(t.shape)}"
    rng = np.random.default_rng(seed)
    ups = [rng.standard_normal(t.shape) for t in touts]
    pairs = [(o, u) for o, u in zip(outs, ups) if o.requires_grad]
    tpairs = [(t, u) for t, u in zip(touts, ups) if t.requires_grad]
    assert len(pairs) == len(tpairs), "a different set of outputs requires grad"
    if pairs:
        cr.autograd.backward(
            [o for o, _ in pairs], [cr.tensor(u.astype(o.dtype)) for o, u in pairs]
        )
        torch.autograd.backward(
            [t for t, _ in tpairs], [torch.tensor(u, dtype=t.dtype) for t, u in tpairs]
        )
    grads = [None if x.grad is None else x.grad.numpy() for x in xs]
    tgrads = [None if t.grad is None else t.grad.numpy() for t in ts]
    return outs, touts, grads, tgrads


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@SETTINGS
@given(data=st.data())
def test_matches_torch(op: Op, data: st.DataObject) -> None:
    ex = data.draw(op.example, label="example")
    outs, touts, grads, tgrads = run_both(op, ex.arrays, ex.params, data.draw(st.integers(0, 99)))
    for k, (o, t) in enumerate(zip(outs, touts)):
        assert str(o.dtype) == str(t.dtype).removeprefix("torch."), f"output {k} dtype"
        _assert_close(o.detach().numpy(), t.detach().numpy(), op.rtol, f"output {k}")
    for i, (g, tg) in enumerate(zip(grads, tgrads)):
        if tg is None:  # PyTorch found no path to this input: chainrule gives none or zeros
            assert g is None or not g.any(), f"input {i}: gradient where PyTorch has none"
            continue
        assert g is not None, f"input {i}: no gradient; PyTorch has one"
        assert g.dtype == np.float64, f"input {i}: gradient dtype {g.dtype}"
        _assert_close(g, tg, op.rtol, f"gradient of input {i}")


@SETTINGS
@given(shape=shapes_of(1, min_dims=1), seed=st.integers(0, 2**32 - 1), keepdim=st.booleans())
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_indices_match_torch(name: str, shape, seed: int, keepdim: bool) -> None:
    (x,) = distinct(np.random.default_rng(seed), shape)
    for dim in range(-len(shape), len(shape)):
        got = getattr(cr, name)(cr.tensor(x), dim, keepdim)
        want = getattr(torch, name)(torch.tensor(x), dim, keepdim)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        assert got.indices.dtype == cr.int64
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        arg = getattr(cr, f"arg{name}")(cr.tensor(x), dim, keepdim)
        np.testing.assert_array_equal(arg.numpy(), want.indices.numpy())


@pytest.mark.parametrize(
    ("name", "fn", "tfn"),
    [
        ("softmax", lambda x: cr.softmax(x, 1), lambda x: torch.softmax(x, 1)),
        ("log_softmax", lambda x: cr.log_softmax(x, 1), lambda x: torch.log_softmax(x, 1)),
        ("logsumexp", lambda x: cr.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1)),
        ("sigmoid", cr.sigmoid, torch.sigmoid),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_large_scores_match_torch(name, fn, tfn) -> None:
    x = cr.tensor(SCORES_1E4, requires_grad=True)
    t = torch.tensor(SCORES_1E4, requires_grad=True)
    y, ty = fn(x), tfn(t)
    up = np.random.default_rng(1).standard_normal(ty.shape)
    y.backward(cr.tensor(up))
    ty.backward(torch.tensor(up))
    assert np.isfinite(y.detach().numpy()).all() and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_softmax_cross_entropy_matches_torch() -> None:
    """The lecture's loss, written with chainrule ops and the ``x[arange(N), y]`` pick."""
    rng = np.random.default_rng(3)
    scores, y = rng.standard_normal((6, 4)) * 3, rng.integers(0, 4, 6)
    x = cr.tensor(scores, requires_grad=True)
    loss = -cr.log_softmax(x, dim=1)[cr.arange(6), cr.tensor(y)].mean()
    loss.backward()
    t = torch.tensor(scores, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(t, torch.tensor(y))
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


# ----- at kinks and ties, where finite differences say nothing: PyTorch's subgradient -----
F = torch.nn.functional
KINKS = [
    ("relu", cr.relu, lambda x: torch.relu(x), [0.0, -1.0, 2.0]),
    ("abs", cr.abs, lambda x: torch.abs(x), [0.0, -1.0, 2.0]),
    ("leaky_relu", lambda x: cr.leaky_relu(x, 0.1), lambda x: F.leaky_relu(x, 0.1), [0.0, -1.0]),
    ("elu", lambda x: cr.elu(x, 0.5), lambda x: F.elu(x, 0.5), [0.0, -1.0, 1.0]),
    ("clamp", lambda x: cr.clamp(x, -1, 1), lambda x: torch.clamp(x, -1, 1), [-1.0, 1.0, 2.0]),
    ("clamp_min", lambda x: x.clamp(min=0), lambda x: x.clamp(min=0), [0.0, -1.0, 1.0]),
    ("square_at_0", lambda x: x**2, lambda x: x**2, [0.0, 1.0]),
    ("maximum_self", lambda x: cr.maximum(x, x), lambda x: torch.maximum(x, x), [1.0, -2.0]),
    ("minimum_0", lambda x: cr.minimum(x, x * 0), lambda x: torch.minimum(x, x * 0), [0.0, 1.0]),
    ("amax", lambda x: cr.amax(x, 0), lambda x: torch.amax(x, 0), [[1.0, 3.0], [1.0, 2.0]]),
    ("amin_all", lambda x: cr.amin(x), lambda x: torch.amin(x), [[1.0, 3.0], [1.0, 1.0]]),
    ("max_all", lambda x: x.max(), lambda x: x.max(), [2.0, 2.0, -1.0, 2.0]),
    ("min_all", lambda x: cr.min(x), lambda x: torch.min(x), [-2.0, 0.0, -2.0]),
    ("pow_base_0", lambda x: cr.pow(x, x * 0 + 2), lambda x: torch.pow(x, x * 0 + 2), [0.0, 1.0]),
    # x^0 is flat, at x = 0 too (p x^(p-1) would be 0 * inf there): 0, as PyTorch's
    ("pow_exponent_0", lambda x: x**0, lambda x: x**0, [0.0, 2.0]),
    ("pow_tensor_exponent_0", lambda x: x ** (x * 0), lambda x: x ** (x * 0), [0.0, 2.0]),
    ("polynomial", lambda x: x**0 + x**1 + x**2, lambda x: x**0 + x**1 + x**2, [0.0, 2.0]),
    # a constant slice: std is 0 and its gradient 0 there, not the NaN of sqrt'(0) * 0
    ("std_constant", lambda x: cr.std(x, 0), lambda x: torch.std(x, 0), [[1.0, 2.0], [1.0, 3.0]]),
    ("std_all_equal", lambda x: x.std(), lambda x: x.std(), [3.0, 3.0, 3.0]),
]


@pytest.mark.parametrize(("name", "fn", "tfn", "values"), KINKS, ids=[k[0] for k in KINKS])
def test_kinks_and_ties_match_torch(name, fn, tfn, values) -> None:
    x = cr.tensor(np.array(values), requires_grad=True)
    t = torch.tensor(np.array(values), requires_grad=True)
    y, ty = fn(x), tfn(t)
    up = np.arange(1.0, ty.numel() + 1).reshape(tuple(ty.shape))
    y.backward(cr.tensor(up))
    ty.backward(torch.tensor(up))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-15)


# ----- degenerate sizes: nan/inf/-inf and empty results as PyTorch gives them, never an error -----
EDGES = [
    ("var_one_element", lambda x: x.var(), lambda t: t.var(), [2.0]),
    ("var_n_equals_correction", lambda x: cr.var(x, 0), lambda t: torch.var(t, 0), [[2.0, 3.0]]),
    ("std_one_element", lambda x: cr.std(x), lambda t: torch.std(t), [2.0]),
    ("var_population", lambda x: x.var(correction=0), lambda t: t.var(correction=0), [2.0]),
    ("sum_empty", lambda x: x.sum(0), lambda t: t.sum(0), np.zeros((0, 3))),
    ("mean_empty_rows", lambda x: x.mean(1), lambda t: t.mean(1), np.zeros((0, 3))),
    ("softmax_empty", lambda x: cr.softmax(x, 1), lambda t: torch.softmax(t, 1), np.zeros((0, 3))),
    ("logsumexp_empty_dim", lambda x: x.logsumexp(0), lambda t: t.logsumexp(0), np.zeros((0, 3))),
    ("cat_empty", lambda x: cr.cat([x, x * 2]), lambda t: torch.cat([t, t * 2]), np.zeros((0, 2))),
    ("matmul_inner_0", lambda x: x.T @ x, lambda t: t.T @ t, np.zeros((0, 2))),
    ("index_empty_array", lambda x: x[np.array([], np.int64)], lambda t: t[[]], np.ones((2, 2))),
    ("index_empty_list", lambda x: x[[]], lambda t: t[[]], np.ones((2, 2))),
    ("split_empty_piece", lambda x: x.split([0, 2])[1], lambda t: t.split([0, 2])[1], np.ones(2)),
]


@pytest.mark.filterwarnings("ignore")  # both libraries warn about zero degrees of freedom
@pytest.mark.parametrize(("name", "fn", "tfn", "values"), EDGES, ids=[e[0] for e in EDGES])
def test_degenerate_sizes_match_torch(name, fn, tfn, values) -> None:
    x = cr.tensor(np.array(values, dtype=np.float64), requires_grad=True)
    t = torch.tensor(np.array(values, dtype=np.float64), requires_grad=True)
    with np.errstate(all="ignore"):
        y = fn(x)
        ty = tfn(t)
        assert y.shape == tuple(ty.shape)
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())  # nan == nan here
        up = np.ones(tuple(ty.shape))
        y.backward(cr.tensor(up))
        ty.backward(torch.tensor(up))
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize(
    "call",
    [
        "x.var(0, False)",
        "x.std(1, False, True)",
        "x.var(False)",
        "x.std(True)",
        "lib.var(x, 1, False)",
        "lib.std(x, (0, 1), True, True)",
        "x.var(dim=1, correction=0, keepdim=True)",
        "x.std(0, unbiased=False)",
    ],
)
def test_var_and_std_take_pytorchs_positional_forms(call) -> None:
    """(dim, unbiased, keepdim) by position, and unbiased alone: x.var(0, False) raised a
    TypeError here, where PyTorch gives the population variance."""
    values = np.random.default_rng(3).standard_normal((3, 4))
    got, want = (
        eval(call, {"lib": lib, "x": lib.tensor(values, requires_grad=True)})  # noqa: S307
        for lib in (cr, torch)
    )
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_softmax_without_dim_takes_pytorchs_implicit_axis(name, ndim) -> None:
    """F.softmax(x) and nn.Softmax() without dim: PyTorch's old implicit axis (the first for 3-d
    input, the second for 4-d), with its deprecation warning; the last axis before."""
    values = np.random.default_rng(4).standard_normal((2, 3, 4, 5)[:ndim])
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        got = getattr(cr.nn.functional, name)(cr.tensor(values))
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        module = getattr(cr.nn, "Softmax" if name == "softmax" else "LogSoftmax")()
        from_module = module(cr.tensor(values))
    with pytest.warns(UserWarning):
        want = getattr(torch.nn.functional, name)(torch.tensor(values)).numpy()
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(from_module.numpy(), want, rtol=1e-12)
    as32 = getattr(cr.nn.functional, name)(cr.tensor(values), -1, dtype=cr.float32)
    assert as32.dtype == cr.float32
