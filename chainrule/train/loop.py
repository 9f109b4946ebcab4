"""The epoch loop: train on every batch, validate, keep the best model, save the epoch.

``run_epochs`` runs the epochs a ``Training`` (``training.py``) has left: each is
``train_epoch`` (the training step on every batch), ``validate`` (the loss and accuracy on the
validation split) and ``end_epoch`` (the best model, early stopping's count, the schedule, the
checkpoint and metrics.csv, written together with Ctrl-C held). A batch is a Tensor from the
loader to the loss; it passes ``to_device`` (``device.py``) on its way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import optim
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..backend import CPU, to_numpy
from ..data import DataLoader
from ..metrics import accuracy
from ..ops import cat
from ..serialization import save, sync_file
from .device import to_device
from .run import RunFolder
from .stops import Stage, check_finite, check_loss, interrupts_held
from .training import Training, save_training

log = logging.getLogger(__name__)


def run_epochs(
    t: Training,
    run: RunFolder | None,
    stage: Stage,
    progress: bool = False,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Train the epochs after ``t.state["epoch"]`` up to ``t.config.epochs``, saving each one.

    Early stopping is checked before each epoch, so that a resumed run that had stopped stays
    stopped. ``report`` gets each epoch's metrics row once its files are saved. With ``run``
    None nothing is written (the ranks of a data-parallel run other than rank 0, which writes).
    """
    stage.name = "training"
    for epoch in range(t.state["epoch"] + 1, t.config.epochs + 1):
        if t.config.early_stopping and t.state["bad_epochs"] >= t.config.early_stopping:
            log.info("early stopping after epoch %d", epoch - 1)
            break
        start = time.perf_counter()
        train_loss, train_acc = train_epoch(t, epoch, progress)
        val_loss, val_acc = validate(t, epoch)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": t.opt.param_groups[0]["lr"],
            "seconds": round(time.perf_counter() - start, 4),
        }
        with interrupts_held():  # the epoch's files are saved together, or not at all
            end_epoch(t, run, row)
            stage.epoch = epoch
        if report is not None:
            report(row)


def train_epoch(t: Training, epoch: int, progress: bool = False) -> tuple[float, float]:
    """One pass of the training step over the shuffled training batches.

    Returns:
        The epoch's mean training loss (each batch's loss, before its update, weighted by its
        size) and its training accuracy (of the same scores).

    Raises:
        FloatingPointError: a batch's loss diverged (``stops.check_loss``), before its update.
    """
    t.model.train()
    total_loss, correct, seen = 0.0, 0, 0
    batches = _with_progress(t.train_loader, f"epoch {epoch}/{t.config.epochs}", progress)
    for b, batch in enumerate(batches, start=1):
        x, y = to_device(batch, t.device)
        result = t.step(x, y, check=lambda loss, b=b: check_loss(loss, t.state, epoch, b, t.opt))
        n = len(y)
        total_loss += result.loss * n
        correct += count_correct(result.scores, y)
        seen += n
    total_loss, correct, seen = t.reduce_totals([total_loss, correct, seen])  # over the ranks
    return total_loss / seen, correct / seen


def count_correct(scores: Tensor, y: Tensor) -> int:
    """How many rows of scores (B, C) have their highest score at the label y (B,)."""
    # on the arrays, brought to the CPU: Tensor ops (or .detach().cpu().numpy(), 7.6 us against
    # 3.1) would cost a digits step several percent, for one integer
    return int(np.count_nonzero(to_numpy(scores._data).argmax(1) == to_numpy(y._data)))


def validate(t: Training, epoch: int) -> tuple[float, float]:
    """The data loss and the accuracy on the validation split (the model as it is: no
    ``eval()``, as the loop has always measured it).

    Raises:
        FloatingPointError: a weight or the validation loss is NaN or inf.
    """
    scores, y = predict(t.model, t.val_loader, t.device)
    with no_grad():
        val_loss = t.loss_fn(scores, y).item()
    check_finite(t.model, val_loss, epoch, t.opt)
    return val_loss, accuracy(y.cpu().numpy(), scores.argmax(1).cpu().numpy())


def predict(model: Any, loader: DataLoader, where: Any = CPU) -> tuple[Tensor, Tensor]:
    """Scores (N, C) and labels (N,) of every batch of ``loader`` on device ``where`` (the
    model's), joined, without a graph."""
    scores, labels = [], []
    with no_grad():
        for batch in loader:
            x, y = to_device(batch, where)
            scores.append(model(x))
            labels.append(y)
    return cat(scores), cat(labels)


def end_epoch(t: Training, run: RunFolder | None, row: dict[str, Any]) -> None:
    """Record the epoch whose metrics are ``row``: keep the model if it is the best so far,
    count early stopping's epochs, step the schedule, then save the checkpoint and metrics.csv.

    Called with Ctrl-C and SIGTERM held: the epoch's files are saved together, or not at all.
    """
    state, epoch = t.state, row["epoch"]
    state["history"].append(row)
    better_acc = keep_best(t, run, row)
    # early stopping counts epochs without a better validation accuracy
    state["bad_epochs"] = 0 if better_acc else state["bad_epochs"] + 1
    if isinstance(t.sched, optim.lr_scheduler.ReduceLROnPlateau):
        t.sched.step(row["val_acc"])
    elif t.sched is not None:
        t.sched.step()
    state["epoch"] = epoch
    if run is not None:
        save_training(t, run.checkpoint)
        run.write_metrics(state["history"])


def keep_best(t: Training, run: RunFolder | None, row: dict[str, Any]) -> bool:
    """Save the model as the run's best if this epoch is (into ``run``, unless None); True if
    its accuracy is a new best.

    The best epoch has the highest validation accuracy, ties broken by the lower loss (a small
    validation set ties often, and the first tie is often under-trained).
    """
    state, epoch = t.state, row["epoch"]
    val_acc, val_loss = row["val_acc"], row["val_loss"]
    better_acc = state["best"] is None or val_acc > state["best"][0]
    if state["best"] is None or [val_acc, -val_loss] > state["best"]:
        state.update(best=[val_acc, -val_loss], best_epoch=epoch)
        # not flushed: the checkpoint saved next holds these weights (crash safety, run.py)
        if run is not None:
            save(t.model.state_dict(), run.model, metadata=t.model_meta, durable=False)
    elif state["best_epoch"] == epoch - 1 and run is not None:
        sync_file(run.model)  # the checkpoint saved next will no longer hold these weights
    return better_acc


def _with_progress(batches: Iterable, desc: str, progress: bool) -> Iterable:
    """The batches, behind a tqdm progress bar when asked for and tqdm is installed."""
    if not progress:
        return batches
    try:
        from tqdm import tqdm
    except ImportError:
        return batches
    return tqdm(batches, desc=desc, leave=False, unit="batch")
