"""Loss functions: one table row per loss and option, checked three ways.

* gradcheck in float64 against central differences (every row), gradgradcheck (every row:
  create_graph through the fused ops, and the cross-entropy of section 6 in particular);
* against PyTorch, where installed: the same call, the same loss values and input gradients to
  1e-10 in float64;
* the lecture's numbers (worked-examples.md, section 6), stability at scores of +-1e4, the split
  H(P, Q) = H(P) + KL(P || Q), the modules, and the errors for bad targets.

A row's ``call(F, T, *inputs)`` runs under both libraries: F is ``chainrule.nn.losses`` or
``torch.nn.functional`` (their signatures agree), T makes the constant tensors (targets, weights).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.module import Module

RNG = np.random.default_rng(20240612)
N, C = 4, 3
X = RNG.standard_normal((N, C))  # scores
X3 = RNG.standard_normal((2, C, 2))  # (N, C, d1)
X1 = RNG.standard_normal(C)  # one sample
Y = np.array([2, 0, 1, 1])
Y_IGNORED = np.array([2, -100, 1, 0])  # the second sample counts nothing
Y3 = np.array([[0, 2], [-100, 1]])
Y3_ALL = np.array([[0, 2], [1, 1]])  # nothing ignored
W = np.array([0.5, 2.0, 1.5])  # class weights
P = RNG.dirichlet(np.ones(C), N)  # probability targets
P3 = np.moveaxis(RNG.dirichlet(np.ones(C), (2, 2)), -1, 1)  # (2, C, 2), sums to 1 on dim 1
PROBS = RNG.uniform(0.05, 0.95, (N, C))  # inputs of binary_cross_entropy
T01 = RNG.uniform(0.0, 1.0, (N, C))  # binary targets in [0, 1]
LOGQ = np.log(RNG.dirichlet(np.ones(C), N))  # log-probabilities for kl_div
REDUCTIONS = ("mean", "sum", "none")


@dataclass(frozen=True)
class Row:
    name: str
    call: Callable[..., Any]  # (F, T, *inputs) -> loss
    arrays: tuple  # float64 inputs, each a tensor that requires grad

    def __repr__(self) -> str:
        return self.name


def _rows() -> list[Row]:
    rows = []
    for r in REDUCTIONS:
        rows += [
            Row(
                f"cross_entropy-{r}",
                lambda F, T, x, r=r: F.cross_entropy(x, T(Y), reduction=r),
                (X,),
            ),
            Row(
                f"cross_entropy-{r}-weight",
                lambda F, T, x, r=r: F.cross_entropy(x, T(Y), T(W), reduction=r),
                (X,),
            ),
            Row(
                f"cross_entropy-{r}-smoothing",
                lambda F, T, x, r=r: F.cross_entropy(x, T(Y), reduction=r, label_smoothing=0.2),
                (X,),
            ),
            Row(
                f"cross_entropy-{r}-weight-smoothing-ignored",
                lambda F, T, x, r=r: F.cross_entropy(
                    x, T(Y_IGNORED), T(W), reduction=r, label_smoothing=0.3
                ),
                (X,),
            ),
            Row(
                f"cross_entropy-{r}-ignored",
                lambda F, T, x, r=r: F.cross_entropy(x, T(Y_IGNORED), reduction=r),
                (X,),
            ),
            Row(
                f"cross_entropy-{r}-ignore_index=1",
                lambda F, T, x, r=r: F.cross_entropy(x, T(Y), T(W), ignore_index=1, reduction=r),
                (X,),
            ),
            Row(
                f"cross_entropy-{r}-(N,C,d)-weight-smoothing",
                lambda F, T, x, r=r: F.cross_entropy(
                    x, T(Y3), T(W), reduction=r, label_smoothing=0.1
                ),
                (X3,),
            ),
            Row(
                f"cross_entropy-{r}-(N,C,d)",
                lambda F, T, x, r=r: F.cross_entropy(x, T(Y3_ALL), reduction=r),
                (X3,),
            ),
            Row(
                f"cross_entropy-{r}-(C,)",
                lambda F, T, x, r=r: F.cross_entropy(x, T(np.array(2)), reduction=r),
                (X1,),
            ),
            Row(
                f"cross_entropy-{r}-(C,)-smoothing",
                lambda F, T, x, r=r: F.cross_entropy(
                    x, T(np.array(1)), T(W), reduction=r, label_smoothing=0.1
                ),
                (X1,),
            ),
            Row(
                f"cross_entropy-{r}-probabilities",
                lambda F, T, x, p, r=r: F.cross_entropy(x, p, reduction=r),
                (X, P),
            ),
            Row(
                f"cross_entropy-{r}-probabilities-weight-smoothing",
                lambda F, T, x, p, r=r: F.cross_entropy(
                    x, p, T(W), reduction=r, label_smoothing=0.2
                ),
                (X, P),
            ),
            Row(
                f"cross_entropy-{r}-probabilities-(N,C,d)",
                lambda F, T, x, p, r=r: F.cross_entropy(x, p, reduction=r),
                (X3, P3),
            ),
            Row(
                f"nll_loss-{r}",
                lambda F, T, x, r=r: F.nll_loss(x, T(Y), reduction=r),
                (X,),
            ),
            Row(
                f"nll_loss-{r}-weight-ignored",
                lambda F, T, x, r=r: F.nll_loss(x, T(Y_IGNORED), T(W), reduction=r),
                (X,),
            ),
            Row(
                f"nll_loss-{r}-(N,C,d)",
                lambda F, T, x, r=r: F.nll_loss(x, T(Y3), T(W), reduction=r),
                (X3,),
            ),
            Row(
                f"nll_loss-{r}-(C,)",
                lambda F, T, x, r=r: F.nll_loss(x, T(np.array(2)), reduction=r),
                (X1,),
            ),
            Row(
                f"multi_margin_loss-{r}",
                lambda F, T, x, r=r: F.multi_margin_loss(x, T(Y), reduction=r),
                (X,),
            ),
            Row(
                f"multi_margin_loss-{r}-p=2-margin-weight",
                lambda F, T, x, r=r: F.multi_margin_loss(x, T(Y), 2, 0.7, T(W), reduction=r),
                (X,),
            ),
            Row(
                f"multi_margin_loss-{r}-(C,)",
                lambda F, T, x, r=r: F.multi_margin_loss(x, T(np.array(0)), reduction=r),
                (X1,),
            ),
            Row(f"mse_loss-{r}", lambda F, T, x, t, r=r: F.mse_loss(x, t, reduction=r), (X, T01)),
            Row(f"l1_loss-{r}", lambda F, T, x, t, r=r: F.l1_loss(x, t, reduction=r), (X, T01)),
            Row(
                f"binary_cross_entropy-{r}",
                lambda F, T, x, t, r=r: F.binary_cross_entropy(x, t, reduction=r),
                (PROBS, T01),
            ),
            Row(
                f"binary_cross_entropy-{r}-weight",
                lambda F, T, x, t, r=r: F.binary_cross_entropy(x, t, T(W), reduction=r),
                (PROBS, T01),
            ),
            Row(
                f"binary_cross_entropy_with_logits-{r}",
                lambda F, T, x, t, r=r: F.binary_cross_entropy_with_logits(x, t, reduction=r),
                (X, T01),
            ),
            Row(
                f"binary_cross_entropy_with_logits-{r}-weight-pos_weight",
                lambda F, T, x, t, r=r: F.binary_cross_entropy_with_logits(
                    x,
                    t,
                    T(np.linspace(0.5, 2.0, N)[:, None]),
                    reduction=r,
                    pos_weight=T(W[::-1] * 2),
                ),
                (X, T01),
            ),
        ]
    for r in REDUCTIONS + ("batchmean",):
        rows += [
            Row(f"kl_div-{r}", lambda F, T, q, p, r=r: F.kl_div(q, p, reduction=r), (LOGQ, P)),
            Row(
                f"kl_div-{r}-log_target",
                lambda F, T, q, p, r=r: F.kl_div(q, p, reduction=r, log_target=True),
                (LOGQ, np.log(P)),
            ),
        ]
    return rows


ROWS = _rows()


def _leaves(row: Row) -> list[cr.Tensor]:
    return [cr.tensor(a.copy(), requires_grad=True) for a in row.arrays]


def _cr_call(row: Row, *xs: cr.Tensor) -> cr.Tensor:
    return row.call(F, cr.tensor, *xs)


# ----- finite differences -----
@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_gradcheck(row):
    assert gradcheck(lambda *xs: _cr_call(row, *xs), tuple(_leaves(row)))


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_gradgradcheck(row):
    assert gradgradcheck(lambda *xs: _cr_call(row, *xs), tuple(_leaves(row)))


def test_entropy_gradcheck():
    p = cr.tensor(P.copy(), requires_grad=True)
    assert gradcheck(lambda p: F.entropy(p), (p,))
    assert gradgradcheck(lambda p: F.entropy(p, dim=0), (p,))


# ----- against PyTorch -----
@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_matches_pytorch(row):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    ours = _leaves(row)
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in row.arrays]
    with warnings.catch_warnings():  # PyTorch warns that kl_div's "mean" is not "batchmean"
        warnings.simplefilter("ignore", UserWarning)
        loss_t = row.call(TF, torch.tensor, *theirs)
    loss = _cr_call(row, *ours)
    assert loss.shape == tuple(loss_t.shape)
    np.testing.assert_allclose(loss.detach().numpy(), loss_t.detach().numpy(), rtol=1e-10)
    v = RNG.standard_normal(loss.shape)  # a non-uniform upstream gradient for "none"
    loss.backward(cr.tensor(v))
    loss_t.backward(torch.tensor(v))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_float32_keeps_its_dtype():
    x = cr.tensor(X.astype(np.float32), requires_grad=True)
    for loss in (
        F.cross_entropy(x, cr.tensor(Y), cr.tensor(W), label_smoothing=0.1),
        F.nll_loss(x, cr.tensor(Y_IGNORED), cr.tensor(W)),
        F.binary_cross_entropy_with_logits(
            x, cr.tensor(T01.astype(np.float32)), pos_weight=cr.tensor(W)
        ),
    ):
        loss.backward()
        assert loss.dtype == np.float32 and x.grad.dtype == np.float32


# ----- worked example 6 -----
def test_lecture_example_6():
    scores = cr.tensor([[3.2, 5.1, -1.7]], dtype=cr.float64, requires_grad=True)  # cat car frog
    loss = F.cross_entropy(scores, cr.tensor([0]))  # true class: cat
    q = cr.softmax(scores, -1).detach().numpy()[0]
    assert abs(loss.item() - 2.0404) < 1e-4
    assert abs(loss.item() + math.log(q[0])) < 1e-12  # L = -log Q(cat)
    np.testing.assert_allclose(q, [0.130, 0.869, 0.001], atol=5e-4)
    np.testing.assert_allclose(np.exp([3.2, 5.1, -1.7]), [24.53, 164.02, 0.18], atol=5e-3)
    loss.backward()
    np.testing.assert_allclose(scores.grad.numpy()[0], q - [1, 0, 0], rtol=1e-12)  # Q - onehot
    assert abs(nn.CrossEntropyLoss()(scores, cr.tensor([0])).item() - 2.0404) < 1e-4


def test_cross_entropy_is_entropy_plus_kl():
    s = cr.tensor(X)
    q = cr.softmax(s, -1)
    h_pq = F.cross_entropy(s, cr.tensor(P), reduction="none")  # H(P, Q) per sample
    h_p = F.entropy(cr.tensor(P))
    kl = F.kl_div(cr.log_softmax(s, -1), cr.tensor(P), reduction="none").sum(-1)
    np.testing.assert_allclose(h_pq.numpy(), (h_p + kl).numpy(), rtol=1e-12)
    # the same from the definitions, -sum P log Q and sum P log(P / Q)
    np.testing.assert_allclose(h_pq.numpy(), -(P * np.log(q.numpy())).sum(-1), rtol=1e-12)
    assert (kl.numpy() > 0).all()
    # a one-hot P: H(P) = 0 (0 log 0 = 0), and H(P, Q) = KL(P || Q) = -log Q(y)
    onehot = np.eye(C)[Y]
    assert np.array_equal(F.entropy(cr.tensor(onehot)).numpy(), np.zeros(N))
    h_soft = F.cross_entropy(s, cr.tensor(onehot), reduction="none").numpy()
    h_index = F.cross_entropy(s, cr.tensor(Y), reduction="none").numpy()
    kl1 = F.kl_div(cr.log_softmax(s, -1), cr.tensor(onehot), reduction="none").sum(-1).numpy()
    minus_log_q = -np.log(q.numpy()[np.arange(N), Y])
    for h in (h_soft, h_index, kl1):
        np.testing.assert_allclose(h, minus_log_q, rtol=1e-12)
    # KL per sample is the "batchmean" reduction; "mean" divides by every element
    kl_b = F.kl_div(cr.log_softmax(s, -1), cr.tensor(P), reduction="batchmean").item()
    kl_m = F.kl_div(cr.log_softmax(s, -1), cr.tensor(P), reduction="mean").item()
    assert kl_b == pytest.approx(kl.numpy().mean(), rel=1e-12)
    assert kl_m == pytest.approx(kl_b / C, rel=1e-12)


def test_entropy_values():
    assert F.entropy(cr.full((5,), 0.2, dtype=cr.float64)).item() == pytest.approx(math.log(5))
    assert F.entropy(cr.tensor([0.5, 0.5, 0.0])).item() == pytest.approx(math.log(2), rel=1e-6)
    e = F.entropy(cr.tensor(P.T.copy()), dim=0)
    np.testing.assert_allclose(e.numpy(), -(P * np.log(P)).sum(1), rtol=1e-12)


# ----- stability -----
BIG = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, 1e4], [1e4, 1e4, 0.0], [-1e4, 0.0, 0.0]])
Y_BIG = np.array([2, 0, 1, 0])


def _reference_cross_entropy(x: np.ndarray, y: np.ndarray, eps: float) -> tuple:
    """float64 per-sample loss and gradient of the summed loss, from the shifted log-sum-exp."""
    m = x.max(1, keepdims=True)
    logq = x - m - np.log(np.exp(x - m).sum(1, keepdims=True))
    target = (1 - eps) * np.eye(x.shape[1])[y] + eps / x.shape[1]
    return -(target * logq).sum(1), np.exp(logq) - target


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_stable_for_scores_of_1e4(dtype, eps):
    ref_loss, ref_grad = _reference_cross_entropy(BIG, Y_BIG, eps)
    assert ref_loss.max() > 1e4  # the true class 2e4 below the best: a large, finite loss
    x = cr.tensor(BIG.astype(dtype), requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor(Y_BIG), reduction="sum", label_smoothing=eps)
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert loss.item() == pytest.approx(ref_loss.sum(), rel=rtol)
    np.testing.assert_allclose(x.grad.numpy(), ref_grad, rtol=rtol, atol=rtol)
    soft = F.cross_entropy(
        cr.tensor(BIG.astype(dtype)), cr.tensor(np.eye(C)[Y_BIG].astype(dtype)), reduction="none"
    )
    assert np.isfinite(soft.numpy()).all()


def test_binary_cross_entropy_with_logits_stable_for_1e4():
    x = cr.tensor([1e4, 1e4, -1e4, -1e4], dtype=cr.float64, requires_grad=True)
    t = cr.tensor([1.0, 0.0, 1.0, 0.0], dtype=cr.float64)
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_array_equal(loss.detach().numpy(), [0.0, 1e4, 1e4, 0.0])
    loss.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, -1.0, 0.0])  # sigmoid(x) - t
    pw = cr.tensor([3.0, 3.0, 3.0, 3.0], dtype=cr.float64)
    lp = F.binary_cross_entropy_with_logits(x.detach(), t, reduction="none", pos_weight=pw)
    np.testing.assert_array_equal(lp.numpy(), [0.0, 1e4, 3e4, 0.0])


def test_binary_cross_entropy_clamps_log_at_minus_100():
    x = cr.tensor([0.0, 1.0, 0.0, 1.0], dtype=cr.float64, requires_grad=True)
    t = cr.tensor([1.0, 0.0, 0.0, 1.0], dtype=cr.float64)
    loss = F.binary_cross_entropy(x, t, reduction="none")
    np.testing.assert_array_equal(loss.detach().numpy(), [100.0, 100.0, 0.0, 0.0])
    loss.sum().backward()
    # (x - t) / max(x (1 - x), eps), eps = 1e-12 in float32 as PyTorch stores it
    np.testing.assert_allclose(x.grad.numpy(), [-1e12, 1e12, 0.0, 0.0], rtol=1e-8)
    torch = pytest.importorskip("torch")
    xt = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64, requires_grad=True)
    lt = torch.nn.functional.binary_cross_entropy(xt, torch.tensor(t.numpy()), reduction="none")
    lt.sum().backward()
    np.testing.assert_array_equal(loss.detach().numpy(), lt.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def test_all_targets_ignored():
    x = cr.tensor(X, requires_grad=True)
    y = cr.tensor([-100] * N)
    assert math.isnan(F.cross_entropy(x, y).item())  # 0 / 0, as in PyTorch
    loss = F.cross_entropy(x, y, reduction="sum")
    assert loss.item() == 0.0
    F.cross_entropy(x, y).backward()
    assert np.array_equal(x.grad.numpy(), np.zeros((N, C)))


# ----- the common case: no weights, nothing ignored -----
# Then nn.losses finds every target a class in one comparison and passes ignore_index=None, and
# the ops build no masks (valid and wy are None). These tests hold that path to the general one.
def _loss_and_grad(fn: Callable, x: np.ndarray, y: np.ndarray, v: Any, **kw) -> tuple:
    """The loss and the input's gradient for the upstream gradient v (1.5 for a scalar loss)."""
    xt = cr.tensor(x, requires_grad=True)
    loss = fn(xt, cr.tensor(y), **kw)
    loss.backward(cr.tensor(v if loss.ndim else 1.5))
    return loss.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "fn, kw",
    [(F.cross_entropy, {}), (F.cross_entropy, {"label_smoothing": 0.2}), (F.nll_loss, {})],
    ids=["cross_entropy", "cross_entropy-smoothing", "nll_loss"],
)
def test_unmasked_path_matches_masked_path(fn, kw, reduction):
    v = np.linspace(0.5, 1.5, N)
    loss, grad = _loss_and_grad(fn, X, Y, v, reduction=reduction, **kw)
    # the same samples and one more, ignored: the masks are built, and the loss is the same
    x_more = np.concatenate([X, RNG.standard_normal((1, C))])
    y_more, v_more = np.append(Y, -100), np.append(v, 2.0)
    loss_m, grad_m = _loss_and_grad(fn, x_more, y_more, v_more, reduction=reduction, **kw)
    if reduction == "none":
        assert loss_m[-1] == 0.0
        loss_m = loss_m[:-1]
    np.testing.assert_allclose(loss, loss_m, rtol=1e-14)
    np.testing.assert_allclose(grad, grad_m[:-1], rtol=1e-14, atol=1e-16)
    assert not grad_m[-1].any()
    # class weights of 1: wy is built, with nothing ignored
    ones = cr.tensor(np.ones(C))
    loss_w, grad_w = _loss_and_grad(fn, X, Y, v, weight=ones, reduction=reduction, **kw)
    np.testing.assert_allclose(loss, loss_w, rtol=1e-14)
    np.testing.assert_allclose(grad, grad_w, rtol=1e-14, atol=1e-16)


