"""Grids of training runs: the lecture's network size against regularization strength.

``run_sweep`` trains one run per combination of the values given (``reg``, ``hidden``, ``lr``,
``activation``), in parallel on the local cores, each in its own sub-folder. The best run is
chosen on validation accuracy alone; only its test accuracy is reported.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from .config import POINT_DATASETS, TrainConfig
from .metrics import best_row
from .run import RunFolder

AXES = ("hidden", "reg", "lr", "activation")


def grid(base: TrainConfig, values: dict[str, Sequence[Any]]) -> list[TrainConfig]:
    """One validated config per combination of ``values`` (axes: hidden, reg, lr, activation)."""
    unknown = sorted(set(values) - set(AXES))
    if unknown:
        raise ValueError(f"sweep: cannot sweep over {', '.join(unknown)}; only {', '.join(AXES)}")
    axes = [a for a in AXES if values.get(a)]
    if not axes:
        raise ValueError(
            "sweep: give at least one of --hidden, --reg, --lr, --activation with values"
        )
    configs = []
    for combo in itertools.product(*(values[a] for a in axes)):
        configs.append(replace(base, **dict(zip(axes, combo))).validate())
    return configs


def run_name(config: TrainConfig, axes: Sequence[str]) -> str:
    parts = []
    for a in axes:
        v = getattr(config, a)
        parts.append(f"{a}-{'x'.join(map(str, v)) if a == 'hidden' else v}")
    return "_".join(parts) or "run"


def _train_one(args: tuple[dict, str]) -> dict[str, Any]:
    from .trainer import fit

    options, out = args
    summary = fit(TrainConfig.from_dict(options).validate(), out, figures=False)
    history = RunFolder(out).read_metrics()
    best = best_row(history)
    return {"out": out, "val_acc": best["val_acc"], "test_acc": summary["test_accuracy"]}


def run_sweep(
    base: TrainConfig,
    values: dict[str, Sequence[Any]],
    out: str | Path,
    workers: int | None = None,
    overwrite: bool = False,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train every combination; return the table and the best run (chosen on validation).

    Args:
        base: the options shared by every run.
        values: the values of each swept option, e.g. {"hidden": [[3], [6], [20]],
            "reg": [0.001, 0.01, 0.1]}.
        out: the sweep folder; each run is a sub-folder named by its values.
        workers: parallel processes (default: the number of cores).
        overwrite: replace an existing sweep (only the files chainrule wrote are deleted).
        report: called with each finished run's row.

    Returns:
        {"runs": [row, ...], "best": row, "axes": [...]}, each row holding the swept values,
        "val_acc", "test_acc" and "out"; written to ``out/sweep.json`` too.
    """
    configs = grid(base, values)
    axes = [a for a in AXES if values.get(a)]
    folder = RunFolder(out)
    folder.create(overwrite, sweep=True)  # locked until the sweep ends
    try:
        return _run_all(folder, base, configs, axes, workers, report)
    finally:
        folder.unlock()


def _run_all(
    folder: RunFolder,
    base: TrainConfig,
    configs: list[TrainConfig],
    axes: list[str],
    workers: int | None,
    report: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    jobs = [(c.to_dict(), str(folder.path / run_name(c, axes))) for c in configs]
    workers = max(1, min(len(jobs), workers or os.cpu_count() or 1))
    rows = []
    saved = {
        k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }
    os.environ.update({k: "1" for k in saved})  # one BLAS thread per run: the runs fill the cores
    try:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            for config, result in zip(configs, pool.map(_train_one, jobs)):
                row = {a: getattr(config, a) for a in axes} | result
                rows.append(row)
                if report is not None:
                    report(row)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    best = max(rows, key=lambda r: r["val_acc"])
    result = {"axes": axes, "runs": rows, "best": best, "dataset": base.dataset}
    folder.write_json(folder.path / "sweep.json", result)
    return result


def boundary_figure(result: dict[str, Any]) -> Any:
    """For a 2-D data set swept over hidden x reg: the grid of decision boundaries."""
    from ..viz import plots
    from .batches import load_data
    from .evaluation import load_model

    if result["dataset"] not in POINT_DATASETS:
        raise ValueError("boundary_figure: only for the 2-D data sets")
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
