"""Learning-rate schedulers: PyTorch's rates step by step, known values, validation, resuming."""

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.optim as optim
from chainrule.optim import lr_scheduler

LRS = (0.1, 0.03)  # two parameter groups with different rates


def make_opt():
    return optim.SGD(
        [
            {"params": [cr.zeros(2, requires_grad=True)]},
            {"params": [cr.zeros(3, requires_grad=True)], "lr": LRS[1]},
        ],
        lr=LRS[0],
        momentum=0.9,
    )


def make_torch_opt(torch):
    return torch.optim.SGD(
        [
            {"params": [torch.zeros(2, requires_grad=True)]},
            {"params": [torch.zeros(3, requires_grad=True)], "lr": LRS[1]},
        ],
        lr=LRS[0],
        momentum=0.9,
    )


def trace(opt, sched, steps, metrics=None):
    """The rates after creation and after each of ``steps`` epochs (optimizer step first)."""
    out = [sched.get_last_lr()]
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        out.append(sched.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == out[-1]
    return np.array(out, dtype=np.float64)


SCHEDULES = [
    ("StepLR", {"step_size": 3}),
    ("StepLR", {"step_size": 2, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "total_iters": 4}),
    ("LinearLR", {"start_factor": 0.01, "total_iters": 25}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 10}),
]


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES)
def test_schedule_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt = make_opt()
    ours = trace(opt, getattr(lr_scheduler, name)(opt, **kwargs), 30)
    topt = make_torch_opt(torch)
    theirs = trace(topt, getattr(torch.optim.lr_scheduler, name)(topt, **kwargs), 30)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert len(np.unique(ours[:, 0])) > 2  # the schedule did change the rate


def test_sequential_warmup_then_cosine_matches_torch():
    torch = pytest.importorskip("torch")

    def build(mod, opt):
        warmup = mod.LinearLR(opt, start_factor=0.1, total_iters=5)
        cosine = mod.CosineAnnealingLR(opt, T_max=15, eta_min=1e-4)
        decay = mod.ExponentialLR(opt, gamma=0.8)
        return mod.SequentialLR(opt, [warmup, cosine, decay], milestones=[5, 20])

    opt = make_opt()
    ours = trace(opt, build(lr_scheduler, opt), 30)
    topt = make_torch_opt(torch)
    theirs = trace(topt, build(torch.optim.lr_scheduler, topt), 30)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def _random_schedule(rng, mod, opt, depth=0, kinds=(0, 1, 2, 3, 4), floor=True):
    """One of the epoch-indexed schedules with random arguments (a SequentialLR of two or three
    of the others at the top level); ``floor``: a cosine may have an ``eta_min`` above 0."""
    kind = int(rng.choice(kinds if depth == 0 else [k for k in kinds if k != 4]))
    if kind == 0:
        return mod.StepLR(opt, int(rng.integers(1, 5)), float(rng.uniform(0.1, 0.9)))
    if kind == 1:
        return mod.ExponentialLR(opt, float(rng.uniform(0.7, 0.99)))
    if kind == 2:
        low = float(rng.uniform(0, 0.01)) if floor else 0.0
        return mod.CosineAnnealingLR(opt, int(rng.integers(1, 9)), low)
    if kind == 3:
        start, end = sorted(float(v) for v in rng.uniform(0.05, 1.0, size=2))
        if rng.random() < 0.5:
            start, end = end, start
        return mod.LinearLR(opt, start, end, int(rng.integers(1, 7)))
    parts = [
        _random_schedule(rng, mod, opt, 1, floor=floor) for _ in range(int(rng.integers(2, 4)))
    ]
    cuts = sorted(rng.choice(np.arange(1, 12), size=len(parts) - 1, replace=False).tolist())
    return mod.SequentialLR(opt, parts, milestones=cuts)


def _random_schedules(seed, mod, opt):
    """One schedule, or two stepped together (the same ones again for the same seed)."""
    rng = np.random.default_rng(seed)
    chained = bool(rng.random() < 0.5)
    # a cosine's rate below its eta_min (a factor chained on top of it, or a second cosine)
    # turns negative as it rises, in PyTorch too, and our optimizers refuse a negative lr
    first = _random_schedule(rng, mod, opt, floor=not chained)
    return [first, _random_schedule(rng, mod, opt, kinds=(0, 1, 3))] if chained else [first]


