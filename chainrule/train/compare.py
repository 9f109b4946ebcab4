"""The lecture's closing argument, measured: hand-crafted features against end-to-end learning.

``compare(dataset, out)`` trains four models on one data set with one shared seed and budget
(the same epochs, batch size and optimizer defaults), each into its own run folder under
``out``:

1. the softmax classifier on the pixels (``--model linear``);
2. the softmax classifier on hand-crafted features, HOG and colour histograms
   (``--model linear --features hog+color``): a fixed extractor, a trained linear classifier;
3. the MLP on the pixels (``--model mlp``);
4. the ConvNet (``--model convnet``), which learns its features and its classifier together.

It writes ``comparison.json``, ``comparison.md`` (a table: test accuracy, parameters, training
time) and ``comparison.png`` (a bar chart) into ``out``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..viz.plots._common import new_figure, save_figure
from .config import TrainConfig
from .evaluation import load_model
from .run import RunFolder
from .trainer import fit

#: (folder, name in the table, the options that differ), in the lecture's order
ENTRANTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("linear-pixels", "softmax on pixels", {"model": "linear"}),
    (
        "linear-hog+color",
        "softmax on HOG + colour features",
        {"model": "linear", "features": "hog+color"},
    ),
    ("mlp-pixels", "MLP on pixels", {"model": "mlp"}),
    ("convnet", "ConvNet (end to end)", {"model": "convnet"}),
)

COLUMNS = ("model", "test accuracy", "parameters", "training s", "run s")


def compare(
    dataset: str,
    out: str | Path,
    options: dict[str, Any] | None = None,
    overwrite: bool = False,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train the four entrants on ``dataset`` and write the comparison into ``out``.

    Args:
        dataset: a data set with images (digits, mnist, fashion-mnist, cifar10).
        out: the comparison's folder; each entrant's run folder goes inside it.
        options: training options shared by all entrants (epochs, batch_size, seed, data_dir,
            download, ...); each entrant adds its own model (and features).
        overwrite: replace the entrants' run folders if they exist.
        report: called with each entrant's row once it is trained.

    Returns:
        One row per entrant: name, folder, model, features, test_accuracy, parameters,
        training_seconds (the epochs' time, summed), run_seconds (the whole run: loading the
        data, computing or reading the features, training, testing).

    Example:
        >>> rows = compare("digits", "runs/compare-digits", {"epochs": 30, "seed": 0})
        >>> [round(r["test_accuracy"], 3) for r in rows]
    """
    out = Path(out)
    shared = dict(options or {})
    for key in ("model", "features", "dataset", "out"):
        shared.pop(key, None)
    rows = []
    for folder, name, own in ENTRANTS:
        config = TrainConfig.from_dict({"dataset": dataset, **shared, **own}, "compare")
        config.validate()
        start = time.perf_counter()
        summary = fit(config, out / folder, overwrite=overwrite)
        seconds = time.perf_counter() - start
        model, _, spec = load_model(out / folder)
        history = RunFolder(out / folder).read_metrics()
        row = {
            "name": name,
            "folder": folder,
            "model": config.model,
            "features": config.features,
            "test_accuracy": summary["test_accuracy"],
            "parameters": sum(p.numel() for p in model.parameters()),
            "training_seconds": round(sum(r["seconds"] for r in history), 3),
            "run_seconds": round(seconds, 3),
            "epochs": len(history),
        }
        rows.append(row)
        if report is not None:
            report(row)
    _write(out, dataset, rows, shared)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The comparison as a Markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['test_accuracy']:.2%} | {r['parameters']:,} | "
            f"{r['training_seconds']:.1f} | {r['run_seconds']:.1f} |"
        )
    return "\n".join(lines)


def chart(rows: list[dict[str, Any]], dataset: str) -> Any:
    """A bar chart of the entrants' test accuracies, each labelled with its parameters and time."""
    fig = new_figure((7.5, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    names = [r["name"].replace(" on ", "\non ").replace(" (", "\n(") for r in rows]
    accs = [100 * r["test_accuracy"] for r in rows]
    colours = ["#9aa5b1", "#d09a4e", "#6c8ebf", "#5a9e6f"][: len(rows)]
    bars = ax.bar(range(len(rows)), accs, color=colours)
    for bar, r in zip(bars, rows):
        ax.annotate(
            f"{r['test_accuracy']:.2%}\n{r['parameters']:,} params\n{r['training_seconds']:.1f} s",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    low = max(0.0, min(accs) - (100 - min(accs)) * 1.5 - 5)  # the differences, visible
    ax.set_ylim(low, 100 + (100 - low) * 0.15)  # room for the labels above 100%
    ax.set_yticks([t for t in ax.get_yticks() if low <= t <= 100])
    ax.set_xticks(range(len(rows)), names, fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"hand-crafted features vs end-to-end learning: {dataset}", fontsize=10)
    return fig


def _write(out: Path, dataset: str, rows: list[dict[str, Any]], shared: dict[str, Any]) -> None:
    data = {"dataset": dataset, "options": shared, "entrants": rows}
    (out / "comparison.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    text = f"# {dataset}: hand-crafted features vs end-to-end learning\n\n{table(rows)}\n"
    (out / "comparison.md").write_text(text, encoding="utf-8")
    try:
        save_figure(chart(rows, dataset), out / "comparison.png")
    except ImportError:  # matplotlib missing: the table is there, the chart is not
        pass
