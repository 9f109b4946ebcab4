"""run_sweep: a grid of runs in parallel, the best chosen on validation accuracy alone."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from chainrule.train import RunFolder, TrainConfig
from chainrule.train.metrics import best_row
from chainrule.train.sweep import boundary_figure, grid, run_name, run_sweep

VALUES = {"hidden": [[3], [20]], "reg": [0.001, 0.1]}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "grid"
    # 40 epochs: enough for the four runs' validation accuracies to differ
    base = TrainConfig.from_dict({"dataset": "spiral", "epochs": 40})
    reported: list[dict] = []
    result = run_sweep(base, VALUES, out, workers=2, report=reported.append)
    return SimpleNamespace(out=out, result=result, reported=reported)


def test_one_run_per_combination(sweep):
    runs = sweep.result["runs"]
    assert len(runs) == 4
    assert [(r["hidden"], r["reg"]) for r in runs] == [
        ([3], 0.001),
        ([3], 0.1),
        ([20], 0.001),
        ([20], 0.1),
    ]
    assert sweep.result["axes"] == ["hidden", "reg"]
    assert sweep.result["dataset"] == "spiral"
    # reported as each finished, in any order
    assert sorted(sweep.reported, key=lambda r: r["out"]) == sorted(runs, key=lambda r: r["out"])
    names = sorted(p.name for p in sweep.out.iterdir() if p.is_dir())
    assert names == sorted(
        ["hidden-3_reg-0.001", "hidden-3_reg-0.1", "hidden-20_reg-0.001", "hidden-20_reg-0.1"]
    )


def test_each_run_is_a_complete_run_folder_with_its_own_options(sweep):
    for row in sweep.result["runs"]:
        folder = RunFolder(row["out"])
        options = folder.read_json(folder.config)["options"]
        assert options["hidden"] == row["hidden"] and options["reg"] == row["reg"]
        assert (options["epochs"], options["lr"]) == (40, 0.01)
        history = folder.read_metrics()
        assert len(history) == 40
        assert row["val_acc"] == best_row(history)["val_acc"]
        assert row["test_acc"] == folder.read_json(folder.summary)["test_accuracy"]
        assert folder.model.is_file() and folder.checkpoint.is_file()


def test_the_best_run_is_chosen_on_validation_accuracy_alone(sweep):
    runs, best = sweep.result["runs"], sweep.result["best"]
    top = max(r["val_acc"] for r in runs)
    assert best["val_acc"] == top
    assert best == next(r for r in runs if r["val_acc"] == top)  # the first of any ties
    assert len({r["val_acc"] for r in runs}) > 1  # the choice was not a four-way tie


def test_sweep_json_is_written(sweep):
    saved = json.loads((sweep.out / "sweep.json").read_text())
    assert saved == json.loads(json.dumps(sweep.result))


def test_boundary_figure_has_one_panel_per_run(sweep):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = boundary_figure(sweep.result)
    try:
        assert isinstance(fig, Figure)
        assert len(fig.axes) == 4
        # the sweep's numbers are validation accuracy, and the titles say so
        assert all("validation accuracy" in ax.get_title() for ax in fig.axes)
    finally:
        plt.close(fig)


def test_boundary_figure_only_for_2d_sets():
    with pytest.raises(ValueError, match="2-D"):
        boundary_figure({"dataset": "digits", "runs": []})


def test_an_existing_sweep_folder_is_refused(sweep):
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_sweep(TrainConfig(epochs=1), {"reg": [0.0]}, sweep.out, workers=1)


def test_grid_checks_the_axes_and_every_value_before_any_run(tmp_path):
    base = TrainConfig(dataset="spiral")
    configs = grid(base, {"reg": [0.0, 0.1], "lr": [0.1, 0.01, 0.001]})
    assert len(configs) == 6
    assert {(c.reg, c.lr) for c in configs} == {
        (r, lr) for r in (0.0, 0.1) for lr in (0.1, 0.01, 0.001)
    }
    assert all(c.dataset == "spiral" for c in configs)
    with pytest.raises(ValueError, match="epochs"):
        grid(base, {"epochs": [1, 2]})
    with pytest.raises(ValueError, match="at least one"):
        grid(base, {"reg": []})
    out = tmp_path / "sweep"
    with pytest.raises(ValueError, match="--reg"):
        run_sweep(base, {"reg": [0.1, -1.0]}, out)
    assert not out.exists()


def test_run_name():
    config = TrainConfig(hidden=[100, 50], reg=0.01, activation="tanh")
    assert run_name(config, ["hidden", "reg"]) == "hidden-100x50_reg-0.01"
    assert run_name(config, ["activation"]) == "activation-tanh"
    assert run_name(config, []) == "run"