def _random_run(mod, opt, seed, steps=25):
    """Rates after each epoch: one or two schedules stepped on one optimizer (PyTorch chains
    them), the rate sometimes changed by hand, and, for chainrule, a resume from state dicts."""

    scheds = _random_schedules(seed, mod, opt)
    rng = np.random.default_rng(seed + 1000)
    hand = {int(e): float(rng.uniform(1.0, 2.0)) for e in rng.integers(0, steps, size=2)}
    resume_at = int(rng.integers(1, steps))
    out = [[g["lr"] for g in opt.param_groups]]
    for epoch in range(steps):
        opt.step()
        for s in scheds:
            s.step()
        if epoch in hand:
            for g in opt.param_groups:
                g["lr"] *= hand[epoch]
        out.append([g["lr"] for g in opt.param_groups])
        if mod is lr_scheduler and epoch == resume_at:  # a fresh optimizer and schedules
            saved = opt.state_dict(), [s.state_dict() for s in scheds]
            opt = make_opt()
            scheds = _random_schedules(seed, mod, opt)
            opt.load_state_dict(saved[0])
            for s, sd in zip(scheds, saved[1]):
                s.load_state_dict(sd)
    return np.array(out)


@pytest.mark.parametrize("seed", range(60))
def test_random_chained_schedules_match_torch(seed):
    """Schedules stepped together compose as PyTorch's do, a rate set by hand carries on, and
    a resumed run goes on as the uninterrupted one."""
    torch = pytest.importorskip("torch")
    ours = _random_run(lr_scheduler, make_opt(), seed)
    theirs = _random_run(torch.optim.lr_scheduler, make_torch_opt(torch), seed)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


PLATEAU_METRICS = [
    5.0, 4.0, 4.0, 3.9999, 4.1, 3.0, 3.0, 3.0, 3.0, 3.0, 2.9, 2.9, 2.95, 3.0,
    2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.999, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0,
]  # fmt: skip
PLATEAUS = [
    {},
    {"patience": 0},
    {"patience": 2},
    {"patience": 1, "factor": 0.5, "cooldown": 2},
    {"patience": 1, "threshold": 0.01},
    {"patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
    {"patience": 0, "min_lr": 0.02},
    {"patience": 0, "min_lr": [0.005, 0.01], "factor": 0.5},
    {"patience": 1, "cooldown": 1, "eps": 0.02},
    {"mode": "max"},
    {"mode": "max", "patience": 1, "factor": 0.5},
    {"mode": "max", "patience": 1, "threshold": 0.1, "threshold_mode": "abs", "cooldown": 1},
    {"mode": "max", "patience": 0, "threshold_mode": "rel", "min_lr": 0.01},
]


@pytest.mark.parametrize("kwargs", PLATEAUS)
@pytest.mark.parametrize("sign", [1, -1])
def test_reduce_on_plateau_matches_torch(kwargs, sign):
    torch = pytest.importorskip("torch")
    metrics = [sign * m for m in PLATEAU_METRICS]
    opt = make_opt()
    ours = trace(opt, lr_scheduler.ReduceLROnPlateau(opt, **kwargs), len(metrics), metrics)
    topt = make_torch_opt(torch)
    theirs = trace(
        topt, torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs), len(metrics), metrics
    )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-15)


def test_reduce_on_plateau_reduces_at_least_once():
    """The metric sequence exercises reductions in both modes (so the torch rows test them)."""
    for mode, sign in (("min", 1), ("max", -1)):
        opt = make_opt()
        sched = lr_scheduler.ReduceLROnPlateau(opt, mode=mode, patience=1)
        lrs = trace(opt, sched, len(PLATEAU_METRICS), [sign * m for m in PLATEAU_METRICS])
        assert lrs[-1, 0] < LRS[0] * 0.01


# ----- known values, without PyTorch -----


def rates(sched_cls, steps, **kwargs):
    opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    return trace(opt, sched_cls(opt, **kwargs), steps)[:, 0]


def test_known_values():
    np.testing.assert_allclose(
        rates(lr_scheduler.StepLR, 6, step_size=2), [1, 1, 0.1, 0.1, 0.01, 0.01, 0.001]
    )
    np.testing.assert_allclose(
        rates(lr_scheduler.ExponentialLR, 3, gamma=0.5), [1, 0.5, 0.25, 0.125]
    )
    cos = rates(lr_scheduler.CosineAnnealingLR, 8, T_max=4, eta_min=0.2)
    np.testing.assert_allclose(cos[[0, 2, 4, 6, 8]], [1, 0.6, 0.2, 0.6, 1.0], atol=1e-15)
    np.testing.assert_allclose(
        rates(lr_scheduler.LinearLR, 5, start_factor=0.2, total_iters=4), [0.2, 0.4, 0.6, 0.8, 1, 1]
    )


def test_reduce_on_plateau_known_values():
    opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=1, min_lr=0.2)
    got = trace(opt, sched, 9, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, cr.tensor(1.0)])[:, 0]
    # bad epochs: 1, 2 (> patience: halve), cooldown, 1, 2 (halve), cooldown, 1, 2 (min_lr)
    np.testing.assert_allclose(got, [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2])


