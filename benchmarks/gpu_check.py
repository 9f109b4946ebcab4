"""The GPU check's timing part: workloads (a) and (b) on one device, chainrule against PyTorch.

One float32 SGD training step of the MLPs of ``mlp_step.py`` (same weights, same batch), (a) at
batch 256 and (b) at batches 256 and 4096, chainrule on ``--device`` (``cuda`` on the GPU
machine) against PyTorch on the same card. Rounds interleave the two (a noisy machine shifts
both alike); each round times ``--steps`` steps after a synchronisation and synchronises again
at the end, so the figure is the steps the device completes per second. Reports medians, and
the ratio chainrule / PyTorch in steps per second, with issue 12's targets on (b): >= 0.8x at
batch 4096 and >= 0.5x at batch 256.

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

    def sync() -> None:
        if device.startswith("cuda"):
            import cupy

            cupy.cuda.Device().synchronize()

    return c, sync


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
    (out / "gpu_check.json").write_text(json.dumps({"device": name, "rows": rows}, indent=2))
    (out / "gpu_check.md").write_text(markdown(rows, name))
    print(markdown(rows, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
