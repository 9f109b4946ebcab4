"""Classification metrics on class labels: accuracy, per-class accuracy, the confusion matrix.

They sit below both the training loop (``chainrule.train``) and the figures (``chainrule.viz``),
which use them: a drawing of a confusion matrix needs no training loop. ``chainrule.train``
re-exports them, with ``best_row``, its own metric of a run's history.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .autograd.tensor import Tensor


def as_labels(obj: Any, fn: str, name: str) -> np.ndarray:
    """Integer class labels as a 1-D int64 array (from a Tensor, an array or a list).

    Raises ValueError, naming ``fn`` and ``name``, for scores instead of labels, non-integer
    values or negative labels.
    """
    arr = obj.detach().numpy() if isinstance(obj, Tensor) else np.asarray(obj)
    if arr.ndim != 1:
        hint = " (for scores of shape (N, C), pass scores.argmax(1))" if arr.ndim == 2 else ""
        raise ValueError(
            f"{fn}: expected {name} as 1-D class labels of shape (N,); got shape "
            f"{tuple(arr.shape)}{hint}"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.number) and np.all(arr == np.round(arr))):
            raise ValueError(
                f"{fn}: expected {name} as integer class labels; got values of dtype {arr.dtype}"
            )
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{fn}: class labels must be >= 0; {name} holds {arr.min()}")
    return arr


def label_pair(y_true: Any, y_pred: Any, fn: str) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels, checked to be one of each per sample."""
    t = as_labels(y_true, fn, "y_true")
    p = as_labels(y_pred, fn, "y_pred")
    if t.shape != p.shape:
        raise ValueError(
            f"{fn}: y_true and y_pred must have one label per sample; got {t.shape[0]} true "
            f"labels and {p.shape[0]} predicted"
        )
    return t, p


def confusion_counts(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """Count each (true, predicted) pair: row i, column j holds how often class i was called j.

    Args:
        y_true: true labels, shape (N,), integers in [0, num_classes).
        y_pred: predicted labels, shape (N,) (for scores (N, C), pass ``scores.argmax(1)``).
        num_classes: C, the size of the matrix.

    Returns:
        int64 array of shape (C, C); its diagonal sums to the number of correct predictions.

    Example:
        >>> confusion_counts([0, 1, 1], [0, 0, 1], 2)
        array([[1, 0],
               [1, 1]])
    """
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(
            f"confusion_counts: num_classes must be a positive integer; got {num_classes!r}"
        )
    t, p = label_pair(y_true, y_pred, "confusion_counts")
    for name, arr in (("y_true", t), ("y_pred", p)):
        if arr.size and arr.max() >= num_classes:
            raise ValueError(
                f"confusion_counts: expected labels in [0, {num_classes}); {name} holds {arr.max()}"
            )
    flat = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The fraction of predictions equal to the labels."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if y_true.size else float("nan")


def per_class_accuracy(counts: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix (NaN for a class with no samples)."""
    totals = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(counts) / np.maximum(totals, 1), np.nan)
