"""fit(): the run folder, exact repeats and resumes, the guards, and the issue's targets."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from chainrule.serialization import load
from chainrule.train import (
    RunFolder,
    TrainConfig,
    TrainingInterrupted,
    build_model,
    evaluate,
    fit,
    load_model,
    loop,
    predict_scores,
    stops,
    trainer,
)
from chainrule.train.checkpoint import load_checkpoint
from chainrule.train.metrics import best_row

HEADER = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
DIGITS_TEST = 359  # the embedded digits' test split


# ----- helpers -----
def metrics_without_seconds(run) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in RunFolder(run).read_metrics()]


def tensors(path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    state, meta = load(path, with_metadata=True)
    return {k: v.numpy() for k, v in state.items()}, meta


def assert_same_tensors(a, b) -> None:
    ta, _ = tensors(a)
    tb, _ = tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        assert ta[k].dtype == tb[k].dtype, k
        assert np.array_equal(ta[k], tb[k]), f"{k} differs between {a} and {b}"


def assert_same_run(a, b) -> None:
    """Weights bit for bit (best model and checkpoint, optimizer buffers included) and metrics."""
    assert metrics_without_seconds(a) == metrics_without_seconds(b)
    assert_same_tensors(a / "model.safetensors", b / "model.safetensors")
    assert_same_tensors(a / "checkpoint.safetensors", b / "checkpoint.safetensors")
    assert tensors(a / "model.safetensors")[1] == tensors(b / "model.safetensors")[1]


def interrupt_in_epoch(monkeypatch, epoch: int, after_steps: int = 5) -> None:
    """Make Ctrl-C arrive in ``epoch``, after ``after_steps`` optimizer steps of it."""
    original = loop.train_epoch

    def patched(t, e, *rest):
        if e == epoch:
            calls = 0
            opt = t.opt
            real_step = opt.step

            def step():
                nonlocal calls
                calls += 1
                if calls > after_steps:
                    raise KeyboardInterrupt
                real_step()

            opt.step = step
        return original(t, e, *rest)

    monkeypatch.setattr(loop, "train_epoch", patched)


# ----- one digits run, shared -----
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("digits") / "run"
    config = TrainConfig(epochs=3, seed=0)
    rows: list[dict] = []
    summary = fit(config, path, report=rows.append)
    return SimpleNamespace(path=path, config=config, summary=summary, rows=rows)


def test_the_run_folder_holds_every_file(digits_run):
    names = {p.name for p in digits_run.path.iterdir()}
    expected = {
        "config.json",
        "metrics.csv",
        "model.safetensors",
        "checkpoint.safetensors",
        "summary.json",
        "curves.png",
        "confusion.png",
    }
    assert expected <= names
    assert "templates.png" not in names  # an MLP has no templates
    assert "boundary.png" not in names  # digits are not 2-D
    assert "first_layer.png" in names  # ... but its first layer: the lecture's "100 templates"
    for name in ("curves.png", "confusion.png", "first_layer.png"):
        assert (digits_run.path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [n for n in names if n.endswith(".tmp") or n.startswith(".")]


def test_config_json_holds_the_options_and_the_versions(digits_run):
    data = json.loads((digits_run.path / "config.json").read_text())
    assert data["options"] == digits_run.config.to_dict()
    assert {"chainrule", "numpy", "python"} <= set(data["versions"])
    assert data["versions"]["numpy"] == np.__version__
    assert data["resolved"]["lr"] == 0.001
    assert data["resolved"]["in_features"] == 64
    assert data["data"]["test"] == DIGITS_TEST
    assert data["data"]["classes"] == [str(i) for i in range(10)]


def test_metrics_csv_has_one_row_per_epoch(digits_run):
    with open(digits_run.path / "metrics.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == HEADER
    assert [int(r[0]) for r in rows[1:]] == [1, 2, 3]
    for r in RunFolder(digits_run.path).read_metrics():
        assert all(math.isfinite(v) for v in r.values())
        assert 0 <= r["train_acc"] <= 1 and 0 <= r["val_acc"] <= 1
        assert r["lr"] == 0.001
        assert r["seconds"] >= 0
    losses = [r["train_loss"] for r in RunFolder(digits_run.path).read_metrics()]
    assert losses[-1] < losses[0]  # it learns


def test_report_gets_each_epochs_row(digits_run):
    assert [r["epoch"] for r in digits_run.rows] == [1, 2, 3]
    assert metrics_without_seconds(digits_run.path) == [
        {k: float(v) for k, v in r.items() if k != "seconds"} for r in digits_run.rows
    ]


def test_summary_json(digits_run):
    summary = json.loads((digits_run.path / "summary.json").read_text())
    assert summary == json.loads(json.dumps(digits_run.summary))
    counts = np.array(summary["confusion_matrix"])
    assert counts.shape == (10, 10)
    assert counts.sum() == summary["test_samples"] == DIGITS_TEST
    assert np.trace(counts) / counts.sum() == pytest.approx(summary["test_accuracy"], abs=1e-12)
    per_class = summary["per_class_accuracy"]
    assert list(per_class) == summary["classes"] == [str(i) for i in range(10)]
    for i, c in enumerate(summary["classes"]):
        assert per_class[c] == pytest.approx(counts[i, i] / counts[i].sum())
    best = best_row(RunFolder(digits_run.path).read_metrics())
    assert summary["best_epoch"] == best["epoch"]
    assert summary["best_val_accuracy"] == best["val_acc"]
    assert summary["epochs_run"] == 3
    assert summary["test_accuracy"] > 0.5


def test_evaluate_gives_the_summarys_test_accuracy(digits_run):
    result = evaluate(digits_run.path)
    assert result["test_accuracy"] == digits_run.summary["test_accuracy"]
    assert result["confusion_matrix"] == digits_run.summary["confusion_matrix"]
    # the model kept is the best epoch's: its validation accuracy is the best in metrics.csv
    val = evaluate(digits_run.path, "val")
    assert val["val_accuracy"] == digits_run.summary["best_val_accuracy"]
    assert np.array(evaluate(digits_run.path, "train")["confusion_matrix"]).sum() == 1293
    with pytest.raises(ValueError, match="split"):
        evaluate(digits_run.path, "dev")


def test_load_model_round_trip_gives_the_same_predictions(digits_run):
    import chainrule as cr

    model, prep, spec = load_model(digits_run.path)
    assert spec["model"] == "mlp" and spec["hidden"] == [100] and spec["image_shape"] == [8, 8]
    splits = cr.data.datasets.digits()
    scores = predict_scores(model, prep(splits.x_test))
    assert scores.shape == (DIGITS_TEST, 10)
    pred = scores.argmax(1)
    assert float((pred == splits.y_test).mean()) == digits_run.summary["test_accuracy"]
    # a second load, and a model rebuilt from the spec with the saved weights, agree exactly
    model2, prep2, _ = load_model(digits_run.path)
    assert np.array_equal(predict_scores(model2, prep2(splits.x_test)), scores)
    rebuilt = build_model(spec)
    rebuilt.load_state_dict(load(digits_run.path / "model.safetensors"))
    rebuilt.eval()
    assert np.array_equal(predict_scores(rebuilt, prep(splits.x_test)), scores)


def test_the_checkpoint_holds_the_last_epoch(digits_run):
    model_state, opt_state, extra = load_checkpoint(digits_run.path / "checkpoint.safetensors")
    assert extra["state"]["epoch"] == 3
    assert len(extra["state"]["history"]) == 3
    assert opt_state["state"]  # Adam's moments are saved
    model = build_model(load_model(digits_run.path)[2])
    model.load_state_dict(model_state)


def test_load_model_of_a_folder_that_is_no_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        load_model(tmp_path)


# ----- the targets -----
def test_target_default_config_on_digits_reaches_97_percent(tmp_path):
    summary = fit(TrainConfig.from_dict({}), tmp_path / "run", figures=False)
    assert summary["test_accuracy"] >= 0.97


def test_target_softmax_classifier_on_digits_reaches_95_percent(tmp_path):
    summary = fit(TrainConfig.from_dict({"model": "linear"}), tmp_path / "run")
    assert summary["test_accuracy"] >= 0.95
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert "templates.png" in names  # a linear model on images shows its templates
    assert "boundary.png" not in names


def test_target_spiral_mlp_reaches_98_percent(tmp_path):
    summary = fit(TrainConfig.from_dict({"dataset": "spiral"}), tmp_path / "run")
    assert summary["test_accuracy"] >= 0.98
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert "boundary.png" in names
    assert "templates.png" not in names and "first_layer.png" not in names
    assert len(RunFolder(tmp_path / "run").read_metrics()) == 200  # the preset's epochs


def test_target_linear_on_spiral_is_at_most_70_percent(tmp_path):
    config = TrainConfig.from_dict({"dataset": "spiral", "model": "linear"})
    summary = fit(config, tmp_path / "run", figures=False)
    assert summary["test_accuracy"] <= 0.70


# ----- a seed repeats a run exactly -----
def test_the_same_seed_repeats_a_run_exactly_and_another_seed_differs(tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        fit(TrainConfig(epochs=2, seed=seed), tmp_path / name, figures=False)
    assert_same_run(tmp_path / "a", tmp_path / "b")
    assert metrics_without_seconds(tmp_path / "a") != metrics_without_seconds(tmp_path / "c")
    wa, _ = tensors(tmp_path / "a" / "model.safetensors")
    wc, _ = tensors(tmp_path / "c" / "model.safetensors")
    assert any(not np.array_equal(wa[k], wc[k]) for k in wa)


# ----- resume -----
STATEFUL = dict(optimizer="momentum", schedule="cosine", warmup=2, reg=1e-4, epochs=6, seed=3)


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    fit(TrainConfig(**STATEFUL), whole, figures=False)

    interrupt_in_epoch(monkeypatch, 3)
    with pytest.raises(TrainingInterrupted) as info:
        fit(TrainConfig(**STATEFUL), parts, figures=False)
    monkeypatch.undo()
    assert info.value.epoch == 2
    assert "epoch 3" in str(info.value) and "--resume" in str(info.value)
    # the folder holds the last completed epoch: a loadable checkpoint and exactly 2 rows
    assert len(RunFolder(parts).read_metrics()) == 2
    _, _, extra = load_checkpoint(parts / "checkpoint.safetensors")
    assert extra["state"]["epoch"] == 2
    load_model(parts)
    assert not (parts / "summary.json").exists()

    summary = fit(None, parts, resume=True, figures=False)
    assert summary["epochs_run"] == 6
    assert_same_run(whole, parts)
    assert summary == json.loads((whole / "summary.json").read_text())
    lrs = [r["lr"] for r in RunFolder(parts).read_metrics()]
    assert len(set(lrs)) == 6  # warm-up then cosine: the scheduler's state mattered


def test_resume_to_more_epochs_equals_training_them_at_once(tmp_path):
    options = dict(optimizer="momentum", reg=1e-4, seed=5)
    fit(TrainConfig(epochs=6, **options), tmp_path / "whole", figures=False)
    fit(TrainConfig(epochs=3, **options), tmp_path / "parts", figures=False)
    assert len(RunFolder(tmp_path / "parts").read_metrics()) == 3
    summary = fit(TrainConfig(epochs=6, **options), tmp_path / "parts", resume=True, figures=False)
    assert summary["epochs_run"] == 6
    assert_same_run(tmp_path / "whole", tmp_path / "parts")


# lr 0.05: the best epochs are 1-4, then none (BBBB....); sgd: BBBBBB.B
CRASH_RUNS = [dict(epochs=8, lr=0.05), dict(epochs=8, optimizer="sgd")]


@pytest.mark.skipif(not hasattr(os, "fstat"), reason="needs os.fstat")
@pytest.mark.parametrize("options", CRASH_RUNS)
def test_a_machine_crash_never_loses_what_a_resume_needs(tmp_path, monkeypatch, options):
    """fit() skips the fsync of the files a resume writes back (the crash safety of run.py).

    Whenever a checkpoint is renamed into place, it is flushed to disk, and so is
    model.safetensors unless the checkpoint's own epoch is the best one (then a resume rewrites
    it from the checkpoint); whenever summary.json is, every file of the run is flushed.
    """
    flushed: set = set()
    fsyncs, renames = [], []
    real_fsync, real_replace = os.fsync, os.replace

    def content(st: os.stat_result) -> tuple:  # each write makes a new file: a new inode
        return st.st_ino, st.st_mtime_ns

    def fsync(fd):
        real_fsync(fd)
        flushed.add(content(os.fstat(fd)))
        fsyncs.append(fd)

    def replace(src, dst):
        dst = Path(dst)
        folder = dst.parent
        if dst.name == "checkpoint.safetensors":
            assert content(os.stat(src)) in flushed
            state = load_checkpoint(Path(src))[2]["state"]
            model_flushed = content(os.stat(folder / "model.safetensors")) in flushed
            assert model_flushed or state["best_epoch"] == state["epoch"], state["epoch"]
        if dst.name == "summary.json":
            for name in ("config", "metrics", "model", "checkpoint"):
                assert content(os.stat(getattr(RunFolder(folder), name))) in flushed, name
        renames.append(dst.name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    fit(TrainConfig(**options), tmp_path / "run", figures=False)
    assert renames.count("checkpoint.safetensors") == 8 and renames[-1] == "summary.json"
    # one fsync per epoch, and a few per run: config.json, model.safetensors once past its
    # best epoch, metrics.csv and model.safetensors at the end, summary.json
    assert len(fsyncs) == 8 + 5


def test_resume_rewrites_the_files_a_machine_crash_can_lose(tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    fit(TrainConfig(**CRASH_RUNS[0]), whole, figures=False)
    fit(TrainConfig(**{**CRASH_RUNS[0], "epochs": 4}), parts, figures=False)
    # a crash of the machine after the 4th checkpoint can lose the files written without fsync:
    # the metrics and the best model (epoch 4's, the checkpoint's own; epochs 5-8 do not beat it)
    (parts / "summary.json").unlink()
    for name in ("metrics.csv", "model.safetensors"):
        (parts / name).write_bytes(b"")
    fit(TrainConfig(**CRASH_RUNS[0]), parts, resume=True, figures=False)
    assert_same_run(whole, parts)


def test_resume_with_more_epochs_records_the_new_limit(tmp_path):
    run = tmp_path / "run"
    fit(TrainConfig(epochs=2), run, figures=False)
    fit(TrainConfig(epochs=4), run, resume=True, figures=False)
    assert len(RunFolder(run).read_metrics()) == 4
    # config.json still says epochs 2: `chainrule info` then shows "4 of 2 done"
    assert json.loads((run / "config.json").read_text())["options"]["epochs"] == 4


def test_resume_after_an_interrupted_extension_finishes_the_extension(tmp_path, monkeypatch):
    run = tmp_path / "run"
    fit(TrainConfig(epochs=2), run, figures=False)
    interrupt_in_epoch(monkeypatch, 4)
    with pytest.raises(TrainingInterrupted) as info:
        fit(TrainConfig(epochs=6), run, resume=True, figures=False)
    monkeypatch.undo()
    assert "chainrule train --resume" in str(info.value)
    # doing what the message says must finish the 6 epochs asked for, not stop at 3
    summary = fit(None, run, resume=True, figures=False)
    assert summary["epochs_run"] == 6


def test_resume_of_a_finished_run_without_more_epochs_changes_nothing(tmp_path):
    run = tmp_path / "run"
    first = fit(TrainConfig(epochs=2), run, figures=False)
    before = tensors(run / "model.safetensors")[0]
    again = fit(None, run, resume=True, figures=False)
    assert again == first
    after = tensors(run / "model.safetensors")[0]
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_resume_of_a_folder_that_is_no_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        fit(None, tmp_path, resume=True)


def test_sigterm_stops_like_ctrl_c_and_restores_the_handler(tmp_path, monkeypatch):
    original = loop.train_epoch
    before = signal.getsignal(signal.SIGTERM)

    def patched(t, epoch, *rest):
        if epoch == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(t, epoch, *rest)

    monkeypatch.setattr(loop, "train_epoch", patched)
    with pytest.raises(TrainingInterrupted) as info:
        fit(TrainConfig(epochs=4), tmp_path / "run", figures=False)
    assert info.value.signal_name == "SIGTERM"
    assert info.value.epoch == 1
    assert len(RunFolder(tmp_path / "run").read_metrics()) == 1
    assert signal.getsignal(signal.SIGTERM) == before


# ----- the guards -----
def test_an_existing_run_folder_is_refused_unless_overwrite(digits_run, tmp_path):
    before = (digits_run.path / "metrics.csv").read_bytes()
    with pytest.raises(FileExistsError) as info:
        fit(TrainConfig(epochs=1), digits_run.path, figures=False)
    assert "--resume" in str(info.value) and "--overwrite" in str(info.value)
    assert (digits_run.path / "metrics.csv").read_bytes() == before

    run = tmp_path / "run"
    fit(TrainConfig(epochs=2), run, figures=False)
    (run / "notes.txt").write_text("mine")  # a user's file in a run folder
    fit(TrainConfig(epochs=1), run, overwrite=True, figures=False)
    assert len(RunFolder(run).read_metrics()) == 1
    assert (run / "notes.txt").read_text() == "mine"  # replaced the run, not the user's file


def test_an_empty_existing_folder_is_used_and_a_file_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    fit(TrainConfig(epochs=1), tmp_path / "empty", figures=False)
    assert (tmp_path / "empty" / "summary.json").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        fit(TrainConfig(epochs=1), tmp_path / "file", figures=False)


def test_a_folder_left_by_a_run_killed_in_its_first_write_is_used(tmp_path):
    # killed while writing config.json: only that write's temporary file is there, no run
    run = tmp_path / "run"
    run.mkdir()
    (run / ".config.json.k1ll3d_x.tmp").write_text('{"epo')  # mkstemp: 8 random characters
    fit(TrainConfig(epochs=1), run, figures=False)
    assert (run / "summary.json").is_file()
    assert not list(run.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"epochs": 0}, "--epochs"),
        ({"lr": -1.0}, "--lr"),
        ({"dataset": "foo"}, "--dataset"),
        ({"schedule": "plateau", "warmup": 2}, "--warmup"),
    ],
    ids=["epochs", "lr", "dataset", "plateau-warmup"],
)
def test_invalid_options_fail_before_the_folder_is_made(tmp_path, options, option):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=option):
        fit(TrainConfig(**options), out)
    assert not out.exists()


def test_a_data_error_names_the_files_and_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    (tmp_path / "data").mkdir()
    out = tmp_path / "run"
    config = TrainConfig(dataset="mnist", data_dir=str(tmp_path / "data"), epochs=1)
    with pytest.raises(FileNotFoundError) as info:
        fit(config, out)
    assert "train-images-idx3-ubyte" in str(info.value)
    assert "--download" in str(info.value)
    assert not out.exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_huge_lr_stops_at_the_first_nan_naming_epoch_and_batch(tmp_path):
    with pytest.raises(FloatingPointError) as info:
        fit(TrainConfig(optimizer="sgd", lr=1e6, epochs=2), tmp_path / "run")
    message = str(info.value)
    assert "epoch 1" in message
    assert "batch" in message
    assert "smaller --lr" in message


def test_early_stopping_stops_when_val_acc_stops_improving(tmp_path):
    config = TrainConfig(optimizer="sgd", lr=1e-12, epochs=10, early_stopping=1)
    summary = fit(config, tmp_path / "run", figures=False)
    assert summary["epochs_run"] == 2
    assert len(RunFolder(tmp_path / "run").read_metrics()) == 2
    assert summary["best_epoch"] == 1


def test_early_stopping_counts_epochs_without_a_better_val_accuracy(tmp_path):
    # --early-stopping's help: "stop after this many epochs without a better validation
    # accuracy". At lr 1e-6 the validation accuracy stays the same every epoch while its loss
    # creeps down; the counter resets on the lower loss, so the run never stops.
    config = TrainConfig(optimizer="sgd", lr=1e-6, epochs=6, early_stopping=1)
    fit(config, tmp_path / "run", figures=False)
    rows = RunFolder(tmp_path / "run").read_metrics()
    assert len({r["val_acc"] for r in rows}) == 1  # the accuracy never improved
    assert len(rows) == 2


# ----- early stopping and resume -----
# stops after epoch 8 (best epoch 5); the example
EARLY = dict(model="linear", loss="svm", optimizer="nesterov", early_stopping=3, epochs=40)
EARLY["batch_size"] = 16


@pytest.fixture(scope="module")
def early_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("early") / "run"
    fit(TrainConfig(**EARLY), path, figures=False)
    return path


def test_resuming_a_run_that_stopped_early_trains_no_more_and_changes_nothing(early_run, tmp_path):
    epochs = len(RunFolder(early_run).read_metrics())
    assert 3 < epochs < 40  # it did stop early
    for i, config in enumerate([None, TrainConfig(epochs=60)]):  # a longer run stays stopped
        copy = tmp_path / f"copy{i}"
        shutil.copytree(early_run, copy)
        summary = fit(config, copy, resume=True, figures=False)
        assert summary["epochs_run"] == epochs
        assert_same_run(early_run, copy)
        assert summary == json.loads((early_run / "summary.json").read_text())
        for name in ("checkpoint.safetensors", "model.safetensors", "metrics.csv"):
            assert (copy / name).read_bytes() == (early_run / name).read_bytes(), name


class Killed(BaseException):
    """A process killed at this point: nothing after it runs, no handler sees it."""


def test_a_run_stopped_early_and_killed_before_its_summary_resumes_to_the_same_end(
    early_run, tmp_path, monkeypatch
):
    def killed(*args, **kwargs):
        raise Killed

    parts = tmp_path / "parts"
    monkeypatch.setattr(trainer, "finish", killed)  # after the last checkpoint, before summary
    with pytest.raises(Killed):
        fit(TrainConfig(**EARLY), parts, figures=False)
    monkeypatch.undo()
    assert not (parts / "summary.json").exists()
    summary = fit(None, parts, resume=True, figures=False)
    assert summary == json.loads((early_run / "summary.json").read_text())
    assert_same_run(early_run, parts)


# ----- divergence -----
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"])
def test_a_huge_lr_stops_every_optimizer_with_a_clear_message(tmp_path, optimizer):
    # Adam's steps are lr-sized whatever the gradient: its loss explodes (1e14) but stays finite
    with pytest.raises(FloatingPointError) as info:
        fit(TrainConfig(optimizer=optimizer, lr=1e6, epochs=3), tmp_path / "run", figures=False)
    message = str(info.value)
    assert message.startswith("training diverged")
    assert "at epoch 1, batch" in message and "smaller --lr (now 1e+06)" in message


def test_the_loss_may_grow_up_to_the_limit_but_not_beyond(tmp_path):
    state = {"first_loss": None}
    opt = SimpleNamespace(param_groups=[{"lr": 0.1}])
    stops.check_loss(0.5, state, 1, 1, opt)  # the first loss; the limit is 1e4 * max(0.5, 1)
    assert state["first_loss"] == 0.5
    stops.check_loss(stops.DIVERGED * 1.0, state, 1, 2, opt)
    with pytest.raises(FloatingPointError, match="loss reached 1.01e\\+04 at epoch 3, batch 7"):
        stops.check_loss(stops.DIVERGED * 1.01, state, 3, 7, opt)
    with pytest.raises(FloatingPointError, match="loss became nan"):
        stops.check_loss(float("nan"), {"first_loss": None}, 1, 1, opt)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_weight_that_became_inf_stops_the_run(tmp_path, monkeypatch):
    original = loop.train_epoch

    def patched(t, *args):
        result = original(t, *args)
        next(iter(t.model.parameters()))._data[0, 0] = np.inf  # the epoch's last step did this
        return result

    monkeypatch.setattr(loop, "train_epoch", patched)
    with pytest.raises(FloatingPointError, match="weight 0.weight holds NaN or inf after epoch 1"):
        fit(TrainConfig(epochs=2), tmp_path / "run", figures=False)


# ----- the options reach the loop -----
def test_the_step_schedule_and_warmup_show_in_the_lr_column(tmp_path):
    fit(TrainConfig(schedule="step", epochs=3), tmp_path / "step", figures=False)
    lrs = [r["lr"] for r in RunFolder(tmp_path / "step").read_metrics()]
    assert lrs == pytest.approx([1e-3, 1e-4, 1e-5])
    fit(TrainConfig(warmup=2, epochs=3), tmp_path / "warm", figures=False)
    lrs = [r["lr"] for r in RunFolder(tmp_path / "warm").read_metrics()]
    assert lrs == pytest.approx([1e-4, 5.5e-4, 1e-3])


@pytest.mark.parametrize(
    "options",
    [
        {"optimizer": "sgd"},
        {"optimizer": "nesterov", "clip_grad": 1.0},
        {"optimizer": "adamw", "weight_decay": 1e-2},
        {"optimizer": "rmsprop", "schedule": "plateau"},
        {"model": "linear", "loss": "svm"},
        {"activation": "tanh", "hidden": [32, 16]},
        {"activation": "maxout"},
        {"batch_size": 256, "lr": 0.01, "val_fraction": 0.3},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_each_option_trains(tmp_path, options):
    summary = fit(TrainConfig(epochs=2, **options), tmp_path / "run", figures=False)
    assert summary["test_accuracy"] > 0.3  # far above chance (0.1)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["options"]
    for k, v in options.items():
        assert saved[k] == v
    data = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert data["train"] + data["val"] == 1438  # the test split never changes
    assert data["val"] == pytest.approx(1438 * saved["val_fraction"], abs=10)