def test_target_fast_check():
    from chainrule.ops.losses import check_targets

    x = cr.tensor(X)
    assert check_targets(Y, C, -100, "cross_entropy")  # every target a class: nothing to mask
    assert not check_targets(Y_IGNORED, C, -100, "cross_entropy")  # ignore_index occurs
    assert check_targets(Y[:0], C, None, "nll_loss")  # no target at all
    for y in (Y.astype(np.uint8), Y.astype(">i4"), np.repeat(Y, 2)[::2]):  # dtypes, a view
        assert check_targets(y, C, -100, "cross_entropy")
        assert F.cross_entropy(x, cr.tensor(y)).item() == F.cross_entropy(x, cr.tensor(Y)).item()
    # whatever fails the fast check gets the full one, with its message
    for y, found, ignored in [
        ([0, 1, 3, 2], 3, ""),
        ([0, -1, 1, 2], -1, ""),
        ([0, -100, 7, 1], 7, " or ignore_index=-100"),
        ([0, 2**40, 1, 1], 2**40, ""),
    ]:
        _raises(
            IndexError,
            lambda y=y: F.cross_entropy(x, cr.tensor(y)),
            f"target {found} is out of range: expected class indices in [0, 2]{ignored}",
            "found 1 value(s)",
        )
    _raises(IndexError, lambda: F.cross_entropy(x, cr.tensor(np.uint8([0, 1, 200, 1]))), "200")
    big_endian = np.array([0, 2**24, 2**25, 2**24], ">i4")  # byte-swapped: 0, 1, 2, 1
    _raises(IndexError, lambda: F.cross_entropy(x, cr.tensor(big_endian)), "target 16777216 is")


