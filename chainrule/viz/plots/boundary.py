"""Decision boundaries of a classifier on 2-D data, alone or as the lecture's grid of them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...autograd.grad_mode import no_grad
from ...creation import tensor
from ...dtypes import float32
from ...metrics import as_labels
from ...nn.module import Module
from ._common import class_names, new_figure, to_numpy

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Rows evaluated per call, so a fine grid on a wide model needs bounded memory.
CHUNK = 16384


def _points(x: Any, y: Any, fn: str) -> tuple[np.ndarray, np.ndarray]:
    pts = to_numpy(x, fn, "x")
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] == 0:
        raise ValueError(
            f"{fn}: expected x of shape (N, 2), N >= 1 points in the plane; got shape "
            f"{tuple(pts.shape)}"
        )
    labels = as_labels(y, fn, "y")
    if labels.shape[0] != pts.shape[0]:
        raise ValueError(
            f"{fn}: expected one label per point: y of length {pts.shape[0]}; got length "
            f"{labels.shape[0]}"
        )
    return pts.astype(np.float64), labels


def predict(model: Callable[[Any], Any], points: np.ndarray, fn: str = "predict") -> np.ndarray:
    """The class a model predicts for each 2-D point, evaluated without building a graph.

    A Module is switched to eval mode for the evaluation (Dropout off) and back afterwards.

    Args:
        model: a callable taking a float32 Tensor (M, 2) and returning scores (M, C); with one
            score per point, (M,) or (M, 1), it is read as a logit: class 1 where it is > 0.
        points: array of shape (M, 2).

    Returns:
        int64 array of shape (M,).

    Example:
        >>> predict(nn.Linear(2, 3), np.zeros((5, 2))).shape
        (5,)
    """
    if not callable(model):
        raise TypeError(f"{fn}: expected a model (a callable); got {type(model).__name__}")
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(
            f"{fn}: expected points of shape (M, 2), M >= 1; got shape {tuple(points.shape)}"
        )
    was_training = getattr(model, "training", None) if isinstance(model, Module) else None
    if was_training:
        model.eval()
    out = []
    try:
        with no_grad():
            for start in range(0, len(points), CHUNK):
                chunk = points[start : start + CHUNK]
                scores = to_numpy(model(tensor(chunk, dtype=float32)), fn, "the model's output")
                if scores.ndim not in (1, 2) or scores.shape[0] != len(chunk):
                    raise ValueError(
                        f"{fn}: expected the model to return scores of shape ({len(chunk)}, C) "
                        f"for an input of shape ({len(chunk)}, 2); got shape {tuple(scores.shape)}"
                    )
                if scores.ndim == 1 or scores.shape[1] == 1:
                    pred = (scores.reshape(-1) > 0).astype(np.int64)  # one logit per point
                else:
                    pred = scores.argmax(axis=1)
                out.append(pred)
    finally:
        if was_training:
            model.train()
    return np.concatenate(out).astype(np.int64)


def class_grid(
    model: Callable[[Any], Any], x: Any, resolution: int = 200, margin: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predict the class on a regular grid covering the points ``x`` plus a margin.

    Args:
        model: see ``predict``.
        x: points, shape (N, 2).
        resolution: grid points along each axis.
        margin: added on every side, as a fraction of the data's extent along that axis.

    Returns:
        xx, yy, classes, each of shape (resolution, resolution), as ``np.meshgrid`` gives them.

    Example:
        >>> xx, yy, cls = class_grid(model, x, resolution=50)
    """
    pts = to_numpy(x, "class_grid", "x")
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] == 0:
        raise ValueError(f"class_grid: expected x of shape (N, 2); got shape {tuple(pts.shape)}")
    if not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"class_grid: resolution must be an integer >= 2; got {resolution!r}")
    lo, hi = pts.min(axis=0).astype(np.float64), pts.max(axis=0).astype(np.float64)
    extent = hi - lo
    # A single point (or a line of them) has no extent: give it one, or the grid would collapse.
    extent[extent == 0] = 1.0
    pad = extent * margin
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    return xx, yy, predict(model, grid, "class_grid").reshape(xx.shape)


def _colors(num_classes: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if num_classes <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(num_classes)]


