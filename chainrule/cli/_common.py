"""What the subcommands share: error exits and the summary table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def fail(command: str, message: str) -> int:
    """Print ``chainrule COMMAND: error: MESSAGE`` to stderr; return the exit status 2."""
    print(f"chainrule {command}: error: {message}", file=sys.stderr)
    return 2


def discard_if_empty(made: Path | None) -> None:
    """Remove a default output folder this command made, if nothing was written into it."""
    if made is not None:
        from ..train import RunFolder

        RunFolder(made).remove_if_empty()


def print_summary(summary: dict[str, Any], run: Path | None = None, split: str = "test") -> None:
    """The accuracy on ``split`` (test, val or train), then a per-class table and the confusion
    matrix."""
    print(
        f"\n{split} accuracy {summary[f'{split}_accuracy']:.2%} on {summary[f'{split}_samples']} "
        "samples" + (f" (best epoch {summary['best_epoch']})" if summary.get("best_epoch") else "")
    )
    classes = summary["classes"]
    width = max(5, *(len(str(c)) for c in classes))
    print(f"\n{'class':>{width}}  accuracy")
    for c in classes:
        acc = summary["per_class_accuracy"][c]
        print(f"{c!s:>{width}}  {acc:8.2%}" if acc == acc else f"{c!s:>{width}}       n/a")
    counts = summary["confusion_matrix"]
    if len(classes) <= 20:
        cell = max(4, len(str(max(max(r) for r in counts))) + 1)
        print("\nconfusion matrix (rows: true class, columns: predicted)")
        print(" " * width + "".join(f"{str(c)[: cell - 1]:>{cell}}" for c in classes))
        for c, row in zip(classes, counts):
            print(f"{c!s:>{width}}" + "".join(f"{v:>{cell}}" for v in row))
    if run is not None:
        print(f"\nrun folder: {run}")