def test_empty_batch_matches_pytorch():
    torch = pytest.importorskip("torch")
    x, y = np.zeros((0, C)), np.zeros(0, dtype=np.int64)
    for reduction in REDUCTIONS:
        ours = F.cross_entropy(cr.tensor(x), cr.tensor(y), reduction=reduction).numpy()
        theirs = torch.nn.functional.cross_entropy(
            torch.tensor(x), torch.tensor(y), reduction=reduction
        ).numpy()
        np.testing.assert_array_equal(ours, theirs)  # "mean": NaN (0 / 0), as in PyTorch


# ----- modules -----
MODULES = [
    (
        nn.CrossEntropyLoss(),
        lambda x, y: F.cross_entropy(x, y),
        "reduction='mean', ignore_index=-100, label_smoothing=0.0",
    ),
    (
        nn.CrossEntropyLoss(cr.tensor(W), ignore_index=2, reduction="sum", label_smoothing=0.1),
        lambda x, y: F.cross_entropy(
            x, y, cr.tensor(W), ignore_index=2, reduction="sum", label_smoothing=0.1
        ),
        "reduction='sum', ignore_index=2, label_smoothing=0.1",
    ),
    (
        nn.NLLLoss(cr.tensor(W), reduction="none"),
        lambda x, y: F.nll_loss(x, y, cr.tensor(W), reduction="none"),
        "reduction='none', ignore_index=-100",
    ),
    (
        nn.MultiMarginLoss(p=2, margin=0.5, weight=cr.tensor(W)),
        lambda x, y: F.multi_margin_loss(x, y, 2, 0.5, cr.tensor(W)),
        "p=2, margin=0.5, reduction='mean'",
    ),
]


