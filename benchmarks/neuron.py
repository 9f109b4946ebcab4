"""Workload (d): the lecture's sigmoid neuron on scalars, forward and backward: per-op overhead.

    f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2)))   with w = (2, -3, -3), x = (-1, -2)

written gate by gate, the same eight ops for everyone (2 mul, 2 add, negate, exp, add, divide),
so the time per neuron is the per-op cost of each engine. Each iteration creates the five
leaves (all require gradients, as in the lecture, which computes dx too), runs forward and
backward, and leaves the gradients in place. Checked against the lecture: f = 0.73,
dw = (-0.20, -0.39, 0.20), dx = (0.39, -0.59).

Competitors: chainrule 0-d tensors, micrograd's ``Value`` (PyPI ``micrograd``; it has no exp, so
an exp gate is added here in micrograd's own style, as its author's lecture does), PyTorch 0-d
tensors, and the floor: the same forward and backward by hand on Python floats.
"""

from __future__ import annotations

import math
from typing import Any

W = (2.0, -3.0, -3.0)
X = (-1.0, -2.0)
EXPECTED = {"f": 0.7311, "w0": -0.1966, "w1": -0.3932, "w2": 0.1966, "x0": 0.3932, "x1": -0.5898}


def chainrule_neuron() -> Any:
    import chainrule as cr

    def step() -> Any:
        w0 = cr.tensor(W[0], requires_grad=True)
        w1 = cr.tensor(W[1], requires_grad=True)
        w2 = cr.tensor(W[2], requires_grad=True)
        x0 = cr.tensor(X[0], requires_grad=True)
        x1 = cr.tensor(X[1], requires_grad=True)
        f = 1 / (1 + (-(w0 * x0 + w1 * x1 + w2)).exp())
        f.backward()
        return f, (w0, w1, w2, x0, x1)

    def values() -> dict[str, float]:
        f, (w0, w1, w2, x0, x1) = step()
        return _named(f.item(), *(t.grad.item() for t in (w0, w1, w2, x0, x1)))

    return step, values


def torch_neuron() -> Any:
    import torch
    from _harness import limit_torch_threads

    limit_torch_threads(torch)

    def step() -> Any:
        w0 = torch.tensor(W[0], requires_grad=True)
        w1 = torch.tensor(W[1], requires_grad=True)
        w2 = torch.tensor(W[2], requires_grad=True)
        x0 = torch.tensor(X[0], requires_grad=True)
        x1 = torch.tensor(X[1], requires_grad=True)
        f = 1 / (1 + (-(w0 * x0 + w1 * x1 + w2)).exp())
        f.backward()
        return f, (w0, w1, w2, x0, x1)

    def values() -> dict[str, float]:
        f, (w0, w1, w2, x0, x1) = step()
        return _named(f.item(), *(t.grad.item() for t in (w0, w1, w2, x0, x1)))

    return step, values


def micrograd_exp(v: Any) -> Any:
    """exp as a micrograd gate, in micrograd's own style (its Value has no exp)."""
    from micrograd.engine import Value

    out = Value(math.exp(v.data), (v,), "exp")

    def _backward() -> None:
        v.grad += out.data * out.grad

    out._backward = _backward
    return out


def micrograd_neuron() -> Any:
    from micrograd.engine import Value

    def step() -> Any:
        w0, w1, w2 = Value(W[0]), Value(W[1]), Value(W[2])
        x0, x1 = Value(X[0]), Value(X[1])
        f = 1 / (1 + micrograd_exp(-(w0 * x0 + w1 * x1 + w2)))
        f.backward()
        return f, (w0, w1, w2, x0, x1)

    def values() -> dict[str, float]:
        f, leaves = step()
        return _named(f.data, *(v.grad for v in leaves))

    return step, values


def by_hand_neuron() -> Any:
    """The floor: the lecture's staged forward and backward on Python floats."""

    def step() -> tuple[float, ...]:
        w0, w1, w2 = W
        x0, x1 = X
        dot = w0 * x0 + w1 * x1 + w2
        f = 1.0 / (1.0 + math.exp(-dot))
        ddot = (1 - f) * f  # the sigmoid gate's local gradient
        return f, x0 * ddot, x1 * ddot, ddot, w0 * ddot, w1 * ddot

    def values() -> dict[str, float]:
        return _named(*step())

    return step, values


def _named(f: float, *grads: float) -> dict[str, float]:
    return dict(zip(("f", "w0", "w1", "w2", "x0", "x1"), (f, *grads)))


def run(key: str, settings: Any, log: Any) -> dict[str, Any]:
    from _harness import TARGETS, Competitor, interleave, skipped

    builders = [
        ("chainrule", "chainrule (0-d tensors)", "chainrule", chainrule_neuron),
        ("micrograd", "micrograd Value", "micrograd", micrograd_neuron),
        ("torch", "PyTorch (0-d tensors)", "torch", torch_neuron),
        ("numpy", "by hand (Python floats)", "math", by_hand_neuron),
    ]
    competitors, skips, checks = [], {}, {}
    for k, label, module, build in builders:
        note = skipped(module)
        if note:
            skips[k] = note
            continue
        step, values = build()
        got = values()
        ok = all(abs(got[n] - v) < 1e-3 for n, v in EXPECTED.items())
        checks[k] = {"values": got, "ok": ok}
        competitors.append(Competitor(k, label, step=step))
    checks["ok"] = all(c["ok"] for c in checks.values())
    log(f"    check (the lecture's f and gradients): {'ok' if checks['ok'] else 'MISMATCH'}")
    result = interleave(competitors, settings, log=log)
    result["skipped"] = skips
    for c in result["competitors"].values():
        c["per_op"] = c["median"] / 8
    return {
        "key": key,
        "title": "(d) the lecture's sigmoid neuron on 0-d tensors, forward + backward (per op)",
        "unit": "neuron",
        "measurements": [{"label": "forward + backward", **result}],
        "targets": TARGETS[key],
        "checks": {"lecture_values": checks},
        "extra": {"ops_per_neuron": 8},
    }
