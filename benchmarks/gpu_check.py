"""The GPU check's timing part: workloads (a) and (b) on one device, chainrule against PyTorch.

One float32 SGD training step of the MLPs of ``mlp_step.py`` (same weights, same batch), (a) at
batch 256 and (b) at batches 256 and 4096, chainrule on ``--device`` (``cuda`` on the GPU
machine) against PyTorch on the same card. Rounds interleave the two (a noisy machine shifts
both alike); each round times ``--steps`` steps after a synchronisation and synchronises again
at the end, so the figure is the steps the device completes per second. Reports medians, and
the ratio chainrule / PyTorch in steps per second, with issue 12's targets on (b): >= 0.8x at
batch 4096 and >= 0.5x at batch 256.

Then the fused kernels (``chainrule._fused``) against the chains they replace, on the same
device: Adam's update of (b)'s 4.2 million parameters, and the softmax cross-entropy backward at
batch 4096 for 10 and for 1000 classes, each timed as the backend's extra (one kernel on CuPy)
and as the generic implementation (the dozen array operations NumPy runs) in interleaved
rounds, after checking that both give the same numbers (float32 tolerances). The ratio generic /
fused is the speed-up of fusing: the "memory-bound chain" of issue 12 in a figure.

    python benchmarks/gpu_check.py --device cuda --out DIR     # on the GPU machine
    python benchmarks/gpu_check.py --device cpu --steps 2 --rounds 2 --out /tmp/x  # a dry run

Writes ``gpu_check.json`` and ``gpu_check.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from mlp_step import SHAPES, ChainruleMLP, TorchMLP, make_problem  # noqa: E402

CASES = [("a", 256), ("b", 256), ("b", 4096)]
TARGETS = {("b", 256): 0.5, ("b", 4096): 0.8}


def _problem(key: str, batch: int):
    sizes, _ = SHAPES[key]
    SHAPES[key] = (sizes, batch)
    try:
        return make_problem(key)
    finally:
        SHAPES[key] = (sizes, 256)


def _chainrule(p, device: str):
    import chainrule as cr

    c = ChainruleMLP(p)
    c.model.to(device)
    c.x, c.y = c.x.to(device), c.y.to(device)
    c.opt = cr.optim.SGD(c.model.parameters(), lr=1e-3)
    return c, _sync(device)


def _sync(device: str):
    """A function that waits for ``device``'s queued work (nothing to wait for on the CPU)."""

    def sync() -> None:
        if device.startswith("cuda"):
            import cupy

            cupy.cuda.Device().synchronize()

    return sync


def _torch(p, device: str):
    import torch

    t = TorchMLP(p)
    where = "cuda" if device.startswith("cuda") else "cpu"
    t.model.to(where)
    t.x, t.y = t.x.to(where), t.y.to(where)
    t.opt = torch.optim.SGD(t.model.parameters(), lr=1e-3)

    def sync() -> None:
        if where == "cuda":
            torch.cuda.synchronize()

    return t, sync


def _rate(runner, sync, steps: int) -> float:
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        runner.step()
    sync()
    return steps / (time.perf_counter() - start)


def measure(key: str, batch: int, device: str, steps: int, rounds: int) -> dict:
    p = _problem(key, batch)
    ours, ours_sync = _chainrule(p, device)
    theirs, theirs_sync = _torch(p, device)
    ours.step()  # one step each: the same loss, then warm caches (cuBLAS handles, kernels)
    theirs.step()
    loss_ours, loss_theirs = ours.loss_value(), theirs.loss_value()
    if not np.isclose(loss_ours, loss_theirs, rtol=1e-3):
        raise AssertionError(f"({key}) batch {batch}: loss {loss_ours} vs PyTorch {loss_theirs}")
    ours_rates, theirs_rates = [], []
    for _ in range(rounds):
        ours_rates.append(_rate(ours, ours_sync, steps))
        theirs_rates.append(_rate(theirs, theirs_sync, steps))
    ratio = statistics.median(a / b for a, b in zip(ours_rates, theirs_rates))
    target = TARGETS.get((key, batch))
    return {
        "workload": key,
        "batch": batch,
        "chainrule_steps_per_s": statistics.median(ours_rates),
        "pytorch_steps_per_s": statistics.median(theirs_rates),
        "ratio": ratio,
        "target": target,
        "met": None if target is None else ratio >= target,
    }


