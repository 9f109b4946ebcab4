"""Workload (g): backward through a chain of 10,000 ops.

    y = x;  then 5,000 times:  y = y * 1.0001;  y = y + 0.0001;   then y.backward()

on a 0-d float32 tensor (the cost is per op, not per number). Two measurements: forward and
backward together, and backward alone (the chain is built outside the clock each time; only
``y.backward()`` is timed). Checked: dy/dx = 1.0001 ** 5000. Competitors: chainrule and PyTorch
(micrograd's recursive topological sort cannot go 10,000 deep at Python's default recursion
limit, and the issue asks micrograd for (d) and (e) only).
"""

from __future__ import annotations

import time
from typing import Any

OPS = 10_000


def _chain(x: Any) -> Any:
    y = x
    for _ in range(OPS // 2):
        y = y * 1.0001
        y = y + 0.0001
    return y


def chainrule_chain() -> tuple[Any, Any, Any]:
    import chainrule as cr

    def leaf() -> Any:
        return cr.tensor(1.0, requires_grad=True)

    return _builders(leaf, lambda t: float(t.grad.item()))


def torch_chain() -> tuple[Any, Any, Any]:
    import torch
    from _harness import limit_torch_threads

    limit_torch_threads(torch)

    def leaf() -> Any:
        return torch.tensor(1.0, requires_grad=True)

    return _builders(leaf, lambda t: float(t.grad.item()))


def _builders(leaf: Any, grad_of: Any) -> tuple[Any, Any, Any]:
    def both() -> None:
        _chain(leaf()).backward()

    def backward_only(n: int) -> float:
        total = 0.0
        for _ in range(n):
            y = _chain(leaf())
            t0 = time.perf_counter()
            y.backward()
            total += time.perf_counter() - t0
            del y
        return total

    def check() -> float:
        x = leaf()
        _chain(x).backward()
        return grad_of(x)

    return both, backward_only, check


def run(key: str, settings: Any, log: Any) -> dict[str, Any]:
    from _harness import TARGETS, Competitor, interleave, skipped

    expected = 1.0001 ** (OPS // 2)
    both_c, back_c, checks, skips = [], [], {}, {}
    for k, label, module, build in (
        ("chainrule", "chainrule", "chainrule", chainrule_chain),
        ("torch", "PyTorch", "torch", torch_chain),
    ):
        note = skipped(module)
        if note:
            skips[k] = note
            continue
        both, backward_only, check = build()
        g = check()
        checks[k] = {"grad": g, "ok": abs(g - expected) < 1e-3 * expected}
        both_c.append(Competitor(k, label, step=both))
        back_c.append(Competitor(k, label, timed=backward_only))
    checks["expected"] = expected
    checks["ok"] = all(v["ok"] for k, v in checks.items() if isinstance(v, dict))
    log(f"    check (dy/dx = 1.0001^5000): {'ok' if checks['ok'] else 'MISMATCH'}")
    r1 = interleave(both_c, settings, log=log)
    r2 = interleave(back_c, settings, log=log)
    for r in (r1, r2):
        r["skipped"] = skips
        for c in r["competitors"].values():
            c["per_op"] = c["median"] / OPS
    return {
        "key": key,
        "title": "(g) a chain of 10,000 ops (0-d), forward + backward and backward alone",
        "unit": "chain",
        "measurements": [
            {"label": "forward + backward", **r1},
            {"label": "backward alone", **r2},
        ],
        "targets": TARGETS[key],
        "checks": {"gradient": checks},
        "extra": {"ops": OPS},
    }