@pytest.mark.parametrize("module, fn, extra", MODULES, ids=lambda m: type(m).__name__)
def test_index_modules(module, fn, extra):
    x, y = cr.tensor(X), cr.tensor(Y)
    assert np.array_equal(module(x, y).numpy(), fn(x, y).numpy())
    assert isinstance(module, Module)
    assert module.extra_repr() == extra
    assert repr(module) == f"{type(module).__name__}({extra})"
    if module.weight is not None:  # a buffer, as in PyTorch: saved, not trained
        assert "weight" in module.state_dict() and not list(module.parameters())


def test_elementwise_modules():
    x, t = cr.tensor(PROBS), cr.tensor(T01)
    pairs = [
        (nn.MSELoss(reduction="sum"), F.mse_loss(x, t, reduction="sum")),
        (nn.L1Loss(), F.l1_loss(x, t)),
        (nn.BCELoss(weight=cr.tensor(W)), F.binary_cross_entropy(x, t, cr.tensor(W))),
        (
            nn.BCEWithLogitsLoss(pos_weight=cr.tensor(W), reduction="none"),
            F.binary_cross_entropy_with_logits(x, t, reduction="none", pos_weight=cr.tensor(W)),
        ),
        (nn.KLDivLoss(reduction="batchmean"), F.kl_div(x, t, reduction="batchmean")),
        (
            nn.KLDivLoss(log_target=True),
            F.kl_div(x, cr.log(t), log_target=True),
        ),
    ]
    for module, expected in pairs:
        target = cr.log(t) if getattr(module, "log_target", False) else t
        assert np.array_equal(module(x, target).numpy(), expected.numpy()), module
    assert repr(nn.MSELoss()) == "MSELoss(reduction='mean')"
    assert repr(nn.KLDivLoss(log_target=True)) == "KLDivLoss(reduction='mean', log_target=True)"
    assert "pos_weight" in nn.BCEWithLogitsLoss(pos_weight=cr.tensor(W)).state_dict()


