"""Real processes of `chainrule train` stopped by real signals, and two runs at one folder.

Each test acts on a process only once the process shows that it got where the test needs it:
a marker file written at an exact point of training (tests/reliability/_train_at.py), a lock
held, rows in metrics.csv. Nothing waits a fixed time, so a busy machine only makes them slower.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainrule.train.checkpoint import load_checkpoint

pytest.importorskip("safetensors")
pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

HELPER = Path(__file__).with_name("_train_at.py")
ENV = {**os.environ, "PYTHONHASHSEED": "0"}
PATIENCE = 600  # seconds: only so that a hung process fails the test instead of hanging it


def start(train_args: list, *points: str, cwd: Path | None = None) -> subprocess.Popen:
    """`chainrule train TRAIN_ARGS` in a new process, with _train_at.py's POINTS."""
    return subprocess.Popen(
        [sys.executable, str(HELPER), *map(str, points), "--", "train", *map(str, train_args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=ENV,
    )


def chainrule(*args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=ENV,
        timeout=PATIENCE,
    )


def wait_until(done, proc: subprocess.Popen, what: str) -> None:
    """Poll ``done()`` until it holds; fail if the process ends first."""
    limit = time.monotonic() + PATIENCE
    while not done():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the process ended ({proc.returncode}) before {what}:\n{out}\n{err}")
        assert time.monotonic() < limit, f"no sign of {what} in {PATIENCE} s"
        time.sleep(0.02)


def finish(proc: subprocess.Popen, release: bool = False) -> tuple[int, str, str]:
    """Let a waiting process go on (a line on its stdin) or just collect it."""
    out, err = proc.communicate("\n" if release else None, timeout=PATIENCE)
    return proc.returncode, out, err


def rows(run: Path) -> int:
    with open(run / "metrics.csv", newline="") as f:
        return len(list(csv.reader(f))) - 1


def checkpoint_epoch(run: Path) -> int:
    return load_checkpoint(run / "checkpoint.safetensors")[2]["state"]["epoch"]


# ----- one run at a time per folder -----
def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path, counts):
    out = tmp_path / "run"
    marker = tmp_path / "waiting"
    first = start(["--epochs", 3, "--quiet", "--out", out], "--wait", "epoch:2", "--marker", marker)
    wait_until(marker.exists, first, "epoch 2")  # it holds the lock, one epoch saved
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    for args in (
        ["train", "--epochs", 1, "--out", out],
        ["train", "--epochs", 1, "--overwrite", "--out", out],
        ["train", "--resume", out],
    ):
        second = chainrule(*args)
        assert second.returncode == 2, second.stderr
        assert "being written by another chainrule process" in second.stderr
        assert f"process {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
        counts["kill|second runs into a folder being written, refused"] += 1
    status, _, err = finish(first, release=True)
    assert status == 0, err
    assert rows(out) == 3 and (out / "summary.json").is_file()
    assert not (out / ".chainrule.lock").exists()  # released and removed at the end


def test_runs_started_in_the_same_second_get_folders_of_their_own(tmp_path, counts):
    stamp = ["--stamp", "20250101-120000"]
    marker = tmp_path / "waiting"
    first = start(
        ["--epochs", 1, "--quiet"], *stamp, "--wait", "epoch:1", "--marker", marker, cwd=tmp_path
    )
    wait_until(marker.exists, first, "its first epoch")  # its folder holds a config.json now
    second = start(["--epochs", 2, "--quiet"], *stamp, cwd=tmp_path)
    status, out, err = finish(second)
    assert status == 0, err
    status, _, err = finish(first, release=True)
    assert status == 0, err
    base = tmp_path / "runs" / "digits-mlp-20250101-120000"
    suffixed = base.with_name(base.name + "-2")
    assert f"run folder: {suffixed.relative_to(tmp_path)}" in out
    assert rows(base) == 1 and rows(suffixed) == 2  # each its own run, whole
    assert json.loads((base / "summary.json").read_text())["epochs_run"] == 1
    assert json.loads((suffixed / "summary.json").read_text())["epochs_run"] == 2
    counts["kill|runs started in the same second, each in its own folder"] += 2


# ----- Ctrl-C and SIGTERM -----
@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_ctrl_c_before_training_begins_exits_130_and_writes_nothing(tmp_path, existing):
    out, marker = tmp_path / "run", tmp_path / "waiting"
    if existing:  # a run that --overwrite was about to replace stays as it was
        assert chainrule("train", "--epochs", 1, "--quiet", "--out", out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()} if existing else None
    overwrite = ["--overwrite"] if existing else []
    args = ["--epochs", 2, *overwrite, "--out", out]
    proc = start(args, "--wait", "load_data", "--marker", marker)
    wait_until(marker.exists, proc, "the data loading")
    proc.send_signal(signal.SIGINT)
    status, _, err = finish(proc)
    assert status == 130, err
    assert "Traceback" not in err
    assert "nothing was written" in err and "--resume" not in err
    if existing:
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    else:
        assert not out.exists()


def test_ctrl_c_before_the_first_checkpoint_says_so_and_resume_starts_over(tmp_path):
    out, marker = tmp_path / "run", tmp_path / "waiting"
    proc = start(["--epochs", 2, "--quiet", "--out", out], "--wait", "epoch:1", "--marker", marker)
    wait_until(marker.exists, proc, "epoch 1")
    proc.send_signal(signal.SIGINT)
    status, _, err = finish(proc)
    assert status == 130, err
    assert "Traceback" not in err
    assert "before any epoch was saved" in err and "checkpoint of epoch 0" not in err
    assert f"chainrule train --resume {out}" in err
    assert not (out / "checkpoint.safetensors").exists()
    resumed = chainrule("train", "--resume", out, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert rows(out) == 2


def test_ctrl_c_while_the_figures_are_drawn_exits_130_and_resume_finishes(tmp_path):
    out, marker = tmp_path / "run", tmp_path / "waiting"
    proc = start(["--epochs", 2, "--quiet", "--out", out], "--wait", "figures", "--marker", marker)
    wait_until(marker.exists, proc, "the figures")
    proc.send_signal(signal.SIGINT)
    status, _, err = finish(proc)
    assert status == 130, err
    assert "Traceback" not in err
    assert "the 2 epochs it trained are saved" in err and "--resume" in err
    assert not (out / "summary.json").exists()
    resumed = chainrule("train", "--resume", out, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert rows(out) == 2 and (out / "summary.json").is_file()  # finished, no epoch more


def test_ctrl_c_while_an_epoch_is_saved_waits_for_its_files(tmp_path):
    # the SIGINT comes after the checkpoint of epoch 2 is written and before its metrics row
    out = tmp_path / "run"
    proc = start(["--epochs", 4, "--quiet", "--out", out], "--sigint-in-metrics", 2)
    status, _, err = finish(proc)
    assert status == 130, err
    assert "checkpoint of epoch 2 is saved" in err
    assert checkpoint_epoch(out) == 2 and rows(out) == 2
    assert re.search(r"epochs\s+2 of 4 done", chainrule("info", out).stdout)


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_after_some_epochs_says_what_metrics_and_info_say(tmp_path, sig, status, counts):
    out = tmp_path / "run"
    proc = start(["--epochs", 100000, "--quiet", "--out", out])
    wait_until(lambda: (out / "metrics.csv").exists() and rows(out) >= 2, proc, "2 epochs")
    proc.send_signal(sig)
    code, _, err = finish(proc)
    assert code == status, err
    assert "Traceback" not in err
    saved = int(re.search(r"the checkpoint of epoch (\d+) is saved", err).group(1))
    assert saved >= 2
    assert checkpoint_epoch(out) == saved and rows(out) == saved
    assert re.search(rf"epochs\s+{saved} of 100000 done", chainrule("info", out).stdout)
    counts[f"kill|{sig.name} stops saved and exited {status}"] += 1
