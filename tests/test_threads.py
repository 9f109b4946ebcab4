"""BLAS threads: cr.set_num_threads / cr.get_num_threads, the fitting policy, and
``chainrule train --threads``. No timing here: benchmarks/blas_threads.py and benchmarks/busy.py
measure what the thread count does to speed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli, threads
from chainrule.train import TrainConfig, fit

threadpoolctl = pytest.importorskip("threadpoolctl")
ROOT = Path(__file__).resolve().parents[1]


def blas_counts() -> list[int]:
    """The thread count of every BLAS library threadpoolctl finds, asked afresh."""
    return [d["num_threads"] for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas"]


@pytest.fixture(autouse=True)
def restore_threads():
    before = cr.get_num_threads()
    yield
    cr.set_num_threads(before)


@pytest.mark.parametrize("n", [1, 2])
def test_set_num_threads_changes_what_threadpoolctl_reports(n):
    cr.set_num_threads(3 - n)
    cr.set_num_threads(n)
    assert blas_counts() and set(blas_counts()) == {n}
    assert cr.get_num_threads() == n


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python whose BLAS starts with 2 threads."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )


def test_a_blas_library_loaded_later_is_set_too():
    pytest.importorskip("scipy")
    code = (
        "import chainrule as cr, threadpoolctl\n"
        "cr.set_num_threads(2)\n"
        "import scipy.linalg  # SciPy's own OpenBLAS, loaded after chainrule first looked\n"
        "cr.set_num_threads(1)\n"
        "info = [d for d in threadpoolctl.threadpool_info() if d['user_api'] == 'blas']\n"
        "print(len(info), *sorted({d['num_threads'] for d in info}))"
    )
    out = _fresh_python(code)
    libraries, *counts = out.stdout.split()
    assert counts == ["1"], out.stdout  # every library, however many were found
    assert int(libraries) >= 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_set_num_threads_refuses_what_is_not_a_positive_integer(bad):
    with pytest.raises(ValueError, match=r"set_num_threads: expected a positive integer; got"):
        cr.set_num_threads(bad)


def test_without_threadpoolctl(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import threadpoolctl fails
    with pytest.raises(ImportError, match="pip install threadpoolctl"):
        cr.set_num_threads(1)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert cr.get_num_threads() == 3  # what BLAS started with
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert cr.get_num_threads() == (os.cpu_count() or 1)


def test_a_blas_that_threadpoolctl_cannot_set_is_left_alone(monkeypatch, caplog):
    monkeypatch.setattr(threads, "_blas", list)  # no library it can set: Apple's Accelerate
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    cr.set_num_threads(1)
    assert "finds no BLAS library it can set" in caplog.text
    assert cr.get_num_threads() == 3


def test_largest_product_of_linear_and_convolution_weights():
    mlp = cr.nn.MLP(784, [256], 10)
    assert threads.largest_product(mlp, (64, 784)) == 64 * 784 * 256
    conv = cr.nn.Sequential(cr.nn.Conv2d(3, 16, 5), cr.nn.ReLU(), cr.nn.Flatten())
    assert threads.largest_product(conv, (8, 3, 32, 32)) == 8 * 16 * 3 * 5 * 5 * 32 * 32
    assert threads.largest_product(cr.nn.ReLU(), (8, 4)) == 0
    with pytest.raises(ValueError, match=r"expected a batch's shape such as \(64, 784\)"):
        threads.largest_product(mlp, ())


def test_num_threads_for_is_one_below_the_crossover_and_all_above():
    # a fresh process, BLAS started with 2 threads: "all" stays 2 after set_num_threads(1)
    code = (
        "import chainrule as cr\n"
        "from chainrule import threads\n"
        "mlp = cr.nn.MLP(784, [256], 10)\n"
        "cr.set_num_threads(1)\n"
        "below = threads.num_threads_for(mlp, (64, 784))\n"
        "threads.CROSSOVER_MACS = 64 * 784 * 256\n"
        "print(below, threads.num_threads_for(mlp, (64, 784)))"
    )
    out = _fresh_python(code)
    assert out.stdout.split() == ["1", "2"]
    # the network, which stalled on two threads on a busy machine, gets one
    assert threads.CROSSOVER_MACS > 64 * 784 * 256


def _weights_after_training(tmp_path: Path, n: int) -> dict[str, np.ndarray]:
    """Two epochs of an MLP whose products OpenBLAS splits between threads (64 x 64 x 512)."""
    cr.set_num_threads(n)
    config = TrainConfig(hidden=[512], epochs=2, batch_size=64, seed=3)
    fit(config, tmp_path / f"t{n}", figures=False)
    state = cr.load(tmp_path / f"t{n}" / "model.safetensors")
    return {k: v.numpy() for k, v in state.items()}


def test_one_and_two_threads_train_to_the_same_weights(tmp_path):
    """The thread count changes how a product is split, not what is computed: after two epochs
    (56 Adam steps) the weights agree to 1e-5 relative (OpenBLAS splits sgemm by output blocks,
    so in practice they agree bit for bit; the tolerance is what BLAS promises, rounding)."""
    one = _weights_after_training(tmp_path, 1)
    two = _weights_after_training(tmp_path, 2)
    assert one.keys() == two.keys()
    for k in one:
        np.testing.assert_allclose(two[k], one[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_train_threads_option(tmp_path, capsys):
    cr.set_num_threads(2)
    assert cli.main(["train", "--epochs", "1", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    # digits through 100 hidden units at batch 32: 0.2M multiply-adds, one thread
    assert "BLAS threads: 1 (auto: the largest matrix product, 0.2M multiply-adds, is below" in out
    assert cr.get_num_threads() == 2  # the run's setting does not outlive it
    seen = []
    real = threads.set_num_threads
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(threads, "set_num_threads", lambda n: (seen.append(n), real(n)))
        argv = ["train", "--epochs", "1", "--threads", "1", "--out", str(tmp_path / "b")]
        assert cli.main(argv) == 0
        argv = ["train", "--resume", str(tmp_path / "b"), "--epochs", "2", "--threads", "2"]
        assert cli.main(argv) == 0  # --resume takes --threads: it changes no option of the run
    assert seen == [1, 2, 2, 2]  # each run: its count, then the count before it
    assert "BLAS threads" not in capsys.readouterr().out  # a given count is not announced


@pytest.mark.parametrize("bad", ["0", "two", "-1"])
def test_train_threads_refuses_a_bad_count(tmp_path, capsys, bad):
    with pytest.raises(SystemExit):
        cli.main(["train", "--threads", bad, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert f"argument --threads: expected a positive number of threads or auto; got {bad!r}" in err


def _row(macs: float, quiet_loss: float, busy_loss: float) -> dict:
    return {"macs": macs, "gain_quiet": 1 / quiet_loss, "loss_busy": busy_loss}


def test_the_crossover_rule_of_the_benchmark(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from blas_threads import crossover

    rows = [_row(1e6, 1.0, 1.1), _row(1e8, 40, 50), _row(2e9, 2.1, 1.55), _row(8e9, 1.06, 0.94)]
    assert crossover(rows) == 4_000_000_000  # between 2e9 (failed) and 8e9: sqrt(16e18)
    assert crossover(rows[:3]) is None  # the largest failed: two threads never pay
    assert crossover([_row(1e6, 1.0, 1.0), _row(1e8, 0.6, 1.2)]) == 1_000_000  # all passed
    # a pass below a failure does not count: every larger product must pass too
    assert crossover([_row(1e6, 1.0, 1.0), _row(1e8, 3.0, 1.0), _row(1e9, 1.0, 1.0)]) == int(
        float(f"{(1e8 * 1e9) ** 0.5:.0e}")
    )
