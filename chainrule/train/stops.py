"""How a training run stops: at a safe point when asked (Ctrl-C, SIGTERM), and when it diverges.

A stop that is asked for is honoured where it leaves whole files behind: the files of one epoch
(best model, checkpoint, metrics.csv) are written with Ctrl-C and SIGTERM held
(``interrupts_held``), so a stop never leaves the checkpoint an epoch ahead of metrics.csv, and
``TrainingInterrupted`` says exactly what was saved and how to go on: before the first epoch,
during training, or while the figures are drawn.

Divergence is judged the same way for every optimizer (``check_loss``, ``check_finite``): a
loss or a weight that is NaN or inf, or a loss over ``DIVERGED`` times its first value. Adam's
steps are lr-sized whatever the gradient, so at a huge lr its loss explodes (to 1e14 and beyond)
while staying finite; plain SGD's becomes inf. Both stop with the same message.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import nn
from ..backend import namespace


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


#: A loss this many times its first value (or 1, if that is smaller) means training diverged.
DIVERGED = 1e4


_REMEDY = "Try a smaller --lr (now {lr:g}) or --clip-grad 1.0"


def check_loss(value: float, state: dict[str, Any], epoch: int, batch: int, opt: Any) -> None:
    """Stop a diverging run, whatever its optimizer: a loss that is NaN or inf, or that grew
    over DIVERGED times its first value (state["first_loss"], kept in the checkpoint)."""
    first = state.get("first_loss")
    if first is None and math.isfinite(value):
        state["first_loss"] = first = value
    if math.isfinite(value) and value <= DIVERGED * max(first, 1.0):
        return
    where = f"at epoch {epoch}, batch {batch}"
    remedy = _REMEDY.format(lr=opt.param_groups[0]["lr"])
    if not math.isfinite(value):
        raise FloatingPointError(
            f"training diverged: the loss became {value} {where}. {remedy}, or find the op "
            "that produced it with cr.autograd.set_detect_anomaly(True)"
        )
    raise FloatingPointError(
        f"training diverged: the loss reached {value:.3g} {where}, more than {DIVERGED:.0f} "
        f"times its first value ({first:.3g}). {remedy}"
    )


def check_finite(model: nn.Module, val_loss: float, epoch: int, opt: Any) -> None:
    """After an epoch: every weight and the validation loss are finite, or training diverged."""
    remedy = _REMEDY.format(lr=opt.param_groups[0]["lr"])
    for name, p in model.named_parameters():
        xp = namespace(p._data)  # on its device: a GPU's array is no NumPy array
        if not bool(xp.all(xp.isfinite(p._data))):
            raise FloatingPointError(
                f"training diverged: the weight {name} holds NaN or inf after epoch {epoch}. "
                f"{remedy}"
            )
    if not math.isfinite(val_loss):
        raise FloatingPointError(
            f"training diverged: the validation loss became {val_loss} at epoch {epoch}. {remedy}"
        )
