"""Classification metrics: accuracy, per-class accuracy and the confusion matrix."""

from __future__ import annotations

import numpy as np


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: rows are true classes, columns predicted.

    Example:
        >>> confusion_counts(np.array([0, 1, 1]), np.array([0, 0, 1]), 2)
        array([[1, 0],
               [1, 1]])
    """
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"confusion_counts: {y_true.size} true labels but {y_pred.size} predictions"
        )
    for name, y in (("true labels", y_true), ("predictions", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(
                f"confusion_counts: {name} must be in [0, {num_classes}); found values in "
                f"[{y.min()}, {y.max()}]"
            )
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The fraction of predictions equal to the labels."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if y_true.size else float("nan")


def per_class_accuracy(counts: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix (NaN for a class with no samples)."""
    totals = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(counts) / np.maximum(totals, 1), np.nan)