def decision_boundary(
    model_or_fn: Callable[[Any], Any],
    x: Any,
    y: Any,
    classes: Sequence[Any] | None = None,
    resolution: int = 200,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Colour the plane by the class a model predicts, and show the labelled points on top.

    Args:
        model_or_fn: a callable taking a float32 Tensor (M, 2) and returning scores (M, C),
            such as ``nn.MLP(2, [20], 3)``; it is evaluated under ``cr.no_grad()``.
        x: the points, shape (N, 2) (Tensor or array).
        y: their labels, shape (N,).
        classes: one name per class, for the legend (default "class 0", "class 1", ...).
        resolution: grid points along each axis.
        ax: draw into this matplotlib Axes instead of a new figure.
        title: the axis title (default: "decision boundary" and the accuracy on the points
            shown, saying so).

    Returns:
        The Figure (the one ``ax`` belongs to, when given).

    Example:
        >>> fig = decision_boundary(model, x, y, classes=["red", "green", "blue"])
    """
    pts, labels = _points(x, y, "decision_boundary")
    xx, yy, grid_cls = class_grid(model_or_fn, pts, resolution)
    pred = predict(model_or_fn, pts, "decision_boundary")
    num_classes = int(max(grid_cls.max(), pred.max(), labels.max())) + 1
    if classes is not None:
        num_classes = max(num_classes, len(classes))
    names = class_names(classes, num_classes, "decision_boundary")
    if classes is None:
        names = [f"class {n}" for n in names]
    colors = _colors(num_classes)

    if ax is None:
        fig = new_figure((5, 4.5))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    # One filled level per class: level k spans k - 0.5 .. k + 0.5 and takes class k's colour.
    ax.contourf(xx, yy, grid_cls, levels=np.arange(num_classes + 1) - 0.5, colors=colors, alpha=0.3)
    for k in range(num_classes):
        mask = labels == k
        if mask.any():
            ax.scatter(
                pts[mask, 0], pts[mask, 1], s=14, color=colors[k], edgecolors="k",
                linewidths=0.4, label=names[k],
            )  # fmt: skip
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    _axes_style(ax)
    accuracy = float((pred == labels).mean())
    if title is None:
        title = f"decision boundary\naccuracy {accuracy:.1%} on the {len(labels)} points shown"
    ax.set_title(title)
    if num_classes <= 10:
        ax.legend(loc="best", fontsize=8, framealpha=0.8)
    return fig


def _axes_style(ax: Axes, xlabel: bool = True, ylabel: bool = True) -> None:
    """The plane's two coordinates named as the lecture does, and few enough ticks that their
    labels never run into each other in a small panel."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.set_xlabel("x1" if xlabel else "")
    ax.set_ylabel("x2" if ylabel else "")


def _format(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def boundary_grid(
    models: Mapping[tuple[Any, Any], Any] | Sequence[Sequence[Any]],
    x: Any,
    y: Any,
    rows: Sequence[Any] | None = None,
    cols: Sequence[Any] | None = None,
    row_label: str = "hidden units",
    col_label: str = "lambda",
    classes: Sequence[Any] | None = None,
    resolution: int = 100,
    split: str | None = None,
    titles: Sequence[Sequence[str]] | None = None,
    suptitle: str | None = None,
) -> Figure:
    """The lecture's figure: decision boundaries for hidden size (rows) x regularization (cols).

    It shows that a bigger network fits more intricate boundaries and that a stronger L2
    penalty lambda smooths them: regularize rather than shrink the network.

    Args:
        models: {(row_value, col_value): model} or {(row_value, col_value): (model, accuracy)},
            e.g. {(3, 0.001): net, ...}; or a 2-D list, ``models[i][j]`` for rows[i], cols[j].
            An accuracy (a fraction in [0, 1]) is shown in the panel's title, with ``split``.
        x: the points, shape (N, 2).
        y: their labels, shape (N,).
        rows: the row values in order (default: the sorted row values of the keys; for a list,
            0, 1, ...).
        cols: the column values in order (likewise).
        row_label: what the rows vary ("hidden units").
        col_label: what the columns vary ("lambda").
        classes: class names, for the legend of the first panel.
        resolution: grid points along each axis of each panel.
        split: which data the accuracies were measured on ("test", "validation", "train");
            required when any is given, so that no figure shows an accuracy without saying.
        titles: one title per panel, ``titles[i][j]``, instead of "row_label = r, col_label =
            c": for a layout that is not a product, such as the lecture's (hidden sizes in one
            row, lambdas on the largest network in the other).
        suptitle: the figure's title (default: what the rows and columns vary).

    Returns:
        A Figure with one axis per (row, col) pair; a pair without a model shows "no model".

    Example:
        >>> fig = boundary_grid({(h, lam): (nets[h, lam], acc[h, lam])
        ...                      for h in (3, 6, 20) for lam in (0.001, 0.01, 0.1)}, x, y,
        ...                     split="validation")
    """
    pts, labels = _points(x, y, "boundary_grid")
    if isinstance(models, Mapping):
        for key in models:
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ValueError(
                    f"boundary_grid: expected keys (row_value, col_value), e.g. (20, 0.001); "
                    f"got key {key!r}"
                )
        rows = list(rows) if rows is not None else sorted({r for r, _ in models})
        cols = list(cols) if cols is not None else sorted({c for _, c in models})
        cells = dict(models)
    else:
        table = [list(r) for r in models]
        width = {len(r) for r in table}
        if not table or len(width) != 1:
            raise ValueError(
                "boundary_grid: expected a 2-D list of models (every row the same length); got "
                f"row lengths {[len(r) for r in table]}"
            )
        rows = list(rows) if rows is not None else list(range(len(table)))
        cols = list(cols) if cols is not None else list(range(len(table[0])))
        if (len(rows), len(cols)) != (len(table), len(table[0])):
            raise ValueError(
                f"boundary_grid: expected {len(table)} row values and {len(table[0])} column "
                f"values for a {len(table)} x {len(table[0])} list of models; got {len(rows)} "
                f"and {len(cols)}"
            )
        cells = {(r, c): table[i][j] for i, r in enumerate(rows) for j, c in enumerate(cols)}
    if not rows or not cols:
        raise ValueError("boundary_grid: expected at least one model; got none")
    if split is None and any(isinstance(e, tuple) for e in cells.values()):
        raise ValueError(
            "boundary_grid: the models come with accuracies; say which data they were measured "
            'on with split= ("test", "validation" or "train")'
        )
    if titles is not None:
        titles = [list(t) for t in titles]
        if [len(t) for t in titles] != [len(cols)] * len(rows):
            raise ValueError(
                f"boundary_grid: expected titles as {len(rows)} rows of {len(cols)}; got rows "
                f"of {[len(t) for t in titles]}"
            )

    fig = new_figure((3.2 * len(cols), 3.1 * len(rows) + 0.3))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ax = fig.add_subplot(len(rows), len(cols), i * len(cols) + j + 1)
            if titles is not None:
                title = titles[i][j]
            else:
                title = f"{row_label} = {_format(r)}, {col_label} = {_format(c)}"
            entry = cells.get((r, c))
            if entry is None:
                ax.set_title(title, fontsize=9)
                ax.text(0.5, 0.5, "no model", ha="center", va="center", transform=ax.transAxes)
                ax.set_axis_off()
                continue
            model, acc = entry if isinstance(entry, tuple) else (entry, None)
            if acc is not None:
                title += f"\n{split} accuracy {_format_acc(acc)}"
            decision_boundary(model, pts, labels, classes, resolution, ax=ax, title=title)
            ax.title.set_fontsize(9)
            ax.tick_params(labelsize=7)
            _axes_style(ax, xlabel=i == len(rows) - 1, ylabel=j == 0)  # on the outer panels
            if (i, j) != (0, 0) and ax.get_legend() is not None:
                ax.get_legend().remove()
    if suptitle is None:
        suptitle = f"decision boundaries: {row_label} (rows) x {col_label} (columns)"
    fig.suptitle(suptitle)
    return fig


def _format_acc(acc: Any) -> str:
    acc = float(acc)
    return f"{acc:.1%}" if 0.0 <= acc <= 1.0 else f"{acc:g}"