def test_modules_match_pytorch_constructors():
    torch = pytest.importorskip("torch")
    x, y, w = X.copy(), Y.copy(), W.copy()
    pairs = [
        (
            nn.CrossEntropyLoss(cr.tensor(w), label_smoothing=0.2),
            torch.nn.CrossEntropyLoss(torch.tensor(w), label_smoothing=0.2),
        ),
        (nn.NLLLoss(cr.tensor(w), None, 1), torch.nn.NLLLoss(torch.tensor(w), None, 1)),
        (nn.MultiMarginLoss(2, 0.5), torch.nn.MultiMarginLoss(2, 0.5)),
    ]
    for ours, theirs in pairs:
        a = ours(cr.tensor(x), cr.tensor(y)).item()
        b = theirs(torch.tensor(x), torch.tensor(y)).item()
        assert a == pytest.approx(b, rel=1e-12), type(ours).__name__


def test_legacy_size_average_and_reduce():
    with pytest.warns(FutureWarning, match="reduction='sum'"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(FutureWarning, match="reduction='none'"):
        assert nn.CrossEntropyLoss(reduce=False).reduction == "none"
    with pytest.raises(ValueError, match="'batchmean'.*got 'avg'"):
        nn.KLDivLoss(reduction="avg")


# ----- errors -----
def _raises(exc: type, fn: Callable[[], Any], *fragments: str) -> None:
    """fn raises exc, and the message names every fragment (what was expected, what was found)."""
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss, F.multi_margin_loss])
def test_target_errors(fn):
    x = cr.tensor(X)
    name = fn.__name__
    _raises(IndexError, lambda: fn(x, cr.tensor([0, 1, 5, 2])), name, "[0, 2]", "5")
    _raises(IndexError, lambda: fn(x, cr.tensor([0, -1, 1, 2])), "[0, 2]", "-1")
    _raises(TypeError, lambda: fn(x, cr.tensor([0.0, 1.0, 2.0, 1.0])), "integer", "float", "(4,)")
    _raises(ValueError, lambda: fn(x, cr.tensor([0, 1, 2])), "(4,)", "(3,)")  # wrong length
    _raises(ValueError, lambda: fn(x, cr.tensor([[0], [1], [2], [1]])), "(4,)", "(4, 1)")
    _raises(ValueError, lambda: fn(x, cr.tensor(Y), weight=cr.tensor([1.0, 2.0])), "(3,)", "(2,)")
    _raises(ValueError, lambda: fn(x, cr.tensor(Y), reduction="avg"), "'mean'", "'avg'")


