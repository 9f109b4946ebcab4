"""The figure of a sweep over network size x regularization strength on a 2-D data set."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd.tensor import Tensor
from ..config import POINT_DATASETS, TrainConfig
from ..run import RunFolder


def boundary_figure(result: dict[str, Any]) -> Any:
    """For a 2-D data set swept over hidden x reg: the grid of decision boundaries.

    Args:
        result: what ``run_sweep`` returned (or its sweep.json); every run must have finished.

    Returns:
        A matplotlib Figure, one panel per run.

    Raises:
        ValueError: the data set is not 2-D, or a run failed (it has no model to draw).
    """
    from ...viz import plots
    from ..batches import load_data
    from ..evaluation import load_model

    if result["dataset"] not in POINT_DATASETS:
        raise ValueError("boundary_figure: only for the 2-D data sets")
    failed = [r["out"] for r in result["runs"] if r.get("error")]
    if failed:
        raise ValueError(f"boundary_figure: {len(failed)} run(s) failed, e.g. {failed[0]!r}")
    first = RunFolder(result["runs"][0]["out"])
    cfg = TrainConfig.from_dict(first.read_json(first.config)["options"]).validate()
    splits = load_data(cfg)
    models = {}
    for row in result["runs"]:
        model, prep, _ = load_model(row["out"])
        key = ("x".join(map(str, row.get("hidden", cfg.hidden))), row.get("reg", cfg.reg))

        def scores(points: Tensor, model: Any = model, prep: Any = prep) -> Tensor:
            return model(Tensor._make(prep(points.numpy())))

        models[key] = (scores, row["val_acc"])
    rows = sorted({k[0] for k in models}, key=lambda h: [int(v) for v in h.split("x")])
    cols = sorted({k[1] for k in models})
    x = np.concatenate([splits.x_train, splits.x_val])
    y = np.concatenate([splits.y_train, splits.y_val])
    return plots.boundary_grid(models, x, y, rows, cols, split="validation")
