"""`chainrule sweep --executor ray|dask --address ADDR` against a scheduler in processes of its own.

Each test starts a real cluster as a user would on a head node (``ray start --head``; ``dask
scheduler`` and one ``dask worker``), each in a session of its own, waits until it says it is
ready (its log, not a clock), runs the ``chainrule sweep`` command against its address, and
stops it again by its process group and session, even when the test fails. The grid is two
points of five epochs on the 2-D spiral; one diverges (lr 1e30) and comes back as a failed row.
The runs the cluster trains land in the same table and run folders, byte for byte, as those of
a local sweep. The time limits only guard against a hang.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainrule.train import RunFolder, TrainConfig
from chainrule.train.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD = 180  # seconds: only against a hang (a cluster starts in ~10 s on 2 cores)
GRACE = 5  # seconds a cluster's processes have to stop on SIGTERM before they are killed
OPTIONS = ["--dataset", "spiral", "--epochs", "5", "--optimizer", "sgd"]
LR = [0.01, 1e30]  # 1e30 diverges in its first epoch
KEPT, DIVERGES = "lr-0.01", "lr-1e+30"


def executable(name: str) -> str | None:
    """The command ``name`` beside this Python first (where pip put it), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def environ() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    # a cluster of this test's alone: no usage report, no token (Ray >= 2.50 asks a cluster's
    # clients for one by default; a real cluster's users set RAY_AUTH_TOKEN)
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """Processes started in sessions of their own, each logging to a file; stopped together."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, *argv: str) -> Path:
        log = self.folder / f"{name}.log"
        with open(log, "wb") as f:
            self.procs.append(
                subprocess.Popen(
                    argv,
                    stdout=f,
                    stderr=subprocess.STDOUT,
                    env=environ(),
                    cwd=self.folder,
                    start_new_session=True,  # its own process group: stopped as one
                )
            )
        return log

    def wait_for(self, log: Path, text: str) -> None:
        """Wait until ``log`` says ``text``; fail if a process ends first."""
        deadline = time.monotonic() + HANG_GUARD
        while text not in log.read_text(errors="replace"):
            ended = [p.args[:3] for p in self.procs if p.poll() is not None]
            assert not ended, f"{ended} ended early:\n{log.read_text(errors='replace')}"
            assert time.monotonic() < deadline, f"no {text!r} in {log}"
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM to each process group; SIGKILL to a group still there after ``GRACE``
        (Ray's processes take half a minute to stop), then to anything left in their sessions
        (a process that made a group of its own). What they wrote is in ``folder``, deleted
        after."""
        for p in self.procs:
            _signal_group(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(GRACE)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(p.pid, signal.SIGKILL)
            p.wait()
        sessions = {p.pid for p in self.procs}
        for pid in _in_sessions(sessions):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _in_sessions(sessions: set[int]) -> list[int]:
    """The processes (Linux: read from /proc) whose session is one of ``sessions``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) in sessions:
            found.append(int(entry.name))
    return found


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # a short folder: Ray's sockets live under it, and a socket's path has at most 107 bytes
    folder = Path(tempfile.mkdtemp(prefix="cr-cluster-"))
    c = Cluster(folder)
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(folder, ignore_errors=True)


def ray_head(c: Cluster) -> str:
    ray = executable("ray")
    if importlib.util.find_spec("ray") is None or ray is None:
        pytest.skip("ray is not installed: pip install 'chainrule[ray]'")
    port = free_port()
    log = c.start(
        "ray",
        *[ray, "start", "--head", "--block", f"--port={port}", "--num-cpus=1"],
        *["--node-ip-address=127.0.0.1", "--include-dashboard=false", "--disable-usage-stats"],
        *[f"--temp-dir={c.folder / 'ray'}", "--object-store-memory=100000000"],
    )
    c.wait_for(log, "Ray runtime started")
    return f"127.0.0.1:{port}"


def dask_scheduler(c: Cluster) -> str:
    dask = executable("dask")
    if importlib.util.find_spec("distributed") is None or dask is None:
        pytest.skip("dask.distributed is not installed: pip install 'chainrule[dask]'")
    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    log = c.start("scheduler", dask, "scheduler", "--host", "127.0.0.1", "--port", port)
    c.wait_for(log, "Scheduler at:")
    log = c.start(
        "worker",
        *[dask, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
        *["--local-directory", str(c.folder / "worker")],
    )
    c.wait_for(log, "Registered to:")
    return address


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> dict[str, dict]:
    """The same sweep on local processes: the rows, by run name."""
    out = tmp_path_factory.mktemp("local") / "sweep"
    base = TrainConfig.from_dict({"dataset": "spiral", "epochs": 5, "optimizer": "sgd"})
    result = run_sweep(base.validate(), {"lr": LR}, out, workers=1)
    return {Path(r["out"]).name: r for r in result["runs"]}


def sweep(executor: str, address: str, out: Path) -> subprocess.CompletedProcess:
    lr = ",".join(str(v) for v in LR)
    argv = [sys.executable, "-m", "chainrule", "sweep", *OPTIONS, "--lr", lr]
    argv += ["--executor", executor, "--address", address, "--out", str(out)]
    return subprocess.run(
        argv, env=environ(), capture_output=True, text=True, timeout=HANG_GUARD, cwd=out.parent
    )


def files(run: str) -> dict[str, bytes]:
    """A run's files that do not depend on where it ran (metrics.csv without the seconds)."""
    folder = RunFolder(run)
    metrics = [line.rsplit(",", 1)[0] for line in folder.metrics.read_text().splitlines()]
    return {
        "metrics": "\n".join(metrics).encode(),
        "model": folder.model.read_bytes(),
        "summary": folder.summary.read_bytes(),
        "config": folder.config.read_bytes(),
    }


@pytest.mark.parametrize("executor", ["ray", "dask"])
def test_a_sweep_sent_to_a_running_scheduler_comes_back_into_its_folder(
    executor, cluster, local, tmp_path
):
    address = ray_head(cluster) if executor == "ray" else dask_scheduler(cluster)
    out = tmp_path / "sweep"
    proc = sweep(executor, address, out)
    # one point failed: the command says so and exits 1, after the other finished
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"failed: {DIVERGES}: FloatingPointError" in proc.stdout
    assert "1 of 2 runs failed" in proc.stdout and "best on validation: lr 0.01" in proc.stdout
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["executor"] == executor
    rows = {Path(r["out"]).name: r for r in saved["runs"]}
    assert rows.keys() == local.keys() == {KEPT, DIVERGES}
    for name, row in rows.items():
        assert Path(row["out"]).parent == out  # the driver's folder, not the worker's
        for key in ("status", "val_acc", "test_acc"):
            assert row[key] == local[name][key], (name, key)
    assert rows[DIVERGES]["error"].startswith("FloatingPointError: training diverged")
    assert not (out / DIVERGES).exists()
    assert files(rows[KEPT]["out"]) == files(local[KEPT]["out"])
    # the same command again: the complete point is skipped, the failed one sent again
    again = sweep(executor, address, out)
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"complete already: {KEPT}" in again.stdout
    runs = json.loads((out / "sweep.json").read_text())["runs"]
    status = {Path(r["out"]).name: r["status"] for r in runs}
    assert status == {KEPT: "skipped", DIVERGES: "failed"}
