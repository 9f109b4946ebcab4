"""Random optimizer runs against PyTorch: every optimizer, random hyperparameters and groups.

Each case draws an optimizer and its options, splits a few parameters of random shapes (0-d
included) into parameter groups with their own learning rate and weight decay, and runs both
libraries through the same steps: random gradients, some parameters without a gradient at some
steps (``step`` skips them and leaves their state alone), a learning rate changed between steps,
a group added half way, and chainrule's optimizer rebuilt from its ``state_dict`` now and then
(a resumed run must go on as the uninterrupted one). After every step the parameters, and at the
end the optimizers' state, must equal PyTorch's.

``CHAINRULE_OPTIMIZER_CASES`` sets how many cases run (``CHAINRULE_PROGRAM_SEED`` their seed).
"""

import os

import numpy as np
import pytest
from _random_options import NAMES, options

import chainrule as cr
import chainrule.optim as optim

torch = pytest.importorskip("torch")

CASES = int(os.environ.get("CHAINRULE_OPTIMIZER_CASES", "120"))
SEED = int(os.environ.get("CHAINRULE_PROGRAM_SEED", "0"))
SHAPES = [(), (3,), (2, 3), (4, 1, 2)]
STEPS = 7


def _groups(rng: np.random.Generator, n: int) -> list[dict]:
    """Parameter indices split into one to three groups, some with their own lr/weight decay."""
    order = rng.permutation(n).tolist()
    cuts = sorted(
        rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(0, 3))), replace=False)
    )
    groups = []
    for part in np.split(np.array(order), cuts):
        group: dict = {"params": [int(i) for i in part]}
        if rng.random() < 0.4:
            group["lr"] = float(rng.uniform(0.001, 0.3))
        if rng.random() < 0.3:
            group["weight_decay"] = float(rng.uniform(0.0, 0.2))
        groups.append(group)
    return groups


def _with(params: list, groups: list[dict]) -> list[dict]:
    return [{**g, "params": [params[i] for i in g["params"]]} for g in groups]


def _gradient(rng: np.random.Generator, v: np.ndarray) -> np.ndarray | None:
    """No gradient (step skips the parameter), an exact zero, or a random one of varied size."""
    r = rng.random()
    if r < 0.2:
        return None
    if r < 0.25:
        return np.zeros_like(v)
    return (rng.standard_normal(v.shape) * 10 ** rng.uniform(-3, 1)).astype(v.dtype)


