"""Random optimizers and schedules inside a compiled training step: eager's numbers, bit for bit.

A replay of ``cr.compile`` calls the optimizer's own ``step()`` and the schedule's own
``step()`` after the recorded backward. Each case trains two copies of a small network from the
same seed, one eagerly and one compiled, with a random optimizer and options (every option
that changes the update, ``maximize`` and ``amsgrad`` included), in one or two parameter
groups, with no schedule, one, or two chained, and, now and then, the learning rate set by
hand between steps: every loss, parameter, gradient and optimizer buffer must be eager's byte
for byte, and most calls must have been replays. ``CHAINRULE_OPTIMIZER_CASES`` / 3 cases run.
"""

import os

import numpy as np
import pytest
from _random_options import NAMES, options

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.optim import lr_scheduler

CASES = int(os.environ.get("CHAINRULE_OPTIMIZER_CASES", "120")) // 3
STEPS = 7


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _schedules(rng: np.random.Generator, opt) -> list:
    made = []
    for _ in range(int(rng.integers(0, 3))):
        kind = int(rng.integers(4))
        if kind == 0:
            made.append(lr_scheduler.StepLR(opt, int(rng.integers(1, 3)), 0.5))
        elif kind == 1:
            made.append(lr_scheduler.ExponentialLR(opt, 0.9))
        elif kind == 2:
            made.append(lr_scheduler.LinearLR(opt, 0.5, total_iters=3))
        else:
            made.append(lr_scheduler.CosineAnnealingLR(opt, 4))
    return made


def _training(case: int):
    """A model, its optimizer and schedules, and a step function, the same for the same case."""
    rng = np.random.default_rng([11, case])
    name = str(rng.choice(NAMES))
    kw = options(rng, name)
    cr.manual_seed(case)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    params = list(model.parameters())
    if rng.random() < 0.5:  # the second layer in a group of its own, with its own lr
        groups = [{"params": params[:2]}, {"params": params[2:], "lr": kw["lr"] / 2}]
    else:
        groups = [{"params": params}]
    opt = getattr(cr.optim, name)(groups, **kw)
    scheds = _schedules(rng, opt)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        for s in scheds:
            s.step()
        return loss

    return model, opt, step, f"{name}({kw}), {len(groups)} groups, {len(scheds)} schedules"


@pytest.mark.parametrize("case", range(CASES))
def test_a_compiled_step_with_a_random_optimizer_is_eager_bit_for_bit(case):
    m1, o1, eager, what = _training(case)
    m2, o2, step, _ = _training(case)
    compiled = cr.compile(step)
    rng = np.random.default_rng([12, case])
    for t in range(STEPS):
        x = cr.tensor(rng.standard_normal((6, 3)))
        y = cr.tensor(rng.integers(0, 2, 6))
        if t == 4 and case % 3 == 0:  # a rate set by hand between steps
            for opt in (o1, o2):
                opt.param_groups[0]["lr"] *= 1.5
        loss1, loss2 = eager(x, y), compiled(x, y)
        assert _same(loss1.detach().numpy(), loss2.detach().numpy()), f"{what}: loss {t}"
        for p1, p2 in zip(m1.parameters(), m2.parameters()):
            assert _same(p1.detach().numpy(), p2.detach().numpy()), f"{what}: step {t}"
            assert _same(p1.grad.numpy(), p2.grad.numpy()), f"{what}: gradient, step {t}"
        assert [g["lr"] for g in o1.param_groups] == [g["lr"] for g in o2.param_groups], what
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        for key, value in o1.state[p1].items():
            assert _same(value, o2.state[p2][key]), f"{what}: state {key}"
    assert compiled.reason is None, what
    assert compiled.replays == STEPS - 2, what
