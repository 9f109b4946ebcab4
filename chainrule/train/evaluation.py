"""A run's best model, loaded and judged: evaluate, and finish a run (test summary and figures).

``finish`` ends every run: the best model on the test split, the figures, then summary.json,
whose presence means the run finished. ``evaluate`` gives the same numbers for any split without
writing anything.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn
from ..autograd.tensor import Tensor
from ..metrics import accuracy, confusion_counts, per_class_accuracy
from .batches import feature_cache, load_data
from .config import TrainConfig
from .metrics import best_row
from .model_file import read_run_model
from .models import Preprocess, build_model, family_of, predict_scores
from .run import RunFolder

log = logging.getLogger(__name__)


def load_model(run: str | Path) -> tuple[nn.Module, Preprocess, dict[str, Any]]:
    """The best model of a run folder, its preprocessing and its spec (with class names).

    The model file is checked in full first (``model_file.read_run_model``): a damaged or
    foreign file is a ``ValueError`` that names it, never a model with garbage weights.
    """
    checked = read_run_model(run)
    model = build_model(checked.spec)
    model.load_state_dict(checked.state)
    model.eval()
    return model, family_of(checked.spec).preprocess.from_json(checked.preprocess), checked.spec


def evaluate(run: str | Path, split: str = "test") -> dict[str, Any]:
    """Accuracy, per-class accuracy and confusion matrix of a run's best model on one split
    ("test", "val" or "train"); nothing is written."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train, val or test; got {split!r}")
    folder = RunFolder(run)
    model, prep, spec = load_model(folder.path)
    _use_feature_cache(prep, folder)
    splits = splits_of(folder)
    history = folder.read_metrics() if folder.metrics.is_file() else []
    x, y = getattr(splits, f"x_{split}"), getattr(splits, f"y_{split}")
    return scores_summary(model, prep, spec, x, y, split, history)[0]


def finish(run: RunFolder, figures: bool = True, splits: Any = None) -> dict[str, Any]:
    """Evaluate a run's best model on the test split; draw the figures, then write summary.json.

    summary.json comes last: its presence means the run finished.
    """
    model, prep, spec = load_model(run.path)
    _use_feature_cache(prep, run)
    splits = splits if splits is not None else splits_of(run)
    history = run.read_metrics()
    summary, pred = scores_summary(model, prep, spec, splits.x_test, splits.y_test, "test", history)
    if figures:
        try:
            draw_figures(run, model, prep, spec, splits, history, pred)
        except ImportError as e:
            log.warning("figures skipped: %s", e)
    run.sync()
    run.write_json(run.summary, summary)
    return summary


def config_of(folder: RunFolder) -> TrainConfig:
    """The validated options of a run, from its config.json."""
    cfg = TrainConfig.from_dict(folder.read_json(folder.config)["options"], str(folder.config))
    return cfg.validate()


def splits_of(folder: RunFolder) -> Any:
    """The splits a run was trained on, from the options in its config.json."""
    return load_data(config_of(folder))


def _use_feature_cache(prep: Any, folder: RunFolder) -> None:
    """Let a run's hand-crafted features come from its data set's cache, as in training."""
    if getattr(prep, "features", "pixels") != "pixels":
        prep.cache = feature_cache(config_of(folder))


def scores_summary(
    model: nn.Module,
    prep: Preprocess,
    spec: dict,
    x: np.ndarray,
    y: np.ndarray,
    split: str,
    history: list,
) -> tuple[dict[str, Any], np.ndarray]:
    """The summary of the model on one split (raw samples ``x``, labels ``y``), and its
    predicted labels."""
    pred = predict_scores(model, prep(x)).argmax(1)
    counts = confusion_counts(y, pred, len(spec["classes"]))
    best = best_row(history)
    summary = {
        f"{split}_accuracy": accuracy(y, pred),
        f"{split}_samples": int(len(pred)),
        "best_epoch": int(best.get("epoch") or 0),
        "best_val_accuracy": best.get("val_acc"),
        "epochs_run": len(history),
        "per_class_accuracy": dict(zip(spec["classes"], per_class_accuracy(counts).tolist())),
        "classes": spec["classes"],
        "confusion_matrix": counts.tolist(),
    }
    return summary, pred


def draw_figures(
    run: RunFolder,
    model: nn.Module,
    prep: Preprocess,
    spec: dict,
    splits: Any,
    history: list,
    pred: np.ndarray,
) -> None:
    """The run's figures: learning curves and confusion matrix; a linear model's templates or
    an MLP's first layer (images: the lecture's "100 templates"), the decision boundary (2-D
    data), titled with the test accuracy, and the model family's own (a ConvNet's filters and
    feature maps)."""
    from ..viz import plots

    plots.save_figure(plots.learning_curves(history), run.path / "curves.png")
    plots.save_figure(
        plots.confusion_matrix(splits.y_test, pred, spec["classes"], split="test"),
        run.path / "confusion.png",
    )
    if spec["model"] == "linear" and spec["image_shape"] and "features" not in spec:
        fig = plots.templates(
            model.weight.detach().numpy(), tuple(spec["image_shape"]), spec["classes"]
        )
        plots.save_figure(fig, run.path / "templates.png")
    if spec["model"] == "mlp" and spec["image_shape"] and "features" not in spec:
        fig = plots.first_layer(model, tuple(spec["image_shape"]))
        plots.save_figure(fig, run.path / "first_layer.png")
    family = family_of(spec)
    if family.figures is not None:
        family.figures(run, model, prep, spec, splits)
    if spec["image_shape"] is None and spec["in_features"] == 2:

        def scores(points: Tensor) -> Tensor:
            return model(Tensor._make(prep(points.numpy())))

        x = np.concatenate([splits.x_train, splits.x_val, splits.x_test])
        y = np.concatenate([splits.y_train, splits.y_val, splits.y_test])
        test_accuracy = float((pred == splits.y_test).mean())
        title = (
            f"decision boundary, all {len(y)} points shown\n"
            f"test accuracy {test_accuracy:.2%} on the {len(splits.y_test)} test points"
        )
        fig = plots.decision_boundary(scores, x, y, spec["classes"], title=title)
        plots.save_figure(fig, run.path / "boundary.png")