def _plan(rng: np.random.Generator) -> dict:
    name = str(rng.choice(NAMES))
    n = int(rng.integers(2, 6))
    dtype = np.float64 if rng.random() < 0.75 else np.float32
    values = [
        rng.standard_normal(SHAPES[int(rng.integers(len(SHAPES)))]).astype(dtype) for _ in range(n)
    ]
    extra = [rng.standard_normal(SHAPES[int(rng.integers(len(SHAPES)))]).astype(dtype)]
    steps = []
    for t in range(STEPS):
        grads = []
        for v in values + (extra if t >= STEPS // 2 else []):
            grads.append(_gradient(rng, v))
        steps.append(
            {
                "grads": grads,
                "lr": float(rng.uniform(0.001, 0.3)) if rng.random() < 0.25 else None,
                "resume": bool(rng.random() < 0.25),
            }
        )
    return {
        "name": name,
        "options": options(rng, name),
        "groups": _groups(rng, n),
        "values": values,
        "extra": extra,
        "extra_lr": float(rng.uniform(0.001, 0.3)),
        "steps": steps,
        "dtype": dtype,
    }


def _run(lib, plan: dict) -> tuple[list[list[np.ndarray]], dict]:
    """The plan's steps with chainrule's optimizer (``lib`` cr, rebuilt from its state dict
    where the plan says so) or PyTorch's: the parameters after each step, the last state."""
    make = cr.tensor if lib is cr else torch.tensor
    cls = getattr(optim if lib is cr else torch.optim, plan["name"])
    params = [make(v.copy(), requires_grad=True) for v in plan["values"] + plan["extra"]]
    n = len(plan["values"])
    groups = _with(params, plan["groups"])
    opt = cls(groups, **plan["options"])
    extra_group = {"params": [params[n]], "lr": plan["extra_lr"]}
    history = []
    for t, step in enumerate(plan["steps"]):
        if t == STEPS // 2:
            opt.add_param_group(dict(extra_group))
        for p, g in zip(params, step["grads"]):
            p.grad = None if g is None else make(g.copy())
        if step["lr"] is not None:
            opt.param_groups[0]["lr"] = step["lr"]
        opt.step()
        history.append([p.detach().numpy().copy() for p in params[: len(step["grads"])]])
        if lib is cr and step["resume"]:  # a fresh optimizer, same groups, from the state dict
            state = opt.state_dict()
            opt = cls(groups, **plan["options"])
            if t >= STEPS // 2:
                opt.add_param_group(dict(extra_group))
            opt.load_state_dict(state)
    return history, opt.state_dict()


def _tolerance(dtype: type) -> dict:
    return {"rtol": 1e-10, "atol": 1e-12} if dtype == np.float64 else {"rtol": 2e-5, "atol": 1e-6}


@pytest.mark.parametrize("case", range(CASES))
def test_random_optimizer_runs_match_pytorch(case):
    plan = _plan(np.random.default_rng([SEED, case]))
    ours, our_state = _run(cr, plan)
    theirs, their_state = _run(torch, plan)
    what = f"{plan['name']}({plan['options']}), groups {plan['groups']}, {np.dtype(plan['dtype'])}"
    for t, (a, b) in enumerate(zip(ours, theirs)):
        for i, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(
                x,
                y,
                **_tolerance(plan["dtype"]),
                err_msg=f"{what}: parameter {i} after step {t + 1}",
            )
    assert sorted(our_state["state"]) == sorted(their_state["state"]), what
    for k, entries in their_state["state"].items():
        assert sorted(our_state["state"][k]) == sorted(entries), f"{what}: state {k}"
        for name, value in entries.items():
            expected = value.numpy() if torch.is_tensor(value) else value
            np.testing.assert_allclose(
                np.asarray(our_state["state"][k][name], dtype=np.float64),
                np.asarray(expected, dtype=np.float64),
                **_tolerance(plan["dtype"]),
                err_msg=f"{what}: state {k} {name}",
            )
    for ours_g, theirs_g in zip(our_state["param_groups"], their_state["param_groups"]):
        assert ours_g["params"] == theirs_g["params"], what
        assert ours_g["lr"] == theirs_g["lr"], what


def test_the_cases_cover_every_optimizer_and_the_options_that_change_the_update():
    """The premise: the cases reach each optimizer with each boolean option both ways, skipped
    parameters, resumes and groups of their own."""
    seen: set = set()
    for case in range(CASES):
        plan = _plan(np.random.default_rng([SEED, case]))
        name, kw = plan["name"], plan["options"]
        seen.add(name)
        for flag in ("maximize", "amsgrad", "centered", "nesterov", "decoupled_weight_decay"):
            if flag in kw:
                seen.add(f"{name}.{flag}={kw[flag]}")
        seen.add(f"groups={len(plan['groups'])}")
        if any(s["resume"] for s in plan["steps"]):
            seen.add("resume")
        if any(g is None for s in plan["steps"] for g in s["grads"]):
            seen.add("skipped")
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        assert name in seen
        assert f"{name}.maximize=True" in seen and f"{name}.maximize=False" in seen
    for flag in ("Adam.amsgrad", "AdamW.amsgrad", "RMSprop.centered"):
        assert f"{flag}=True" in seen and f"{flag}=False" in seen
    assert {
        "SGD.nesterov=True",
        "Adam.decoupled_weight_decay=True",
        "groups=1",
        "groups=3",
        "resume",
        "skipped",
    } <= seen