def _fused_cases(device: str) -> list:
    """(name, elements, fused call, generic call, outputs to compare) for each fused chain."""
    import chainrule as cr
    from chainrule import _fused, backend
    from chainrule.optim import adam

    rng = np.random.default_rng(0)
    cases = []
    n = sum(a * b + b for a, b in zip(SHAPES["b"][0][:-1], SHAPES["b"][0][1:]))

    def adam_case():
        arrays = [
            cr.tensor(a, dtype=cr.float32, device=device)._data
            for a in (rng.standard_normal(n), rng.standard_normal(n), np.zeros(n), np.zeros(n))
        ]
        w, g, m, v = arrays
        group = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2}
        sc = adam._scalars(group, cr._arith.of(w), w, 1)
        xp = backend.namespace(w)

        def fused():
            xp.adam_update(w, g, m, v, None, sc, False, _fused.DECOUPLED)

        def generic():
            _fused.adam_update(w, g, m, v, None, sc, False, _fused.DECOUPLED)

        return ("Adam update, (b)'s parameters", n, fused, generic, (w, m, v))

    cases.append(adam_case)
    for classes in (10, 1000):

        def ce_case(classes=classes):
            x = rng.standard_normal((4096, classes))
            p = np.exp(x - x.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p = cr.tensor(p, dtype=cr.float32, device=device)._data
            xp = backend.namespace(p)
            y = cr.tensor(rng.integers(0, classes, 4096), device=device)._data
            key = (xp.arange(4096, dtype=y.dtype), y)
            scale = xp.asarray(1 / 4096, dtype=p.dtype)
            out = {}

            def fused():
                out["fused"] = xp.cross_entropy_backward(p, key, 1, scale, scale, None, 1.0)

            def generic():
                out["generic"] = _fused.cross_entropy_backward(p, key, 1, scale, scale, None, 1.0)

            return (f"cross-entropy backward, 4096 x {classes}", p.size, fused, generic, out)

        cases.append(ce_case)
    return cases


def _same(a, b) -> None:
    from chainrule import backend

    np.testing.assert_allclose(backend.to_numpy(a), backend.to_numpy(b), rtol=1e-5, atol=1e-6)


def measure_fused(device: str, sync, calls: int, rounds: int) -> list[dict]:
    """Microseconds per call of each fused chain, fused and generic, interleaved."""
    from chainrule import backend

    rows = []
    for make in _fused_cases(device):
        name, size, fused, generic, outs = make()
        if isinstance(outs, dict):  # the cross-entropy: the same gradient both ways
            fused(), generic()
            _same(outs["fused"], outs["generic"])
        else:  # Adam: the same step from the same state both ways
            start = [backend.to_numpy(a).copy() for a in outs]
            fused()
            after = [backend.to_numpy(a).copy() for a in outs]
            for a, v in zip(outs, start):
                a[...] = backend.from_numpy(v, backend.device_of(a))
            generic()
            for a, v in zip(outs, after):
                _same(a, v)
        times = {"fused": [], "generic": []}
        for _ in range(rounds):
            for label, fn in (("fused", fused), ("generic", generic)):
                sync()
                t0 = time.perf_counter()
                for _ in range(calls):
                    fn()
                sync()
                times[label].append((time.perf_counter() - t0) / calls * 1e6)
        fused_us, generic_us = (
            statistics.median(times["fused"]),
            statistics.median(times["generic"]),
        )
        rows.append(
            {
                "chain": name,
                "elements": size,
                "fused_us": fused_us,
                "generic_us": generic_us,
                "speedup": statistics.median(
                    g / f for f, g in zip(times["fused"], times["generic"])
                ),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown_fused(rows: list[dict], device_name: str) -> str:
    lines = [
        f"Fused kernels on {device_name}: microseconds per call (medians), float32",
        "",
        "| chain | elements | fused | generic (unfused) | generic / fused |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['chain']} | {r['elements']:,} | {r['fused_us']:.1f} | {r['generic_us']:.1f} | "
            f"{r['speedup']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def markdown(rows: list[dict], device_name: str) -> str:
    lines = [
        f"GPU check on {device_name}: float32 SGD training steps per second (medians)",
        "",
        "| workload | batch | chainrule | PyTorch | ratio | target |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        target = (
            "" if r["target"] is None else f">= {r['target']}x ({'met' if r['met'] else 'missed'})"
        )
        lines.append(
            f"| ({r['workload']}) | {r['batch']} | {r['chainrule_steps_per_s']:.1f} | "
            f"{r['pytorch_steps_per_s']:.1f} | {r['ratio']:.2f}x | {target} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=20, help="calls per round of a fused chain")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = args.device
    if args.device.startswith("cuda"):
        import cupy

        name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    rows = []
    for key, batch in CASES:
        rows.append(measure(key, batch, args.device, args.steps, args.rounds))
        print(json.dumps(rows[-1]), flush=True)

    def write(fused: list[dict]) -> str:
        (out / "gpu_check.json").write_text(
            json.dumps({"device": name, "rows": rows, "fused": fused}, indent=2)
        )
        table = markdown(rows, name) + "\n" + markdown_fused(fused, name)
        (out / "gpu_check.md").write_text(table)
        return table

    write([])  # the workloads' figures, kept should the fused part run out of time
    print(write(measure_fused(args.device, _sync(args.device), args.calls, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
