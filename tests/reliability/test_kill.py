"""Crash-safe runs: `chainrule train` killed with SIGKILL at random moments, then resumed.

After every kill the run folder must hold a loadable checkpoint of the last completed epoch and a
metrics.csv that agrees with it (the checkpoint is written first, so metrics.csv may lag it by
the one row being written when the kill came, never more, and never disagree); nothing is ever
half-written. Resuming until the run ends must give exactly the weights and metrics of a run that
was never interrupted. The number of kills is CHAINRULE_KILLS (24 by default), seeded.
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

KILLS = int(os.environ.get("CHAINRULE_KILLS", "24"))
OPTIONS = ["--epochs", "30", "--optimizer", "momentum", "--schedule", "cosine", "--warmup", "2"]


def _train(out: Path, resume: bool) -> subprocess.Popen:
    args = ["--resume", str(out)] if resume else [*OPTIONS, "--out", str(out)]
    return subprocess.Popen(
        [sys.executable, "-m", "chainrule", "train", "--quiet", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )


def _metrics(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return [row[:-1] for row in csv.reader(f)]  # all but the wall-clock seconds


def _check_consistent(out: Path) -> int:
    """The folder after a kill: returns the epoch of its checkpoint (0 if none yet)."""
    ckpt = out / "checkpoint.safetensors"
    if not ckpt.exists():
        assert not (out / "metrics.csv").exists() or len(_metrics(out / "metrics.csv")) <= 2
        return 0
    model_state, _, extra = load_checkpoint(ckpt)  # loadable, whole
    epoch = extra["state"]["epoch"]
    assert len(extra["state"]["history"]) == epoch
    assert set(model_state) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    metrics = out / "metrics.csv"  # written just after the checkpoint: may not exist yet
    rows = _metrics(metrics)[1:] if metrics.exists() else []
    assert epoch - 1 <= len(rows) <= epoch
    for row, saved in zip(rows, extra["state"]["history"]):
        assert int(row[0]) == saved["epoch"] and float(row[4]) == saved["val_acc"]
    return epoch


def _same_result(out: Path, reference: Path) -> None:
    assert _metrics(out / "metrics.csv") == _metrics(reference / "metrics.csv")
    for name in ("checkpoint.safetensors", "model.safetensors"):
        a, b = cr.load(out / name), cr.load(reference / name)
        assert set(a) == set(b)
        for k in a:
            np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())


def test_killed_runs_resume_to_exactly_the_uninterrupted_result(tmp_path, counts):
    reference = tmp_path / "reference"
    cfg = TrainConfig.from_dict(
        {"epochs": 30, "optimizer": "momentum", "schedule": "cosine", "warmup": 2}
    )
    fit(cfg, reference, figures=False)

    rng = random.Random(0)
    kills = runs = episodes = 0
    while kills < KILLS:  # each episode: one run, killed and resumed until it completes
        episodes += 1
        out = tmp_path / f"killed-{episodes}"
        while not (out / "summary.json").exists():
            proc = _train(out, resume=(out / "config.json").exists())
            runs += 1
            time.sleep(rng.uniform(0.2, 1.6))
            if proc.poll() is None:
                proc.kill()
                kills += 1
            proc.wait(timeout=120)
            if proc.returncode not in (0, -signal.SIGKILL):
                pytest.fail(f"run {runs} exited {proc.returncode}: {proc.stderr.read().decode()}")
            proc.stderr.close()
            if out.exists():
                _check_consistent(out)
            assert runs < KILLS * 6, "the runs never finished"
        _same_result(out, reference)
        counts[
            "kill|runs killed and resumed to the end, equal bit for bit to the uninterrupted one"
        ] += 1
    assert kills >= KILLS and episodes >= 1
    counts["kill|SIGKILLs survived"] += kills
    counts["kill|training processes started"] += runs


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_save_and_exit_cleanly(tmp_path, sig, status, counts):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "train", "--epochs", "200", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while not (out / "checkpoint.safetensors").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == status
    message = stderr.decode()
    assert "checkpoint of epoch" in message and "--resume" in message
    assert _check_consistent(out) >= 1
    counts[f"kill|{sig.name} stops saved and exited {status}"] += 1
