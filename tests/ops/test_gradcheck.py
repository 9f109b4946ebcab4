"""Every op against central differences in float64, on shapes Hypothesis draws.

The table is in ``_table.py``; PyTorch is not needed here. The end of the file checks what finite
differences cannot see: how max/min split a tied gradient, large scores that would overflow a naive
softmax, gradient dtypes across casts, and dims on 0-d tensors.
"""

from __future__ import annotations

import numpy as np
import pytest
from _table import OPS, SCORES_1E4, Op
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.ops._registry import op_classes

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def leaves(arrays: tuple) -> list[cr.Tensor]:
    return [cr.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@SETTINGS
@given(data=st.data())
def test_gradcheck(op: Op, data: st.DataObject) -> None:
    ex = data.draw(op.example, label="example")
    inputs = leaves(ex.arrays)
    for x in inputs:
        assert x.dtype == cr.float64
    assert cr.autograd.gradcheck(lambda *xs: op.cr(*xs, **ex.params), inputs, **op.gradcheck)


#: the first example drawn, not shrunk: one draw per row (shrinking took minutes on a busy machine)
FIRST = settings(max_examples=1, phases=[Phase.generate], database=None, derandomize=True)


def _functions_run(op: Op) -> set[str]:
    """The Functions one call of the row runs, forward and (recorded) backward."""
    ex = find(op.example, lambda e: True, settings=FIRST)  # the same example in every run
    xs = leaves(ex.arrays)
    out = op.cr(*xs, **ex.params)
    outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o.requires_grad]
    # a square makes every backward depend on the inputs, so create_graph records all of it
    total = sum((o * o).sum() for o in outs)
    grads = cr.autograd.grad(total, xs, create_graph=True, allow_unused=True)
    visited, stack = set(), [t.grad_fn for t in [*outs, *grads] if t is not None and t.grad_fn]
    while stack:
        node = stack.pop()
        if node not in visited:
            visited.add(node)
            stack += [fn for fn, _ in node.next_functions if fn is not None]
    return {node.function.__name__ for node in visited}


def test_table_covers_every_op() -> None:
    """Every Function chainrule defines is run by some row: a new op without a row fails here."""
    names = [op.name for op in OPS]
    assert len(names) == len(set(names)), "two rows share a name"
    run = set().union(*[_functions_run(op) for op in OPS])
    # a Function whose results carry no gradient (ValueFunction: comparisons, argmax) is in no
    # graph; tests/test_compile.py replays it and tests/test_tensor.py checks its values
    differentiable = {n for n, c in op_classes().items() if getattr(c, "differentiable", True)}
    missing = differentiable - run
    assert not missing, f"ops no row of tests/ops/_table.py runs: {sorted(missing)}"
    matmul_shapes = {name for name in names if name.startswith("matmul_")}
    assert {"matmul_3@3", "matmul_3@3x4", "matmul_2x3@3", "matmul_2x3@3x4"} <= matmul_shapes


