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
    for g in opt.param_groups:
        g["initial_lr"] = 1.0
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
