"""How a training run stops when asked (Ctrl-C, SIGTERM): at a safe point, saying what it saved.

A stop that is asked for is honoured where it leaves whole files behind: the files of one epoch
(best model, checkpoint, metrics.csv) are written with Ctrl-C and SIGTERM held
(``interrupts_held``), so a stop never leaves the checkpoint an epoch ahead of metrics.csv, and
``TrainingInterrupted`` says exactly what was saved and how to go on: before the first epoch,
during training, or while the figures are drawn.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class TrainingInterrupted(Exception):
    """Raised when a run is stopped by Ctrl-C or SIGTERM; what it saved is whole.

    Attributes:
        run: the run folder.
        epoch: the last epoch saved (its checkpoint and its metrics.csv row), 0 if none.
        signal_name: "SIGTERM" or "interrupted (Ctrl-C)".
        stage: "setup" (before the first epoch), "resuming" (before a resumed run's next
            epoch), "training" or "finishing" (the test evaluation, the figures and
            summary.json, after the last epoch).
        resumable: whether ``chainrule train --resume run`` continues it (False when the stop
            came before the run's config.json was written: then nothing was written).
    """

    def __init__(
        self,
        run: Path,
        epoch: int,
        signal_name: str,
        stage: str = "training",
        resumable: bool = True,
    ) -> None:
        self.run, self.epoch, self.signal_name = run, epoch, signal_name
        self.stage, self.resumable = stage, resumable
        command = f"chainrule train --resume {run}"
        if not resumable:
            message = f"stopped before training began; nothing was written to {str(run)!r}"
        elif stage == "resuming":
            message = (
                f"stopped before training resumed; the run in {str(run)!r} is as it was. "
                f"Continue with: {command}"
            )
        elif stage == "finishing":
            message = (
                f"stopped while evaluating the best model and drawing the figures; the {epoch} "
                f"epochs it trained are saved in {str(run)!r}. Finish with: {command}"
            )
        elif epoch == 0:
            message = (
                f"training stopped during epoch 1, before any epoch was saved in {str(run)!r}. "
                f"Start it again with: {command}"
            )
        else:
            message = (
                f"training stopped during epoch {epoch + 1}; the checkpoint of epoch {epoch} is "
                f"saved in {str(run)!r}. Continue with: {command}"
            )
        super().__init__(f"{signal_name}: {message}")


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, so both stop training the same clean way."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then stop as they asked.

    The files of one epoch (best model, checkpoint, metrics.csv) are written together: a stop
    that arrived in between would leave the checkpoint an epoch ahead of metrics.csv, and the
    message about what was saved wrong.
    """
    held: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        held.append(signum)

    try:
        previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if held:
        raise KeyboardInterrupt("SIGTERM" if held[0] == signal.SIGTERM else "")


class Stage:
    """Where fit() is, for the message of a stop: the stage and the last epoch saved."""

    def __init__(self, name: str) -> None:
        self.name, self.epoch = name, 0