def test_cross_entropy_specific_errors():
    x = cr.tensor(X)
    _raises(TypeError, lambda: F.cross_entropy(x, cr.tensor(Y * 1.0)), "probabilities", "(4, 3)")
    _raises(ValueError, lambda: F.cross_entropy(cr.tensor(1.0), cr.tensor(0)), "(N, C)", "0-d")
    _raises(ValueError, lambda: F.cross_entropy(x, cr.tensor(Y), label_smoothing=1.5), "1.5")
    _raises(ValueError, lambda: F.cross_entropy(cr.tensor(X1), cr.tensor([1])), "()", "(1,)")
    w = cr.tensor(W, requires_grad=True)
    _raises(RuntimeError, lambda: F.cross_entropy(x, cr.tensor(Y), w), "weight", "detach")
    # ignore_index may lie outside [0, C): it is not an error
    assert np.isfinite(F.cross_entropy(x, cr.tensor([0, -100, 1, 2])).item())
    _raises(TypeError, lambda: F.cross_entropy(cr.tensor(Y), cr.tensor(Y)), "floating", "int64")


def test_other_errors():
    x = cr.tensor(PROBS)
    _raises(ValueError, lambda: F.multi_margin_loss(x, cr.tensor(Y), p=3), "p = 1 or 2", "3")
    _raises(ValueError, lambda: F.multi_margin_loss(cr.tensor(X3), cr.tensor(Y3)), "(2, 3, 2)")
    _raises(ValueError, lambda: F.binary_cross_entropy(cr.tensor(X), x), "[0, 1]", "input")
    _raises(ValueError, lambda: F.binary_cross_entropy(x, cr.tensor(X)), "[0, 1]", "target")
    _raises(ValueError, lambda: F.binary_cross_entropy(x, x[:2]), "(4, 3)", "(2, 3)")
    _raises(TypeError, lambda: F.binary_cross_entropy(x, cr.tensor(Y)), "floating", "int64")
    _raises(
        ValueError,
        lambda: F.binary_cross_entropy_with_logits(x, x, pos_weight=cr.tensor([1.0, 2.0])),
        "pos_weight",
        "(4, 3)",
        "(2,)",
    )
    _raises(ValueError, lambda: F.kl_div(x, x, reduction="avg"), "'batchmean'", "'avg'")
    with pytest.warns(UserWarning, match=r"\(4, 1\).*\(4, 3\)"):
        F.mse_loss(x, x[:, :1])