def test_scheduler_sets_initial_lr_and_leaves_other_groups_alone():
    opt = make_opt()
    lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert [g["lr"] for g in opt.param_groups] == list(LRS)


def test_state_dict_resume_gives_the_same_rates():
    for make in [
        lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=6),
        lambda o: lr_scheduler.SequentialLR(
            o,
            [lr_scheduler.LinearLR(o, 0.1, total_iters=3), lr_scheduler.ExponentialLR(o, 0.7)],
            milestones=[3],
        ),
        lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1, cooldown=1),
    ]:
        metrics = PLATEAU_METRICS[:12]
        needs_metric = "Plateau" in type(make(make_opt())).__name__
        opt = make_opt()
        full = trace(opt, make(opt), 12, metrics if needs_metric else None)

        opt = make_opt()
        sched = make(opt)
        first = trace(opt, sched, 5, metrics[:5] if needs_metric else None)
        opt_sd, sched_sd = opt.state_dict(), sched.state_dict()
        assert "optimizer" not in sched_sd

        opt2 = make_opt()
        sched2 = make(opt2)
        opt2.load_state_dict(opt_sd)
        sched2.load_state_dict(sched_sd)
        rest = trace(opt2, sched2, 7, metrics[5:] if needs_metric else None)
        np.testing.assert_array_equal(np.concatenate([first, rest[1:]]), full)


def test_last_epoch_resume_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(make_opt(), step_size=2, last_epoch=3)
    opt = make_opt()
    for g in opt.param_groups:  # as a loaded optimizer has them: epoch 3's rate is 0.5
        g["initial_lr"], g["lr"] = 1.0, 0.5
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5, last_epoch=3)
    assert sched.last_epoch == 4 and sched.get_last_lr() == [0.25, 0.25]


def test_adding_a_group_after_the_scheduler_is_an_error():
    opt = make_opt()
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    opt.add_param_group({"params": [cr.zeros(1, requires_grad=True)]})
    with pytest.raises(RuntimeError, match="parameter groups"):
        sched.step()


INVALID = [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError),
    (lambda o: lr_scheduler.StepLR(o, step_size=2.5), TypeError),
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=-0.1), ValueError),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=-1.0), ValueError),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=-1.0), ValueError),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.0), ValueError),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=1.5), ValueError),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=-0.1), ValueError),
    (lambda o: lr_scheduler.LinearLR(o, total_iters=0), ValueError),
    (lambda o: lr_scheduler.StepLR(o, step_size=2, last_epoch=-2), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="median"), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, cooldown=-1), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold=-1e-4), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=-0.1), ValueError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError),
    (lambda o: lr_scheduler.SequentialLR(o, [], milestones=[]), ValueError),
    (
        lambda o: lr_scheduler.SequentialLR(
            o, [lr_scheduler.StepLR(o, 2), lr_scheduler.StepLR(o, 3)], milestones=[]
        ),
        ValueError,
    ),
    (
        lambda o: lr_scheduler.SequentialLR(
            o, [lr_scheduler.StepLR(make_opt(), 2), lr_scheduler.StepLR(o, 3)], milestones=[2]
        ),
        ValueError,
    ),
    (
        lambda o: lr_scheduler.SequentialLR(
            o, [lr_scheduler.ReduceLROnPlateau(o), lr_scheduler.StepLR(o, 3)], milestones=[2]
        ),
        TypeError,
    ),
    (lambda o: lr_scheduler.StepLR(object(), step_size=2), TypeError),
    (lambda o: lr_scheduler.ReduceLROnPlateau(object()), TypeError),
]


@pytest.mark.parametrize(("make", "error"), INVALID)
def test_invalid_arguments(make, error):
    with pytest.raises(error):
        make(make_opt())


def test_load_state_dict_of_another_scheduler_is_an_error():
    opt = make_opt()
    step = lr_scheduler.StepLR(opt, step_size=2)
    cosine = lr_scheduler.CosineAnnealingLR(make_opt(), T_max=3)
    with pytest.raises(ValueError, match="another kind of scheduler"):
        step.load_state_dict(cosine.state_dict())
    with pytest.raises(ValueError, match="dict"):
        step.load_state_dict([1])
    assert math.isclose(step.get_last_lr()[0], LRS[0])


def test_the_random_runs_chain_schedules_and_run_them_in_sequence():
    """The premise of the test above: its seeds reach chained and sequential schedules."""
    kinds = set()
    for seed in range(60):
        scheds = _random_schedules(seed, lr_scheduler, make_opt())
        kinds |= {type(scheds[0]).__name__, f"schedules={len(scheds)}"}
    assert {"SequentialLR", "CosineAnnealingLR", "LinearLR", "schedules=1", "schedules=2"} <= kinds
