"""Random loss calls against PyTorch: every loss, random shapes and options, values and gradients.

Each case draws a loss, an input shape ((C,), (N, C) or (N, C, d1, ...) for the class losses,
any shape for the elementwise ones, with N, C or a d of 1 now and then), its reduction and its
options (class weights, ``ignore_index`` hit by some targets or by all of them, label
smoothing, probability targets, ``p`` and ``margin``, ``pos_weight``, ``log_target``), and
compares the loss and the input's gradient (for a random upstream gradient) with PyTorch's in
float64.

``CHAINRULE_LOSS_CASES`` sets how many cases run (``CHAINRULE_PROGRAM_SEED`` their seed).
"""

import os

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = int(os.environ.get("CHAINRULE_LOSS_CASES", "200"))
SEED = int(os.environ.get("CHAINRULE_PROGRAM_SEED", "0"))
LOSSES = [
    "cross_entropy",
    "nll_loss",
    "multi_margin_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "mse_loss",
    "l1_loss",
    "kl_div",
]


def _size(rng: np.random.Generator) -> int:
    return 1 if rng.random() < 0.15 else int(rng.integers(2, 5))


def _plan(rng: np.random.Generator) -> dict:
    """The loss, its input (and second input, for the elementwise ones) and options."""
    name = str(rng.choice(LOSSES))
    reductions = ["mean", "sum", "none"] + (["batchmean"] if name == "kl_div" else [])
    kw: dict = {"reduction": str(rng.choice(reductions))}
    arrays: dict = {}
    if name in ("cross_entropy", "nll_loss", "multi_margin_loss"):
        c = _size(rng)
        if name == "multi_margin_loss":
            shape = (c,) if rng.random() < 0.2 else (_size(rng), c)
        else:
            extra = tuple(_size(rng) for _ in range(int(rng.integers(0, 3))))
            shape = (c,) if rng.random() < 0.15 else (_size(rng), c, *extra)
        ax = 0 if len(shape) == 1 else 1  # the class axis
        target_shape = shape[:ax] + shape[ax + 1 :]
        x = rng.standard_normal(shape) * 2
        if name == "nll_loss":  # log-probabilities
            x = x - np.log(np.exp(x).sum(axis=ax, keepdims=True))
        arrays["input"] = x
        y = rng.integers(0, c, target_shape)
        if name != "multi_margin_loss" and rng.random() < 0.4:
            ignore = int(rng.choice([-100, 0, c - 1]))
            if ignore != -100 or rng.random() < 0.5:
                kw["ignore_index"] = ignore
            mask = rng.random(target_shape) < (1.0 if rng.random() < 0.1 else 0.3)
            y = np.where(mask, ignore, y)
        arrays["target"] = y
        if rng.random() < 0.4:
            kw["weight"] = rng.uniform(0.2, 2.0, c)
        if name == "cross_entropy" and rng.random() < 0.4:
            kw["label_smoothing"] = float(rng.uniform(0, 0.5))
        if name == "cross_entropy" and rng.random() < 0.2:  # probabilities instead of classes
            p = rng.random(shape)
            arrays["target"] = p / p.sum(axis=ax, keepdims=True)
            kw.pop("ignore_index", None)
        if name == "multi_margin_loss":
            kw["p"] = int(rng.choice([1, 2]))
            kw["margin"] = float(rng.uniform(0.2, 2.0))
    else:
        shape = tuple(_size(rng) for _ in range(int(rng.integers(0, 4))))
        x = rng.standard_normal(shape)
        t = rng.random(shape)
        if name == "binary_cross_entropy":
            x = rng.uniform(0.02, 0.98, shape)
            t = rng.random(shape) if rng.random() < 0.5 else (rng.random(shape) < 0.5) * 1.0
        if name == "kl_div":
            x = np.log(rng.uniform(0.05, 1.0, shape))
            if rng.random() < 0.5:
                kw["log_target"] = True
                t = np.log(rng.uniform(0.05, 1.0, shape))
        arrays["input"], arrays["target"] = x, t
        if name.startswith("binary") and rng.random() < 0.4:
            kw["weight"] = rng.uniform(
                0.2, 2.0, shape[-1:] if shape and rng.random() < 0.5 else shape
            )
        if name == "binary_cross_entropy_with_logits" and shape and rng.random() < 0.4:
            kw["pos_weight"] = rng.uniform(0.2, 3.0, shape[-1:])
    return {"name": name, "kw": kw, **arrays}


def _call(lib, fn, plan: dict):
    as_tensor = cr.tensor if lib is cr else torch.tensor
    x = as_tensor(plan["input"].copy(), requires_grad=True)
    kw = {k: as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in plan["kw"].items()}
    return x, fn(x, as_tensor(plan["target"].copy()), **kw)


@pytest.mark.parametrize("case", range(CASES))
def test_random_losses_match_pytorch(case):
    rng = np.random.default_rng([SEED, case])
    plan = _plan(rng)
    what = f"{plan['name']} {plan['kw']} on {plan['input'].shape}"
    xo, lo = _call(cr, getattr(F, plan["name"]), plan)
    xt, lt = _call(torch, getattr(TF, plan["name"]), plan)
    np.testing.assert_allclose(lo.detach().numpy(), lt.detach().numpy(), 1e-10, 1e-12, err_msg=what)
    if lt.numel() == 0:
        return
    g = rng.standard_normal(tuple(lt.shape))
    lo.backward(cr.tensor(g))
    lt.backward(torch.tensor(g))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), 1e-9, 1e-12, err_msg=what)


def test_the_cases_reach_every_loss_and_option():
    seen: set = set()
    for case in range(CASES):
        plan = _plan(np.random.default_rng([SEED, case]))
        seen.add(plan["name"])
        seen |= {f"{plan['name']}.{k}" for k in plan["kw"]}
        seen.add(f"ndim={plan['input'].ndim}")
    assert set(LOSSES) <= seen
    for option in (
        "cross_entropy.label_smoothing",
        "cross_entropy.ignore_index",
        "nll_loss.weight",
    ):
        assert option in seen
    assert {
        "binary_cross_entropy_with_logits.pos_weight",
        "kl_div.log_target",
        "ndim=0",
        "ndim=4",
    } <= seen
