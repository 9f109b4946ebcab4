"""Workload (k): the training steps of (a), (c) and a 784-256-10 MLP on a busy machine.

Users' laptops are rarely idle. Here one other process keeps one core busy (a Python loop that
spins, started by this benchmark and killed at its end), and each step is measured twice in the
same worker process: first on the machine as it is ("quiet"), then with the spinner running
("busy"). Each competitor's slowdown is its own busy median over its own quiet median; the issue's
target is that chainrule's slowdown is no worse than PyTorch's.

Competitors, each one training step as in ``mlp_step.py`` (same weights, same data):

- chainrule: with the BLAS threads ``chainrule train --threads auto`` picks for the model
  (``chainrule.threads.num_threads_for``), set before each of its samples;
- chainrule, 2 threads: the same step with OpenBLAS's two threads, as a script that sets nothing
  runs it (for comparison);
- PyTorch: 2 threads (its OpenMP pool and its BLAS), as the suite runs it.

Then ``chainrule train`` itself: a 784-256-10 MLP at batch 64 on an MNIST-shaped data set (random
28x28 images written to a temporary folder: 3,200 training images, 45 batches an epoch), 12
epochs, with ``--threads auto`` and with ``--threads 2``, quiet and busy. The spread of its epoch
times is max / min over epochs 2-12 (the first one also pays for the first calls); the target is
within 1.5x under load with ``--threads auto``.

``python benchmarks/run.py --only k`` runs it (about 6 minutes); ``docs_section(results)`` is
its part of docs/performance.md.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: (key, title, layer sizes, batch)
PROBLEMS = [
    ("a", "(a) 3072-100-10, batch 256", (3072, 100, 10), 256),
    ("c", "(c) 2-16-16-2, batch 32", (2, 16, 16, 2), 32),
    ("mnist", "784-256-10, batch 64", (784, 256, 10), 64),
]
EPOCHS = 12
MAX_SPREAD = 1.5  # the target for train's epoch times under load


@contextlib.contextmanager
def spinner() -> Iterator[subprocess.Popen]:
    """One other process keeping one core busy while the block runs; killed at its end."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start spinning
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _problem(sizes: tuple[int, ...], batch: int) -> Any:
    """The data and initial weights of ``mlp_step.make_problem``, for any layer sizes."""
    from mlp_step import Problem

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], batch).astype(np.int64)
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        weights.append((w, rng.uniform(-bound, bound, fan_out).astype(np.float32)))
    return Problem(sizes, batch, x, y, weights)


def _with_threads(step: Any, n: int) -> Any:
    """``timed(k)``: set NumPy's BLAS to n threads (outside the clock), then k steps."""
    import chainrule as cr

    def timed(k: int) -> float:
        cr.set_num_threads(n)
        t0 = time.perf_counter()
        for _ in range(k):
            step()
        return time.perf_counter() - t0

    return timed


def _competitors(p: Any) -> tuple[list[Any], int]:
    from _harness import Competitor, skipped
    from mlp_step import ChainruleMLP, TorchMLP

    from chainrule import threads

    chain = ChainruleMLP(p)
    fitted = threads.num_threads_for(chain.model, p.x.shape)
    comps = [
        Competitor("chainrule", f"chainrule ({fitted} thread{'s' * (fitted > 1)}, auto)"),
        Competitor("chainrule_2", "chainrule (2 threads)"),
    ]
    comps[0].timed = _with_threads(chain.step, fitted)
    comps[1].timed = _with_threads(ChainruleMLP(p).step, 2)
    if skipped("torch") is None:
        comps.append(Competitor("torch", "PyTorch (2 threads)", step=TorchMLP(p).step))
    return comps, fitted


def _measure_steps(settings: Any, log: Any) -> dict[str, Any]:
    from _harness import interleave

    out: dict[str, Any] = {}
    for key, title, sizes, batch in PROBLEMS:
        p = _problem(sizes, batch)
        comps, fitted = _competitors(p)
        log(f"    {title}: quiet")
        quiet = interleave(comps, settings, log=log)
        for c in comps:  # the same iterations per sample, fresh samples
            c.warmed, c.samples, c.noise = True, [], []
        # the spinner is one core of other processes' load: a round counts as quiet up to it
        busy_settings = dataclasses.replace(settings, noise_limit=settings.noise_limit + 1)
        log(f"    {title}: busy (one core spinning)")
        with spinner():
            busy = interleave(comps, busy_settings, log=log)
        slow = {
            k: busy["competitors"][k]["median"] / quiet["competitors"][k]["median"]
            for k in quiet["competitors"]
        }
        for k, c in quiet["competitors"].items():
            log(
                f"    {c['label']:<32} quiet {c['median'] * 1e3:8.3f} ms  busy "
                f"{busy['competitors'][k]['median'] * 1e3:8.3f} ms  slowdown {slow[k]:.2f}x"
            )
        out[key] = {
            "title": title,
            "threads_auto": fitted,
            "quiet": quiet,
            "busy": busy,
            "slowdown": slow,
        }
    return out


