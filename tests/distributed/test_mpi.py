"""Data-parallel training on 2 real MPI ranks, started here with mpiexec.

The same global batch on 2 ranks reaches the weights of one process up to the order of the
floating-point sums: every weight within ``ATOL`` of one process's (float32 weights of size
~0.1-1; the measured difference after 3 epochs of Adam is ~5e-8, a few ulps, and ``ATOL`` leaves
20x room for the drift a different BLAS or MPI may add). A 2-rank run resumed from its
checkpoint ends bit for bit where the uninterrupted 2-rank run does. With ``--device strict``
(array-api-strict's devices, standing in for a node's GPUs) rank 0 trains on strict:0 and rank 1
on strict:1, and they reach the CPU's weights within the same ``ATOL``. A rank that dies, or
hangs, stops the run (the launcher's cleanup, or the watchdog) instead of leaving the other
waiting.

What a test cannot see from outside (a rank's process id, its device) the ranks write to files
(``rank_probe.py``). The tests that kill or stop a rank are driven by the run's observed progress
(its first epoch in metrics.csv); the time limits below only guard against a hang.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chainrule.train import RunFolder, TrainConfig, fit
from chainrule.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
# beside this Python first: the mpich wheel installs it there, which need not be on PATH (a
# pyenv shim appears only after a rehash)
_BESIDE = Path(sys.executable).parent / "mpiexec"
MPIEXEC = str(_BESIDE) if _BESIDE.is_file() else shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs mpi4py and an MPI with mpiexec: pip install 'chainrule[mpi]' mpich",
)

#: |weights of 2 ranks - weights of 1 process| <= ATOL, for every weight
ATOL = 1e-6
#: 1293 training samples = 19 batches of 68 + 1: the last batch leaves rank 1 an empty shard;
#: --reg and --clip-grad run the penalty and the clipping hook on the averaged gradient
OPTIONS = {"epochs": 3, "batch_size": 68, "reg": 0.001, "clip_grad": 5.0, "seed": 2}
HANG_GUARD = 240  # seconds: only against a hang; a run here takes a few seconds


def argv(options: dict) -> list[str]:
    out = []
    for k, v in options.items():
        out += [f"--{k.replace('_', '-')}", str(v)]
    return out


def environ() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


PROBE = Path(__file__).with_name("rank_probe.py")


def command(args: list[str], n: int = 2, probe: Path | None = None) -> list[str]:
    """``mpiexec -n N chainrule train --distributed mpi ARGS``; with ``probe``, each rank also
    writes its pid and devices to that folder (``rank_probe.py``)."""
    main = ["-m", "chainrule"] if probe is None else [str(PROBE), str(probe)]
    return [MPIEXEC, "-n", str(n), sys.executable, *main, "train", "--distributed", "mpi", *args]


def mpirun(
    args: list[str], cwd: Path, n: int = 2, probe: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(args, n, probe),
        cwd=cwd,
        env=environ(),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )


def weights(run: Path) -> dict[str, np.ndarray]:
    model, _, _ = load_checkpoint(RunFolder(run).checkpoint)
    return {k: v.cpu().numpy() for k, v in model.items()}  # a checkpoint loads where it was


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One process (fit, in this process) and 2 ranks (mpiexec), the same options."""
    base = tmp_path_factory.mktemp("dp")
    one = base / "one"
    fit(TrainConfig(**OPTIONS), one, figures=False)
    two = base / "two"
    proc = mpirun([*argv(OPTIONS), "--out", str(two)], base)
    assert proc.returncode == 0, proc.stderr
    return base, one, two, proc


