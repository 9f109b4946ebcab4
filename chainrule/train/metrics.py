"""The metrics of a run: ``chainrule.metrics``' classification metrics, and the best epoch.

Accuracy and the confusion matrix live in ``chainrule.metrics``, below both the training loop and
the figures (a drawing needs no training loop); they are re-exported here under their old names.
"""

from __future__ import annotations

from typing import Any

from ..metrics import accuracy, as_labels, confusion_counts, label_pair, per_class_accuracy

__all__ = [
    "accuracy",
    "as_labels",
    "best_row",
    "confusion_counts",
    "label_pair",
    "per_class_accuracy",
]


def best_row(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The best epoch of a run: the highest validation accuracy, ties broken by the lower
    validation loss (the first such epoch); {} for an empty history."""
    if not history:
        return {}
    return max(history, key=lambda r: (r["val_acc"], -r["val_loss"]))
