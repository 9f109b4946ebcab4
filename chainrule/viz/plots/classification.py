"""The confusion matrix: which classes a classifier takes for which."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...metrics import confusion_counts, label_pair
from ._common import class_names, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Past this many classes the cells are too small to read a number in.
MAX_ANNOTATED = 20


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    classes: Sequence[Any] | None = None,
    normalize: bool = False,
    split: str | None = None,
) -> Figure:
    """Draw the confusion matrix, rows true and columns predicted, with the counts in the cells.

    Args:
        y_true: true labels, shape (N,).
        y_pred: predicted labels, shape (N,).
        classes: one name per class, in label order; by default the labels 0..C-1, with C one
            more than the largest label seen.
        normalize: divide each row by its total, so that a row shows where that true class goes
            (the diagonal is then each class's recall).
        split: which data the labels are ("test", "validation"), named in the title with the
            accuracy; without it the title says the accuracy is over these samples.

    Returns:
        A Figure with the matrix and its colour bar (two axes). Cells are annotated (counts, or
        fractions when normalized) when there are at most 20 classes.

    Example:
        >>> fig = confusion_matrix(y, model(x).argmax(1), classes=["cat", "car", "frog"])
    """
    t, p = label_pair(y_true, y_pred, "confusion_matrix")
    seen = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    if classes is not None:
        num_classes = len(classes)
        if seen > num_classes:
            raise ValueError(
                f"confusion_matrix: expected labels in [0, {num_classes}) for the "
                f"{num_classes} class names given; got label {seen - 1}"
            )
    else:
        num_classes = max(seen, 1)
    names = class_names(classes, num_classes, "confusion_matrix")
    counts = confusion_counts(t, p, num_classes)
    values: np.ndarray = counts
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        # A class with no samples has an empty row: show zeros, not NaN.
        values = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)

    size = min(3 + 0.5 * num_classes, 14)
    fig = new_figure((size + 1, size))
    ax = fig.add_subplot()
    im = ax.imshow(values, cmap="Blues", vmin=0, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="fraction of the true class" if normalize else "count")
    ticks = np.arange(num_classes)
    long_names = max(map(len, names)) > 3
    ax.set_xticks(
        ticks, names, rotation=45 if long_names else 0, ha="right" if long_names else "center"
    )
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    if split:
        ax.set_title(f"confusion matrix, {split} split\n{split} accuracy {accuracy:.2%} on "
                     f"{counts.sum()} samples")  # fmt: skip
    else:
        ax.set_title(f"confusion matrix\naccuracy {accuracy:.1%} on these {counts.sum()} samples")
    if num_classes <= MAX_ANNOTATED:
        high = values.max() if values.size else 0
        for i in range(num_classes):
            for j in range(num_classes):
                v = values[i, j]
                ax.text(
                    j,
                    i,
                    f"{v:.2f}" if normalize else str(v),
                    ha="center",
                    va="center",
                    fontsize=9 if num_classes <= 10 else 7,
                    # White on dark cells, black on light ones.
                    color="white" if high and v > 0.6 * high else "black",
                )
    return fig
