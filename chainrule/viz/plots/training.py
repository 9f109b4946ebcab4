"""Figures of a training run: learning curves and the gradients that reach each layer."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...nn.module import Module
from ._common import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

METRICS = ("train_loss", "val_loss", "train_acc", "val_acc")


def _number(v: Any) -> float:
    """A metric value as a float; missing ones (None, "", "nan") as NaN, so lines show gaps."""
    if v is None or (isinstance(v, str) and v.strip().lower() in ("", "nan", "none")):
        return math.nan
    return float(v)


def _read_metrics_csv(path: Path) -> list[dict[str, Any]]:
    if path.is_dir():
        path = path / "metrics.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"learning_curves: no metrics file at {str(path)!r}; expected a run folder holding "
            "metrics.csv (columns epoch, train_loss, val_loss, train_acc, val_acc)"
        )
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        if not any(c in columns for c in METRICS):
            raise ValueError(
                f"learning_curves: {str(path)!r} has no metric columns; expected a header with "
                f"some of {['epoch', *METRICS]}; got {columns}"
            )
        return list(reader)


def _series(history: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    epochs = np.array(
        [_number(r.get("epoch")) for r in history], dtype=np.float64
    )  # a missing epoch number falls back to the row's position, counting from 1
    fallback = np.arange(1, len(history) + 1, dtype=np.float64)
    epochs = np.where(np.isnan(epochs), fallback, epochs)
    series = {}
    for key in METRICS:
        try:
            values = np.array([_number(r.get(key)) for r in history], dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"learning_curves: {key} must hold numbers ({e})") from None
        if not np.isnan(values).all():
            series[key] = values
    return epochs, series


def learning_curves(history: Sequence[Mapping[str, Any]] | str | os.PathLike) -> Figure:
    """Plot loss and accuracy against the epoch, for the training and validation sets.

    Args:
        history: one dict per epoch with keys epoch, train_loss, val_loss, train_acc, val_acc
            (any may be missing or None: that curve is left out, or shows a gap), or the path
            of a run folder holding metrics.csv with those columns (or of the csv itself).

    Returns:
        A Figure with two axes: loss (left) and accuracy (right).

    Example:
        >>> fig = learning_curves([{"epoch": 1, "train_loss": 1.2, "val_loss": 1.3},
        ...                        {"epoch": 2, "train_loss": 0.8, "val_loss": 1.0}])
        >>> fig = learning_curves("runs/digits-mlp")
    """
    if isinstance(history, (str, os.PathLike)):
        history = _read_metrics_csv(Path(history))
    if isinstance(history, Mapping) or not isinstance(history, Sequence):
        raise TypeError(
            "learning_curves: expected a list of per-epoch dicts or a run folder path; got "
            f"{type(history).__name__}"
        )
    if not history:
        raise ValueError("learning_curves: expected at least one epoch of metrics; got none")
    for i, row in enumerate(history):
        if not isinstance(row, Mapping):
            raise TypeError(
                f"learning_curves: expected each epoch as a dict; entry {i} is {type(row).__name__}"
            )
    epochs, series = _series(history)
    if not series:
        raise ValueError(
            f"learning_curves: no metric values found; expected keys among {list(METRICS)}; "
            f"got {sorted(history[0])}"
        )
    marker = "o" if len(epochs) <= 30 else None  # a few epochs: show each one
    fig = new_figure((10, 4))
    for ax, kind, ylabel in zip(fig.subplots(1, 2), ("loss", "acc"), ("loss", "accuracy")):
        for split, label, style in (("train", "train", "-"), ("val", "validation", "--")):
            values = series.get(f"{split}_{kind}")
            if values is not None:
                ax.plot(epochs, values, style, marker=marker, markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(ylabel)
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend()
        else:
            ax.text(0.5, 0.5, f"no {ylabel} recorded", ha="center", va="center",
                    transform=ax.transAxes)  # fmt: skip
    return fig


def mean_abs_grads(module: Module) -> dict[str, float]:
    """The mean |gradient| of each weight matrix of a module, to call after ``backward()``.

    Biases and 1-D parameters (normalization scales) are left out: the weights show how much
    signal reaches each layer. Parameters without a gradient (frozen) are skipped.

    Args:
        module: e.g. an ``nn.MLP``, after ``loss.backward()``.

    Returns:
        {parameter name: mean |grad|}, e.g. {"0.weight": 3.1e-3, "2.weight": 1.2e-2}.

    Example:
        >>> loss.backward()
        >>> history.append(mean_abs_grads(model))
    """
    if not isinstance(module, Module):
        raise TypeError(f"mean_abs_grads: expected a Module; got {type(module).__name__}")
    out = {}
    weights = [(n, p) for n, p in module.named_parameters() if p.ndim >= 2]
    for name, p in weights:
        if p.grad is not None:
            out[name] = float(np.abs(p.grad.detach().numpy()).mean())
    if weights and not out:
        raise ValueError("mean_abs_grads: no weight has a gradient yet; call loss.backward() first")
    return out


def gradient_flow(
    history: Sequence[Mapping[str, float]] | Mapping[str, Sequence[Mapping[str, float]]],
    layer_names: Sequence[str] | None = None,
    xlabel: str = "step",
) -> Figure:
    """Plot the mean |gradient| of each layer over training, on a log scale.

    With sigmoid activations the gradient shrinks layer by layer on its way back (sigmoid's
    derivative is at most 0.25), so the first layers barely learn; with ReLU the lines stay
    close together. This figure shows it: give several runs (``{"sigmoid": ..., "relu": ...}``)
    and they stand side by side on one shared axis, so their gradients compare at a glance.
    Layers are called as the lecture counts them, "layer 1" (next to the input) to "layer n".

    Args:
        history: one dict per step (or epoch), {layer name: mean |grad|}, e.g. from
            ``mean_abs_grads(model)`` after each backward; or {run label: such a list}, one
            panel per run.
        layer_names: the layers to draw, in this order (default: all, in order of appearance,
            which is the network's order).
        xlabel: what one entry of a history is.

    Returns:
        A Figure with one axis per run (sharing the y axis), one line per layer.

    Example:
        >>> fig = gradient_flow({"sigmoid": sigmoid_history, "relu": relu_history})
    """
    runs = _runs(history)
    fig = new_figure((4.2 * len(runs) + 1.6, 4.5))
    axes = fig.subplots(1, len(runs), sharey=True, squeeze=False)[0]
    for ax, (label, rows) in zip(axes, runs.items()):
        seen = list(dict.fromkeys(k for row in rows for k in row))
        names = seen if layer_names is None else list(layer_names)
        missing = [n for n in names if n not in seen]
        if missing:
            raise ValueError(
                f"gradient_flow: layers {missing} are not in the history; expected names among "
                f"{seen}"
            )
        if not names:
            raise ValueError("gradient_flow: the history names no layer")
        steps = np.arange(len(rows))
        for name in names:
            values = np.array([_number(row.get(name)) for row in rows], dtype=np.float64)
            # Zero gradients (a dead layer) cannot be drawn on a log scale: gaps, not errors.
            values[values <= 0] = np.nan
            ax.plot(steps, values, label=f"layer {seen.index(name) + 1}")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_title(label or "mean |gradient| per layer")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("mean |gradient|")
    axes[-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle("gradient flow: mean |gradient| of each layer's weights (layer 1: the input's)")
    return fig


def _runs(history: Any) -> dict[str, Sequence[Mapping[str, float]]]:
    """``history`` as {run label: list of rows}; one unlabelled run for a plain list."""
    if (
        isinstance(history, Mapping)
        and history
        and all(isinstance(v, Sequence) and not isinstance(v, str) for v in history.values())
    ):
        runs = {str(k): v for k, v in history.items()}
    elif isinstance(history, Sequence) and not isinstance(history, str):
        runs = {"": history}
    else:
        runs = {}
    if not runs or any(not rows for rows in runs.values()):
        raise ValueError(
            "gradient_flow: expected a non-empty list of {layer name: mean |grad|} dicts, or "
            f"{{run label: such a list}}; got {history!r:.80}"
        )
    for label, rows in runs.items():
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                where = f" of run {label!r}" if label else ""
                raise TypeError(
                    f"gradient_flow: expected each entry as a dict; entry {i}{where} is "
                    f"{type(row).__name__}"
                )
    return runs
