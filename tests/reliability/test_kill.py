"""Crash-safe runs: `chainrule train` killed with SIGKILL again and again, then resumed.

After every kill the run folder must hold a loadable checkpoint of the last completed epoch and a
metrics.csv that agrees with it (the checkpoint is written first, so metrics.csv may lag it by
the one row being written when the kill came, never more, and never disagree); nothing is ever
half-written. Resuming until the run ends must give exactly the weights, metrics and summary of
a run that was never interrupted, for a run that trains all its epochs and for one that stops
early. The number of kills is CHAINRULE_KILLS (24 by default).

The kills follow the runs' progress, never the clock, so a busy machine only makes the test
slower. Each process is killed at a point drawn from a seeded generator, one of:

- from outside, once metrics.csv shows a chosen number of new epochs (wherever the process is
  by then: writing metrics.csv, starting the next epoch...);
- by itself, before its K-th optimizer step (within an epoch), through _train_at.py;
- by itself, just before or just after its N-th file rename (between the checkpoint and
  metrics.csv, between the last checkpoint and summary.json, amid the figures...).
"""

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import TrainConfig, fit
from chainrule.train.checkpoint import load_checkpoint

pytest.importorskip("safetensors")
pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

KILLS = int(os.environ.get("CHAINRULE_KILLS", "24"))
HELPER = Path(__file__).with_name("_train_at.py")
PATIENCE = 600  # seconds: only so that a hung process fails the test instead of hanging it
RUNS = {
    # stops early after epoch 8 of 40 (the example)
    "early stopping": {
        "model": "linear",
        "loss": "svm",
        "optimizer": "nesterov",
        "early_stopping": 3,
        "epochs": 40,
        "batch_size": 16,
    },
    # 30 epochs, every one of them trained; the schedule's state matters on resume
    "all epochs": {"epochs": 30, "optimizer": "momentum", "schedule": "cosine", "warmup": 2},
}


def _options(options: dict) -> list[str]:
    return [a for k, v in options.items() for a in ("--" + k.replace("_", "-"), str(v))]


def _train(out: Path, options: dict, points: list[str]) -> subprocess.Popen:
    resume = (out / "config.json").exists()
    args = ["--resume", str(out)] if resume else [*_options(options), "--out", str(out)]
    return subprocess.Popen(
        [sys.executable, str(HELPER), *points, "--", "train", "--quiet", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )


def _metrics(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return [row[:-1] for row in csv.reader(f)]  # all but the wall-clock seconds


def _rows(out: Path) -> int:
    path = out / "metrics.csv"
    return len(_metrics(path)) - 1 if path.exists() else 0  # replaced whole: never half a file


def _check_consistent(out: Path, model_keys: set) -> int:
    """The folder after a kill: returns the epoch of its checkpoint (0 if none yet)."""
    ckpt = out / "checkpoint.safetensors"
    if not ckpt.exists():
        assert _rows(out) == 0
        return 0
    model_state, _, extra = load_checkpoint(ckpt)  # loadable, whole
    epoch = extra["state"]["epoch"]
    assert len(extra["state"]["history"]) == epoch
    assert set(model_state) == model_keys
    metrics = out / "metrics.csv"  # written just after the checkpoint: may not exist yet
    rows = _metrics(metrics)[1:] if metrics.exists() else []
    assert epoch - 1 <= len(rows) <= epoch
    for row, saved in zip(rows, extra["state"]["history"]):
        assert int(row[0]) == saved["epoch"] and float(row[4]) == saved["val_acc"]
    return epoch


def _same_result(out: Path, reference: Path) -> None:
    assert _metrics(out / "metrics.csv") == _metrics(reference / "metrics.csv")
    assert (out / "summary.json").read_bytes() == (reference / "summary.json").read_bytes()
    for name in ("checkpoint.safetensors", "model.safetensors"):
        a, b = cr.load(out / name), cr.load(reference / name)
        assert set(a) == set(b)
        for k in a:
            np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())


def _kill_when_rows_reach(proc: subprocess.Popen, out: Path, target: int) -> None:
    """SIGKILL the process once metrics.csv has ``target`` rows (unless it ends before)."""
    limit = time.monotonic() + PATIENCE
    while proc.poll() is None:
        if _rows(out) >= target:
            proc.kill()
            return
        assert time.monotonic() < limit, f"no epoch {target} in {PATIENCE} s"
        time.sleep(0.01)


def test_killed_runs_resume_to_exactly_the_uninterrupted_result(tmp_path, counts):
    references = {}
    for kind, options in RUNS.items():
        references[kind] = tmp_path / f"reference-{len(references)}"
        fit(TrainConfig(**options), references[kind], figures=True)
    keys = {
        kind: set(load_checkpoint(ref / "checkpoint.safetensors")[0])
        for kind, ref in references.items()
    }

    rng = random.Random(0)
    kills = runs = episodes = 0
    while kills < KILLS:  # each episode: one run, killed and resumed until it completes
        kind = list(RUNS)[episodes % len(RUNS)]
        episodes += 1
        out = tmp_path / f"killed-{episodes}"
        starts = 0
        while not (out / "summary.json").exists():
            saved = _check_consistent(out, keys[kind]) if out.exists() else 0
            how = rng.choice(["epochs", "step", "write"])
            points = []
            if how == "step":
                points = ["--kill-step", str(rng.randint(1, 150))]
            elif how == "write":
                points = ["--kill-write", f"{rng.randint(1, 12)}:{rng.choice(['before', 'after'])}"]
            proc = _train(out, RUNS[kind], points)
            runs += 1
            starts += 1
            if how == "epochs":
                _kill_when_rows_reach(proc, out, saved + rng.randint(1, 5))
            proc.wait(timeout=PATIENCE)
            err = proc.stderr.read().decode()
            proc.stderr.close()
            if proc.returncode == -signal.SIGKILL:
                kills += 1
            elif proc.returncode != 0:
                pytest.fail(f"run {runs} exited {proc.returncode}: {err}")
            assert starts < 200, "the runs never finished"  # a kill-loop bug, not the clock
        _check_consistent(out, keys[kind])
        _same_result(out, references[kind])
        assert len(_metrics(out / "metrics.csv")) == len(_metrics(references[kind] / "metrics.csv"))
        counts[f"kill|runs killed and resumed to the end, equal bit for bit ({kind})"] += 1
    assert kills >= KILLS and episodes >= len(RUNS)
    counts["kill|SIGKILLs survived"] += kills
    counts["kill|training processes started"] += runs
