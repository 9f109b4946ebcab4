"""Where a second BLAS thread starts to pay: one matrix product on 1 and on 2 threads.

``python benchmarks/blas_threads.py`` (about 7 minutes) times float32 products (m, k) @ (k, n)
from 8 thousand to 8.6 billion multiply-adds (the products of workloads (a), (b), (c) and of the
784-256-10 MLP among them), each on one and on two OpenBLAS threads, interleaved in one process
(the suite's harness: alternating rounds, medians, rounds with other processes' load above the
limit run again). Once on the machine as it is (quiet), once beside one other process that keeps
a core busy (busy: a spinning loop, ``busy.spinner``).

The crossover it reports: from it on, two threads take at most ``MAX_LOSS`` times one thread's
time both on the machine as it is and beside the spinner, for every larger product measured (on
an idle machine they take about half, which a shared machine may never show). It lies between
the largest product that failed that and the smallest from which all passed; the reported value
is their geometric middle, to one significant digit. ``chainrule.threads.CROSSOVER_MACS`` is set
from it. The results go to ``benchmarks/blas_threads.json``; docs/performance.md quotes them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: (m, k, n): batch rows, inner size, outputs
SHAPES = [
    (32, 16, 16),  # (c)
    (64, 256, 10),  # 784-256-10's second layer
    (64, 784, 64),
    (64, 784, 256),  # 784-256-10's first layer
    (128, 784, 256),
    (64, 784, 1024),
    (256, 3072, 100),  # (a)
    (256, 1024, 1024),  # (b)
    (256, 3072, 1024),  # (b)
    (512, 4096, 1024),
    (1024, 4096, 2048),
]
MAX_LOSS = 1.5  # 2 threads' time / 1 thread's, quiet and busy


def _product(m: int, k: int, n: int, threads: int) -> Any:
    import chainrule as cr

    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)

    def timed(reps: int) -> float:
        cr.set_num_threads(threads)  # outside the clock
        t0 = time.perf_counter()
        for _ in range(reps):
            np.matmul(a, b, out=out)
        return time.perf_counter() - t0

    return timed


def measure(quick: bool = False, log: Any = print) -> dict[str, Any]:
    import _harness as H
    from busy import spinner

    settings = H.Settings.make(quick)
    settings.max_s = 0.0 if quick else 15.0
    busy_settings = dataclasses.replace(settings, noise_limit=settings.noise_limit + 1)
    rows = []
    for m, k, n in SHAPES:
        comps = [
            H.Competitor("one", "1 thread", timed=_product(m, k, n, 1)),
            H.Competitor("two", "2 threads", timed=_product(m, k, n, 2)),
        ]
        quiet = H.interleave(comps, settings, reference="one")
        for c in comps:
            c.warmed, c.samples, c.noise = True, [], []
        with spinner():
            busy = H.interleave(comps, busy_settings, reference="one")
        row = {
            "shape": [m, k, n],
            "macs": m * k * n,
            "quiet": {c: quiet["competitors"][c]["median"] for c in ("one", "two")},
            "busy": {c: busy["competitors"][c]["median"] for c in ("one", "two")},
            "quiet_noisy_rounds": quiet["noisy_rounds_kept"],
            "busy_noisy_rounds": busy["noisy_rounds_kept"],
        }
        row["gain_quiet"] = row["quiet"]["one"] / row["quiet"]["two"]
        row["loss_busy"] = row["busy"]["two"] / row["busy"]["one"]
        rows.append(row)
        log(
            f"{m:>4} x {k:>4} x {n:>4} = {row['macs'] / 1e6:8.2f}M  quiet 1t "
            f"{row['quiet']['one'] * 1e6:9.1f} us 2t {row['quiet']['two'] * 1e6:9.1f} us "
            f"(2 threads {row['gain_quiet']:.2f}x faster)  busy 1t {row['busy']['one'] * 1e6:9.1f}"
            f" us 2t {row['busy']['two'] * 1e6:9.1f} us (2 threads {row['loss_busy']:.2f}x "
            "the time)"
        )
    return {"rows": rows, "crossover_macs": crossover(rows), "max_loss": MAX_LOSS}


def crossover(rows: list[dict[str, Any]]) -> int | None:
    """Where two threads stop costing more than ``MAX_LOSS``: between the largest product that
    failed and the smallest from which every larger one passed (see the module's note); None if
    the largest failed."""
    rows = sorted(rows, key=lambda r: r["macs"])
    passed = [1 / r["gain_quiet"] <= MAX_LOSS and r["loss_busy"] <= MAX_LOSS for r in rows]
    first = len(rows)
    while first > 0 and passed[first - 1]:
        first -= 1
    if first == len(rows):
        return None
    if first == 0:
        return rows[0]["macs"]
    middle = math.sqrt(rows[first - 1]["macs"] * rows[first]["macs"])
    return int(float(f"{middle:.0e}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/blas_threads.py", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds, short samples")
    ap.add_argument("--json", default=str(HERE / "blas_threads.json"), help="results file")
    ap.add_argument(
        "--recompute", action="store_true", help="recompute the crossover of --json's rows only"
    )
    args = ap.parse_args(argv)
    if args.recompute:
        result = json.loads(Path(args.json).read_text())
        result.update(crossover_macs=crossover(result["rows"]), max_loss=MAX_LOSS)
        result.pop("min_gain", None)
        _write(Path(args.json), result)
        print(f"crossover: {result['crossover_macs']}")
        return 0
    import _harness as H

    H.limit_threads()
    load = H.machine_load()
    print(f"other processes' load before: {load if load is None else round(load, 2)} cores")
    result = measure(args.quick)
    result.update(machine=H.machine(), load_before_cores=load, quick=args.quick)
    result["command"] = "python benchmarks/blas_threads.py" + (" --quick" if args.quick else "")
    c = result["crossover_macs"]
    print(
        "crossover: "
        + (f"{c / 1e6:,.0f}M multiply-adds" if c else "none: two threads lost at every size")
    )
    _write(Path(args.json), result)
    return 0


def _write(path: Path, result: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
