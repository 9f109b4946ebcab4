"""Sweeps on local processes, a real Ray cluster and a real Dask cluster, each started here.

One grid point diverges (lr 1e30): it is a row with its error while the others finish. The runs
a cluster trains come back into the same folders, byte for byte, as the local ones (the same
seed, one BLAS thread per task). Running the same sweep again skips the complete points.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from types import SimpleNamespace

import pytest

from chainrule import cli
from chainrule.train import RunFolder, TrainConfig
from chainrule.train.checkpoint import load_checkpoint
from chainrule.train.sweep import run_sweep

# five epochs of plain SGD on the 2-D spiral: about a tenth of a second a run
BASE = {"dataset": "spiral", "epochs": 5, "optimizer": "sgd"}
VALUES = {"reg": [0.001], "lr": [0.01, 0.05, 1e30]}  # lr 1e30 diverges in its first epoch
DIVERGES = "reg-0.001_lr-1e+30"


def base() -> TrainConfig:
    return TrainConfig.from_dict(BASE).validate()


def run_files(out: str) -> dict[str, bytes]:
    """The run's files that must not depend on where it ran (metrics.csv without the seconds)."""
    folder = RunFolder(out)
    metrics = [line.rsplit(",", 1)[0] for line in folder.metrics.read_text().splitlines()]
    return {
        "metrics": "\n".join(metrics).encode(),
        "model": folder.model.read_bytes(),
        "checkpoint": checkpoint_arrays(folder),
        "summary": folder.summary.read_bytes(),
        "config": folder.config.read_bytes(),
    }


def checkpoint_arrays(folder: RunFolder) -> bytes:
    """The checkpoint's weights and optimizer state (its JSON holds each epoch's seconds)."""
    model, opt, extra = load_checkpoint(folder.checkpoint)
    arrays = [model[k].numpy() for k in sorted(model)]
    arrays += [opt["state"][i][k] for i in sorted(opt["state"]) for k in sorted(opt["state"][i])]
    return b"".join(a.tobytes() for a in arrays) + str(extra["rng"]).encode()


def by_name(result: dict) -> dict[str, dict]:
    return {r["out"].rsplit("/", 1)[1]: r for r in result["runs"]}


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "sweep"
    reported: list[dict] = []
    result = run_sweep(base(), VALUES, out, workers=2, report=reported.append)
    return SimpleNamespace(out=out, result=result, reported=reported)


def test_a_failing_point_is_reported_with_its_error_while_the_others_finish(local):
    rows = by_name(local.result)
    assert len(rows) == 3 and len(local.reported) == 3
    failed = rows.pop(DIVERGES)
    assert failed["status"] == "failed" and failed["val_acc"] is None
    assert failed["error"].startswith("FloatingPointError: training diverged")
    assert all(r["status"] == "trained" and r["error"] is None for r in rows.values())
    assert all(RunFolder(r["out"]).summary.is_file() for r in rows.values())
    assert local.result["best"] in rows.values()
    assert local.result["best"]["val_acc"] == max(r["val_acc"] for r in rows.values())
    saved = json.loads((local.out / "sweep.json").read_text())
    assert saved == json.loads(json.dumps(local.result))


def test_the_same_sweep_again_skips_the_complete_points_and_retrains_the_rest(local, tmp_path):
    rows = by_name(local.result)
    kept = rows["reg-0.001_lr-0.01"]["out"]
    stopped = rows["reg-0.001_lr-0.05"]["out"]
    before = RunFolder(kept).model.stat().st_mtime_ns, run_files(kept)
    first = run_files(stopped)
    # a run stopped part-way: no summary.json, so it is not complete
    RunFolder(stopped).summary.unlink()
    again = run_sweep(base(), VALUES, local.out, workers=2)
    status = {name: r["status"] for name, r in by_name(again).items()}
    assert status == {
        "reg-0.001_lr-0.01": "skipped",
        "reg-0.001_lr-0.05": "trained",
        DIVERGES: "failed",
    }
    assert (RunFolder(kept).model.stat().st_mtime_ns, run_files(kept)) == before
    assert run_files(stopped) == first  # trained again, in full, to the same weights
    assert [r["val_acc"] for r in again["runs"]] == [r["val_acc"] for r in local.result["runs"]]
    # a different sweep into the same folder is refused, not mixed in
    with pytest.raises(FileExistsError, match="other options or values"):
        run_sweep(base(), {"reg": [0.1]}, local.out, workers=1)


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


@pytest.fixture(scope="module")
def dask_address():
    if _missing("distributed"):
        pytest.skip("dask.distributed is not installed: pip install 'chainrule[dask]'")
    from distributed import LocalCluster

    # a real scheduler and two worker processes, reached by address as a remote one would be
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize("executor", ["ray", "dask"])
def test_a_cluster_fills_the_same_folders_as_local_processes(executor, local, tmp_path, request):
    if executor == "ray" and _missing("ray"):
        pytest.skip("ray is not installed: pip install 'chainrule[ray]'")
    # ray: a local Ray instance that run_sweep starts and shuts down; dask: a running cluster's
    # scheduler, by its address
    address = request.getfixturevalue("dask_address") if executor == "dask" else None
    out = tmp_path / "sweep"
    result = run_sweep(
        base(), VALUES, out, workers=None if address else 2, executor=executor, address=address
    )
    rows, reference = by_name(result), by_name(local.result)
    assert rows.keys() == reference.keys()
    for name, row in rows.items():
        ref = reference[name]
        assert (row["status"], row["val_acc"], row["test_acc"]) == (
            ref["status"],
            ref["val_acc"],
            ref["test_acc"],
        )
        if row["error"] is None:
            assert run_files(row["out"]) == run_files(ref["out"])
    assert rows[DIVERGES]["error"].startswith("FloatingPointError: training diverged")
    assert not (out / DIVERGES).exists()
    assert result["best"]["out"].rsplit("/", 1)[1] == local.result["best"]["out"].rsplit("/")[-1]


def test_the_executor_options_are_checked_before_any_work(tmp_path):
    out = tmp_path / "s"
    for kwargs, match in [
        ({"executor": "spark"}, "--executor"),
        ({"executor": "local", "address": "h:1"}, "--address"),
        ({"executor": "ray", "address": "h:1", "workers": 2}, "--workers"),
        ({"executor": "dask", "workers": 0}, "--workers"),
    ]:
        with pytest.raises(ValueError, match=match):
            run_sweep(base(), VALUES, out, **kwargs)
    assert not out.exists()


@pytest.mark.parametrize(("executor", "module"), [("ray", "ray"), ("dask", "distributed")])
def test_a_missing_engine_names_the_extra_to_install(executor, module, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(ImportError, match=rf"chainrule\[{executor}\]"):
        run_sweep(base(), {"reg": [0.001]}, tmp_path / "s", workers=1, executor=executor)


def test_the_command_reports_the_failure_and_exits_1(tmp_path, capsys):
    argv = ["sweep", "--dataset", "spiral", "--epochs", "2", "--optimizer", "sgd"]
    argv += ["--lr", "0.01,1e30", "--workers", "2", "--out", str(tmp_path / "s")]
    assert cli.main(argv) == 1
    text = capsys.readouterr().out
    assert "failed: lr-1e+30: FloatingPointError" in text
    assert "1 of 2 runs failed" in text and "best on validation: lr 0.01" in text
    assert cli.main(argv) == 1
    assert "complete already: lr-0.01" in capsys.readouterr().out