def test_two_ranks_reach_the_weights_of_one_process(runs):
    _, one, two, proc = runs
    w1, w2 = weights(one), weights(two)
    assert w1.keys() == w2.keys()
    for k in w1:
        np.testing.assert_allclose(w2[k], w1[k], rtol=0, atol=ATOL, err_msg=k)
    m1, m2 = RunFolder(one).read_metrics(), RunFolder(two).read_metrics()
    assert len(m1) == len(m2) == OPTIONS["epochs"]
    for r1, r2 in zip(m1, m2):
        # the epoch's metrics are the global batch's: each rank's shards summed over the ranks
        for key in ("train_loss", "val_loss"):
            assert r2[key] == pytest.approx(r1[key], rel=1e-5), key
        for key in ("train_acc", "val_acc"):
            assert r2[key] == pytest.approx(r1[key], abs=1.5 / 1293), key
        assert r2["lr"] == r1["lr"]


def test_two_ranks_without_compile_reach_the_same_bytes(runs, tmp_path):
    """--no-compile on 2 ranks: each rank's step runs eagerly, and the weights are the compiled
    run's bit for bit (cr.compile replays the same ops in the same order)."""
    _, _, two, _ = runs
    eager = tmp_path / "eager"
    proc = mpirun([*argv(OPTIONS), "--no-compile", "--out", str(eager)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    w_compiled, w_eager = weights(two), weights(eager)
    assert w_compiled.keys() == w_eager.keys()
    for k in w_compiled:
        np.testing.assert_array_equal(w_eager[k], w_compiled[k], err_msg=k)


def test_rank_0_alone_writes_the_run_folder_and_prints(runs):
    base, _, two, proc = runs
    assert sorted(p.name for p in base.iterdir()) == ["one", "two"]  # no folder of rank 1's
    written = sorted(p.name for p in two.iterdir())
    # the files of a one-process run (made without figures), no more: no rank's lock or
    # temporary files left; and the run's figures
    files = [name for name in written if not name.endswith(".png")]
    assert files == sorted(p.name for p in (base / "one").iterdir())
    assert {"config.json", "metrics.csv", "model.safetensors", "summary.json"} <= set(files)
    assert {"curves.png", "confusion.png"} <= set(written)
    assert proc.stdout.count("test accuracy") == 1
    assert proc.stdout.count("epoch   3") == 1
    assert "on 2 MPI ranks" in proc.stdout


def test_resume_on_two_ranks_ends_bit_for_bit_where_the_whole_run_does(runs):
    base, _, two, _ = runs
    part = base / "part"
    first = mpirun([*argv({**OPTIONS, "epochs": 2}), "--out", str(part)], base)
    assert first.returncode == 0, first.stderr
    second = mpirun(["--resume", str(part), "--epochs", "3"], base)
    assert second.returncode == 0, second.stderr
    assert "resuming" in second.stdout
    w, whole = weights(part), weights(two)
    assert all(np.array_equal(w[k], whole[k]) for k in whole)
    assert len(RunFolder(part).read_metrics()) == 3


def test_an_error_on_rank_0_before_training_stops_both_ranks_with_one_message(runs):
    base, _, two, _ = runs
    proc = mpirun([*argv(OPTIONS), "--out", str(two)], base)  # a run is there: no --overwrite
    assert proc.returncode == 2
    assert proc.stderr.count("already holds a run") == 1
    # a check that rank 0 alone makes, before fit_distributed: rank 1 is told, not left waiting
    proc = mpirun(["--resume", str(base / "nothing")], base)
    assert proc.returncode == 2
    assert proc.stderr.count("is not a run folder") == 1
    assert "BAD TERMINATION" not in proc.stdout + proc.stderr


#: the local rank as launchers say it (MPICH's Hydra, Open MPI, Slurm)
LOCAL_RANK_VARS = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID")


def test_each_rank_knows_its_local_rank(tmp_path):
    # each rank writes its own file: the launcher interleaves the ranks' output
    code = (
        "import os, sys; from chainrule.distributed import Comm; c = Comm(); "
        f"env = [os.environ[k] for k in {LOCAL_RANK_VARS!r} if k in os.environ][:1]; "
        "open(f'{sys.argv[1]}/{c.rank}', 'w').write(' '.join([str(c.local_rank), "
        "str(c.local_size), *env]))"
    )
    proc = subprocess.run(
        [MPIEXEC, "-n", "2", sys.executable, "-c", code, str(tmp_path)],
        env=environ(),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert proc.returncode == 0, proc.stderr
    # one machine: the local ranks are the ranks (each takes its own GPU); MPI's split of the
    # ranks by shared memory agrees with the launcher's variable, where it sets one
    found = [(tmp_path / r).read_text().split() for r in "01"]
    assert [f[:2] for f in found] == [["0", "2"], ["1", "2"]]
    assert all(f[2:] in ([], [f[0]]) for f in found), found


# ----- one device per rank -----
#: SGD with momentum: its state (the momentum buffers) lives on the parameters' devices too
STRICT = {**OPTIONS, "optimizer": "sgd", "momentum": 0.9}


@pytest.fixture(scope="module")
def strict_runs(tmp_path_factory):
    """One process on the CPU (fit, here) and 2 ranks on --device strict (mpiexec)."""
    pytest.importorskip("array_api_strict", reason="--device strict needs array-api-strict")
    base = tmp_path_factory.mktemp("strict")
    cpu = base / "cpu"
    fit(TrainConfig(**STRICT, device="cpu"), cpu, figures=False)
    probe = base / "probe"
    probe.mkdir()
    two = base / "two"
    proc = mpirun([*argv(STRICT), "--device", "strict", "--out", str(two)], base, probe=probe)
    assert proc.returncode == 0, proc.stderr
    return base, cpu, two, probe


def test_each_rank_trains_on_the_device_of_its_local_rank(strict_runs):
    _, cpu, two, probe = strict_runs
    for rank in (0, 1):
        seen = json.loads((probe / f"rank-{rank}.json").read_text())
        where = f"strict:{rank}"
        # the model, and the averaged gradients copied back from the host buckets
        assert seen == {"device": where, "params": [where], "grads": [where]}, rank
    w_cpu, w_two = weights(cpu), weights(two)
    assert w_cpu.keys() == w_two.keys()
    for k in w_cpu:
        np.testing.assert_allclose(w_two[k], w_cpu[k], rtol=0, atol=ATOL, err_msg=k)


def test_resume_on_two_devices_ends_bit_for_bit_where_the_whole_run_does(strict_runs):
    base, _, two, _ = strict_runs
    part = base / "part"
    args = [*argv({**STRICT, "epochs": 2}), "--device", "strict", "--out", str(part)]
    first = mpirun(args, base)
    assert first.returncode == 0, first.stderr
    # rank 1 restores rank 0's checkpoint (weights, momentum buffers) onto strict:1
    second = mpirun(["--resume", str(part), "--epochs", "3"], base)
    assert second.returncode == 0, second.stderr
    w, whole = weights(part), weights(two)
    assert all(np.array_equal(w[k], whole[k]) for k in whole)


def test_fewer_devices_than_ranks_on_a_node_is_one_clear_error(tmp_path):
    pytest.importorskip("array_api_strict", reason="--device strict needs array-api-strict")
    out = tmp_path / "run"
    # array-api-strict has 3 devices (strict:0 to strict:2): a 4th rank has none of its own
    proc = mpirun([*argv({"epochs": 1}), "--device", "strict", "--out", str(out)], tmp_path, n=4)
    assert proc.returncode == 2
    message = "the 4 ranks on this node each need a strict device of their own"
    assert proc.stderr.count(message) == 1, proc.stderr
    assert "but this node has 3" in proc.stderr and "mpiexec -ppn 3" in proc.stderr
    assert "BAD TERMINATION" not in proc.stdout + proc.stderr
    assert not out.exists()


# ----- a rank that dies or hangs -----
def start_long_run(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path, dict[int, int]]:
    """A run of 100000 epochs on 2 ranks, once its first epoch is written; and {rank: pid}."""
    out, probe = tmp_path / "run", tmp_path / "probe"
    probe.mkdir()
    args = [*argv({**OPTIONS, "epochs": 100000}), "--out", str(out), "--quiet", *extra]
    proc = subprocess.Popen(
        command(args, probe=probe),
        cwd=tmp_path,
        env=environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # progress: the first epoch's row (epochs take tens of milliseconds; 100000 never end)
    deadline = time.monotonic() + HANG_GUARD
    while not (out / "metrics.csv").is_file() or len(RunFolder(out).read_metrics()) < 1:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no epoch finished"
        time.sleep(0.05)
    # each rank wrote its pid as it started, before the run's first collective
    return proc, out, {r: int((probe / f"pid-{r}").read_text()) for r in (0, 1)}


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    if not Path("/proc").is_dir():
        return True  # no /proc to tell a zombie by: kill(pid, 0) said it is there
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # gone since
        return False


def gone(pid: int) -> bool:
    """Whether process ``pid`` ends within the hang guard (polled; True at once if it has)."""
    deadline = time.monotonic() + HANG_GUARD
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop(proc: subprocess.Popen, pids: dict[int, int]) -> tuple[int, str]:
    """Wait for the launcher to end; its status and all it printed (MPICH's launcher reports a
    killed rank on its standard output). After a hang, nothing is left running."""
    try:
        out, err = proc.communicate(timeout=HANG_GUARD)
    finally:
        if proc.poll() is None:  # a hang: the assertion below fails, nothing is left running
            for pid in pids.values():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.kill()
            proc.communicate()
    return proc.returncode, out.decode() + err.decode()


def test_a_rank_that_dies_stops_the_others_and_the_run_stays_resumable(tmp_path):
    proc, out, pids = start_long_run(tmp_path)
    os.kill(pids[1], signal.SIGKILL)
    code, text = stop(proc, pids)
    # the launcher ends (not a hang), fails, and says which process died and how: MPICH's
    # "PID <pid> RUNNING AT <host> ... Killed (signal 9)", exit status 9; Open MPI's "process
    # rank 1 with PID <pid> ... exited on signal 9 (Killed)". Or, when the survivor was in a
    # collective reading the killed rank's memory at that moment (MPICH's shared-memory copy),
    # MPICH stops it first, from inside the collective, and its launcher then reports only
    # that: "Fatal error in internal_Allreduce_c ... process_vm_readv failed (errno 3)" (no
    # such process). That race is MPICH's own (the error is raised in its progress engine, past
    # any error handler); it came in 2 of 16 runs on a 2-core machine.
    # MPICH names the first process whose end it saw: in one CI run on a busy machine it named
    # rank 0's PID (not rank 1's), which its launcher had killed in turn, with signal 9 too
    assert code != 0
    killed = any(str(pid) in text for pid in pids.values()) and "signal 9" in text
    lost = re.search(r"Fatal error in \w+: .*\n(.*\n)*.*failed \(errno 3\)", text) is not None
    assert killed or lost, (pids, text)
    # the survivor was stopped with it, not left waiting: the launcher's SIGKILL may still be
    # on its way when the launcher itself has ended (seen once in a full run on a busy
    # machine), so wait for it to go, the hang guard bounding the wait
    assert gone(pids[0]), f"rank 0 (pid {pids[0]}) still runs {HANG_GUARD} s after the launcher"
    # the last completed epoch's checkpoint, whole (what --resume continues from)
    _, _, extra = load_checkpoint(RunFolder(out).checkpoint)
    assert extra["state"]["epoch"] >= 1
    assert not RunFolder(out).summary.exists()


def test_a_rank_that_hangs_is_caught_by_the_watchdog(tmp_path):
    proc, out, pids = start_long_run(tmp_path, "--dist-timeout", "10")
    os.kill(pids[1], signal.SIGSTOP)  # alive, but never joins the next allreduce
    try:
        code, text = stop(proc, pids)
    finally:
        try:
            os.kill(pids[1], signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert code != 0
    # which collective rank 0 is in when rank 1 stops depends on where rank 1 was: any says so
    assert re.search(r"rank 0 of 2: waited 10 s in .+ for the other ranks", text), (code, text)
    assert "--resume continues it" in text
    _, _, extra = load_checkpoint(RunFolder(out).checkpoint)
    assert extra["state"]["epoch"] >= 1