def test_gradcheck_catches_a_wrong_gradient() -> None:
    """The check the table relies on fails for a backward that is off by a factor."""

    class Twice(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x  # should be 2 x

    x = cr.tensor(np.array([0.5, -1.5]), requires_grad=True)
    with pytest.raises(cr.autograd.GradcheckError):
        cr.autograd.gradcheck(Twice.apply, [x])
    assert not cr.autograd.gradcheck(Twice.apply, [x], raise_exception=False)


# ----- ties: the gradient is split evenly between equal winners -----
def _grad_of(fn, values) -> np.ndarray:
    x = cr.tensor(np.array(values, dtype=np.float64), requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


@pytest.mark.parametrize(
    ("name", "fn", "values", "expected"),
    [
        ("max", lambda x: cr.max(x), [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
        ("max_method", lambda x: x.max(), [3.0, 1.0, 3.0], [0.5, 0.0, 0.5]),
        ("max_dim", lambda x: cr.max(x, 0).values, [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
        ("amax", lambda x: cr.amax(x), [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
        ("amax_three", lambda x: cr.amax(x), [2.0, 2.0, 2.0], [1 / 3, 1 / 3, 1 / 3]),
        ("min", lambda x: cr.min(x), [1.0, 1.0, 3.0], [0.5, 0.5, 0.0]),
        ("min_dim", lambda x: x.min(dim=0).values, [1.0, 1.0, 3.0], [0.5, 0.5, 0.0]),
        ("amin", lambda x: cr.amin(x), [3.0, 1.0, 1.0], [0.0, 0.5, 0.5]),
        (
            "amax_rows",
            lambda x: cr.amax(x, dim=1),
            [[1.0, 3.0, 3.0], [5.0, 4.0, 5.0]],
            [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]],
        ),
        (
            "max_dim_keepdim",
            lambda x: cr.max(x, dim=0, keepdim=True).values,
            [[2.0, 0.0], [2.0, 1.0]],
            [[0.5, 0.0], [0.5, 1.0]],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_reduction_ties_split_evenly(name, fn, values, expected) -> None:
    np.testing.assert_allclose(_grad_of(fn, values), expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    ("fn", "x_wins"),
    [
        (cr.maximum, True),
        (cr.max, True),
        (lambda x, y: x.max(y), True),
        (cr.minimum, False),
        (cr.min, False),
        (lambda x, y: x.min(y), False),
    ],
    ids=["maximum", "max_binary", "max_method", "minimum", "min_binary", "min_method"],
)
def test_elementwise_ties_split_evenly(fn, x_wins) -> None:
    """Equal inputs get half the gradient each; where they differ, the winner gets all of it."""
    x = cr.tensor(np.array([2.0, 1.0, -1.0]), requires_grad=True)
    y = cr.tensor(np.array([2.0, 0.0, -1.0]), requires_grad=True)
    fn(x, y).backward(cr.tensor(np.array([1.0, 1.0, 4.0])))
    np.testing.assert_allclose(x.grad.numpy(), [0.5, float(x_wins), 2.0])
    np.testing.assert_allclose(y.grad.numpy(), [0.5, float(not x_wins), 2.0])


def test_tie_with_broadcast_scalar() -> None:
    """maximum(x, 0) against a broadcast tensor: each tie gives half to x, half summed into y."""
    x = cr.tensor(np.array([0.0, 1.0, 0.0, -1.0]), requires_grad=True)
    y = cr.tensor(np.array(0.0), requires_grad=True)
    cr.maximum(x, y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(y.grad.numpy(), 0.5 + 0.5 + 1.0)


# ----- scores of +-1e4: no overflow, against a float64 reference written here -----
SCORES = SCORES_1E4


def _reference(x: np.ndarray) -> dict[str, np.ndarray]:
    m = x.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    return {
        "softmax": np.exp(x - lse),
        "log_softmax": x - lse,
        "logsumexp": lse[:, 0],
        # 1 / (1 + e^-x) written for each sign, so that no exponential overflows
        "sigmoid": np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), 1 - 1 / (1 + np.exp(-np.abs(x)))),
    }


@pytest.mark.parametrize("dtype", [cr.float64, cr.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("softmax", lambda x: cr.softmax(x, dim=1)),
        ("log_softmax", lambda x: cr.log_softmax(x, dim=1)),
        ("logsumexp", lambda x: cr.logsumexp(x, dim=1)),
        ("sigmoid", cr.sigmoid),
    ],
    ids=["softmax", "log_softmax", "logsumexp", "sigmoid"],
)
def test_large_scores_stay_finite(name, fn, dtype) -> None:
    x = cr.tensor(SCORES.astype(dtype), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # overflow fails it
        y = fn(x)
        g = np.random.default_rng(0).standard_normal(y.shape)
        y.backward(cr.tensor(g.astype(dtype)))
    expected = _reference(SCORES)[name]
    tol = 1e-12 if dtype == cr.float64 else 1e-6
    assert np.isfinite(y.detach().numpy()).all()
    np.testing.assert_allclose(
        y.detach().numpy(), expected, rtol=tol, atol=tol * np.abs(expected).max()
    )
    assert np.isfinite(x.grad.numpy()).all()
    if name == "softmax":  # rows of the gradient of softmax sum to 0 (sum(p) is constant)
        np.testing.assert_allclose(x.grad.numpy().sum(axis=1), 0, atol=10 * tol)


def test_large_scores_gradients_match_reference() -> None:
    x = cr.tensor(SCORES, requires_grad=True)
    cr.logsumexp(x, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _reference(SCORES)["softmax"], atol=1e-15)
    x.grad = None
    cr.sigmoid(x).sum().backward()
    s = _reference(SCORES)["sigmoid"]
    np.testing.assert_allclose(x.grad.numpy(), s * (1 - s), atol=1e-15)


# ----- dtypes across casts -----
@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (cr.float64, cr.float32),
        (cr.float64, cr.float16),
        (cr.float32, cr.float64),
        (cr.float16, cr.float32),
        (cr.float32, cr.float32),
    ],
    ids=str,
)
def test_astype_gradient_keeps_input_dtype(src, dst) -> None:
    x = cr.tensor(np.array([0.5, -1.25, 2.0]), dtype=src, requires_grad=True)
    y = x.astype(dst)
    assert y.dtype == dst
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy().astype(dst))
    (y * cr.tensor(np.array([1.0, 2.0, -3.0]), dtype=dst)).sum().backward()
    assert x.grad.dtype == src
    np.testing.assert_array_equal(x.grad.numpy(), np.array([1.0, 2.0, -3.0], dtype=src))


@pytest.mark.parametrize(
    "fn",
    [lambda x: 2 - x, lambda x: 2 / x, lambda x: 2**x, lambda x: x**2, lambda x: 3 * x + 1],
    ids=["rsub", "rtruediv", "rpow", "pow", "affine"],
)
@pytest.mark.parametrize("dtype", [cr.float32, cr.float64], ids=str)
def test_python_scalars_keep_the_tensor_dtype(fn, dtype) -> None:
    x = cr.tensor(np.array([0.5, 1.5]), dtype=dtype, requires_grad=True)
    y = fn(x)
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype


def test_reshape_spellings_agree() -> None:
    x = cr.tensor(np.arange(12.0), requires_grad=True)
    a, b, c = x.reshape(2, 6), x.reshape((2, 6)), x.view(2, -1)
    for y in (a, b, c):
        assert y.shape == (2, 6)
        np.testing.assert_array_equal(y.detach().numpy(), np.arange(12.0).reshape(2, 6))
    (a * 1 + b * 2 + c * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(12, 6.0))


# ----- 0-d tensors: PyTorch accepts dim 0 (and -1) on them, as a no-op reduction -----
@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("sum", lambda x: cr.sum(x, 0)),
        ("sum_keepdim", lambda x: cr.sum(x, -1, keepdim=True)),
        ("mean", lambda x: cr.mean(x, 0)),
        ("amax", lambda x: cr.amax(x, 0)),
        ("amin", lambda x: cr.amin(x, -1)),
        ("max_dim", lambda x: cr.max(x, 0).values),
        ("logsumexp", lambda x: cr.logsumexp(x, 0)),
        ("softmax", lambda x: cr.softmax(x, 0) * x),
        ("log_softmax", lambda x: cr.log_softmax(x, 0) + x),
        ("squeeze", lambda x: x.squeeze(0)),
        ("transpose", lambda x: x.transpose(0, -1)),
        ("unsqueeze", lambda x: x.unsqueeze(0).squeeze(-1)),
        ("flatten", lambda x: x.flatten().reshape(())),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_dim_on_0d_tensor_is_identity(name, fn) -> None:
    """For a 0-d x each of these is x itself (as in PyTorch): value x, gradient 1."""
    x = cr.tensor(np.array(1.5), requires_grad=True)
    y = fn(x)
    assert y.shape == ()
    np.testing.assert_allclose(y.detach().numpy(), 1.5)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.0)


def test_std_of_equal_values_has_a_zero_gradient() -> None:
    """Where every value a std spans is equal, its gradient is 0 (PyTorch's), not the NaN of
    the square root's infinite slope times var's zero slope; elsewhere the same std is checked
    by finite differences (``test_gradcheck``)."""
    x = cr.tensor([[1.0, 2.0], [1.0, 3.0]], dtype=cr.float64, requires_grad=True)
    x.std(0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, -1 / np.sqrt(2)], [0.0, 1 / np.sqrt(2)]])