def write_mnist_like(folder: Path, n_train: int = 3200, n_test: int = 500) -> None:
    """Random 28x28 uint8 images and labels in MNIST's four IDX files (uncompressed)."""
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, a in files.items():
        head = bytes([0, 0, 0x08, a.ndim]) + b"".join(d.to_bytes(4, "big") for d in a.shape)
        (folder / name).write_bytes(head + a.tobytes())


def train_epochs(data: Path, out: Path, threads: str) -> list[float]:
    """``chainrule train`` on the 784-256-10 MLP, batch 64: each epoch's seconds."""
    cmd = [sys.executable, "-m", "chainrule", "train", "--dataset", "mnist"]
    cmd += ["--data-dir", str(data), "--hidden", "256", "--batch-size", "64"]
    cmd += ["--epochs", str(EPOCHS), "--threads", threads, "--quiet", "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, timeout=300)
    with open(out / "metrics.csv", newline="") as f:
        return [float(row["seconds"]) for row in csv.DictReader(f)]


def _measure_train(log: Any) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "mnist"
        write_mnist_like(data)
        for load in ("quiet", "busy"):
            for threads in ("auto", "2"):
                ctx = spinner() if load == "busy" else contextlib.nullcontext()
                with ctx:
                    secs = train_epochs(data, Path(d) / f"run-{load}-{threads}", threads)
                later = secs[1:]
                runs[f"{load}, --threads {threads}"] = {
                    "seconds": secs,
                    "median": statistics.median(later),
                    "spread": max(later) / min(later),
                }
                log(
                    f"    chainrule train --threads {threads} ({load}): epochs 2-{EPOCHS} "
                    f"{min(later):.3f} - {max(later):.3f} s, spread {max(later) / min(later):.2f}x"
                )
    return runs


def verdicts(busy: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for the issue's busy-machine targets."""
    out = []
    for r in busy.get("steps", {}).values():
        s = r["slowdown"]
        if "torch" in s:
            out.append(
                (
                    f"{r['title']}: chainrule's slowdown <= PyTorch's",
                    f"{s['chainrule']:.2f}x vs {s['torch']:.2f}x",
                    s["chainrule"] <= s["torch"],
                )
            )
    t = busy.get("train", {}).get("busy, --threads auto")
    if t:
        out.append(
            (
                f"chainrule train (784-256-10, batch 64) under load: epoch times within "
                f"{MAX_SPREAD}x",
                f"{t['spread']:.2f}x",
                t["spread"] <= MAX_SPREAD,
            )
        )
    return out


def run(key: str, settings: Any, log: Any) -> dict[str, Any]:
    if settings.quick:
        settings.rounds = 3
    busy = {"steps": _measure_steps(settings, log), "train": _measure_train(log)}
    for target, shown, met in verdicts(busy):
        log(f"    target {target}: {shown}, {'met' if met else 'MISSED'}")
    return {
        "key": key,
        "title": "(k) a busy machine: (a), (c) and 784-256-10 with one core kept busy",
        "unit": "step",
        "measurements": [],  # reported by docs_section: slowdowns, not ratios to chainrule
        "targets": [],
        "busy": busy,
        "checks": {},
    }


# ----- its part of docs/performance.md -----
def docs_section(results: dict) -> list[str]:
    """The lines of the busy-machine section, from the suite's results (empty without (k))."""
    from _harness import fmt_ratio, fmt_time

    v = results["variants"].get(results["headline"], {})
    w = v.get("workloads", {}).get("k")
    if not w or "busy" not in w:
        return []
    busy = w["busy"]
    lines = [
        "## A busy machine (k)",
        "",
        "One other process keeps one core busy (a spinning Python loop that the benchmark starts "
        "and kills); each training step is measured on the machine as it is (quiet) and then "
        "beside the spinner (busy), in the same worker. A slowdown is a competitor's busy median "
        "over its own quiet median. chainrule sets the BLAS threads that `chainrule train "
        "--threads auto` picks for the model (`chainrule.threads`: one thread below "
        "`CROSSOVER_MACS` multiply-adds in the model's largest matrix product, all of them "
        "above); *chainrule (2 threads)* is the same step with OpenBLAS's two threads, as a "
        "script that sets nothing runs it.",
        "",
        "| step | competitor | quiet | busy | slowdown | busy, time / chainrule's | other "
        "processes' load, quiet / busy |",
        "|---|---|---|---|---|---|---|",
    ]
    quiet_load = []
    for r in busy["steps"].values():
        name = r["title"]
        load = f"{_load(r['quiet']):.2f} / {_load(r['busy']):.2f} cores"
        quiet_load.append(_load(r["quiet"]))
        ref = r["busy"]["competitors"]["chainrule"]["median"]
        for k, c in r["quiet"]["competitors"].items():
            b = r["busy"]["competitors"][k]
            lines.append(
                f"| {name} | {c['label']} | {fmt_time(c['median'])} | {fmt_time(b['median'])} | "
                f"{r['slowdown'][k]:.2f}x | {fmt_ratio(b['median'] / ref)} | {load} |"
            )
            name = load = ""
    if max(quiet_load) > 0.25:
        lines += [
            "",
            f"Other processes used up to {max(quiet_load):.2f} cores during the quiet samples "
            "(the suite's limit for a quiet round is 0.25): the slowdowns compare a loaded "
            "machine with a more loaded one, and a competitor whose quiet time the load had "
            "already spoiled shows a small one. The busy times side by side tell the rest.",
        ]
    lines += [
        "",
        f"`chainrule train` on a 784-256-10 MLP at batch 64 (random MNIST-shaped images, 45 "
        f"batches an epoch, {EPOCHS} epochs); the spread is max / min of the epoch times over "
        f"epochs 2-{EPOCHS}:",
        "",
        "| machine, threads | median epoch | min - max | spread |",
        "|---|---|---|---|",
    ]
    for name, t in busy["train"].items():
        later = t["seconds"][1:]
        lines.append(
            f"| {name} | {fmt_time(t['median'])} | {fmt_time(min(later))} - "
            f"{fmt_time(max(later))} | {t['spread']:.2f}x |"
        )
    lines += _crossover_lines()
    lines += ["", "The issue's targets on the busy machine:", ""]
    lines += ["| target | measured | verdict |", "|---|---|---|"]
    for target, shown, met in verdicts(busy):
        lines.append(f"| {target} | {shown} | {'**met**' if met else '**missed**'} |")
    lines.append("")
    return lines


def _load(m: dict) -> float:
    """The median of other processes' load (cores) over a measurement's samples."""
    xs = [x for c in m["competitors"].values() for x in c.get("noise_cores", [])]
    return statistics.median(xs) if xs else float("nan")


def _crossover_lines() -> list[str]:
    """The crossover of ``blas_threads.py`` (its last run's JSON), where it was run."""
    path = Path(__file__).resolve().parent / "blas_threads.json"
    if not path.is_file():
        return []
    from _harness import fmt_ratio, fmt_time

    from chainrule.threads import CROSSOVER_MACS

    bt = json.loads(path.read_text())
    c = bt.get("crossover_macs")
    lines = [
        "",
        f"Where a second thread pays, from `{bt.get('command')}` (one product, 1 against 2 "
        f"threads, interleaved; other processes' load before it: "
        f"{bt.get('load_before_cores') or 0:.2f} cores). The crossover: from it on, two threads "
        f"took at most {bt['max_loss']}x one thread's time both on the machine as it was and "
        "beside the spinner, for every larger product measured; it is the geometric middle "
        "between the largest product that failed and the smallest that passed: "
        + (f"{c / 1e6:,.0f}M multiply-adds." if c else "none, two threads lost at every size.")
        + f" `chainrule.threads.CROSSOVER_MACS` is {CROSSOVER_MACS / 1e6:,.0f}M.",
        "",
        "| m x k x n | multiply-adds | quiet: 1 thread | 2 threads | busy: 1 thread | 2 threads |",
        "|---|---|---|---|---|---|",
    ]
    for r in bt["rows"]:
        q, b = r["quiet"], r["busy"]
        lines.append(
            f"| {' x '.join(map(str, r['shape']))} | {r['macs'] / 1e6:,.2f}M | "
            f"{fmt_time(q['one'])} | {fmt_time(q['two'])} "
            f"(speed-up {fmt_ratio(r['gain_quiet'])}) | "
            f"{fmt_time(b['one'])} | {fmt_time(b['two'])} ({fmt_ratio(r['loss_busy'])} the time) |"
        )
    return lines
