"""The objects of one training run, built from its config, and their state in a checkpoint.

``build_training(config, splits)`` makes everything the loop works with, in an order that
keeps runs reproducible (the model's initial weights are the only random draw): the prepared
splits and their loaders, the model (placed with ``to_device``), the optimizer and schedule, the
training step, and the loop's own state. ``checkpoint_extra`` and ``restore`` write and read
the part of a checkpoint that is not weights, so that a resumed run continues bit for bit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import nn, optim
from ..autograd.tensor import Tensor
from ..data import DataLoader
from ..random import get_rng_state, set_rng_state
from .batches import eval_loader, feature_cache, train_loader
from .checkpoint import load_checkpoint, save_checkpoint
from .choices import make_loss, make_optimizer, make_scheduler
from .config import TrainConfig
from .device import run_device, to_device
from .models import MODELS, model_spec
from .step import StepResult, make_train_step


@dataclass
class Training:
    """Everything one run trains with.

    Attributes:
        config: the validated options.
        spec: the model's spec (``models.model_spec``), stored with its weights.
        model_meta: the model file's metadata: the spec and the preprocessing, as JSON.
        model, opt, sched: the model, its optimizer and the lr schedule (None for a constant lr).
        device: the ``cr.device`` the model lives on and every batch is moved to (``--device``).
        loss_fn: the data loss, ``loss_fn(scores, y)``: the step's, and validation's.
        step: the training step, ``step(x, y, check)`` (``step.make_train_step``).
        train_loader, val_loader: Tensor batches of the prepared training and validation splits.
        sizes: the number of samples of each split (train, val, test).
        state: the loop's state, saved in every checkpoint: "epoch" (the last one done),
            "history" (the metrics rows), "best" ([val_acc, -val_loss] of the best epoch),
            "best_epoch", "bad_epochs" (epochs since a better validation accuracy) and
            "first_loss" (the first batch's loss: divergence is measured against it).
        reduce_totals: the training epoch's sums in this process ([loss x samples, correct,
            samples]) -> the run's. Where data parallelism plugs in: in one process the sums
            as they are; over MPI ranks, each rank's shards summed over the ranks
            (``chainrule.distributed``).
    """

    config: TrainConfig
    spec: dict[str, Any]
    model_meta: dict[str, str]
    model: nn.Module
    device: Any
    opt: optim.Optimizer
    sched: Any
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    step: Callable[..., StepResult]
    train_loader: DataLoader
    val_loader: DataLoader
    sizes: dict[str, int]
    state: dict[str, Any]
    reduce_totals: Callable[[list[float]], list[float]] = list


def new_state() -> dict[str, Any]:
    """The loop's state before its first epoch (the key order is the checkpoint's)."""
    return {
        "epoch": 0,
        "history": [],
        "best": None,
        "best_epoch": 0,
        "bad_epochs": 0,
        "first_loss": None,
    }


def build_training(config: TrainConfig, splits: Any, compile: bool = True) -> Training:
    """The model, optimizer, schedule, step and loaders of a run of ``config`` on ``splits``;
    with ``compile``, the step is recorded and replayed (``cr.compile``: the same numbers)."""
    family = MODELS[config.model]
    if config.features != "pixels":  # config.validate checked the family takes features
        prep = family.preprocess.fit(
            splits.x_train, features=config.features, cache=feature_cache(config)
        )
    else:
        prep = family.preprocess.fit(splits.x_train)
    x_train, x_val = prep(splits.x_train), prep(splits.x_val)
    spec = model_spec(config, splits, x_train)
    where = run_device(config.device)
    model = to_device(family.build(spec), where)  # draws the initial weights
    opt = make_optimizer(config, model)
    loss_fn = make_loss(config)
    # one metadata entry: safetensors stores several in no fixed order, and a run's files should
    # repeat byte for byte
    meta = {"chainrule.model": json.dumps({"spec": spec, "preprocess": prep.to_json()})}
    return Training(
        config=config,
        spec=spec,
        model_meta=meta,
        model=model,
        device=where,
        opt=opt,
        sched=make_scheduler(config, opt),
        loss_fn=loss_fn,
        step=make_train_step(config, model, opt, loss_fn, compile),
        train_loader=train_loader(config, x_train, splits.y_train),
        val_loader=eval_loader(x_val, splits.y_val),
        sizes={"train": len(x_train), "val": len(x_val), "test": len(splits.x_test)},
        state=new_state(),
    )


def save_training(t: Training, path: Path) -> None:
    """Write the checkpoint of the epoch just done: weights, optimizer, and everything else."""
    save_checkpoint(path, t.model.state_dict(), t.opt.state_dict(), checkpoint_extra(t))


def checkpoint_extra(t: Training) -> dict[str, Any]:
    """The checkpoint's JSON part: the loop's state, the schedule, the data order, the RNG."""
    return {
        "state": t.state,
        "scheduler": t.sched.state_dict() if t.sched is not None else None,
        "loader": t.train_loader.state_dict(),
        "rng": get_rng_state(),
    }


def restore(t: Training, checkpoint: Path, run_path: Path) -> None:
    """Continue ``t`` from a checkpoint: every piece exactly as it was saved.

    Raises:
        ValueError: naming the checkpoint, when it does not fit this run's model or optimizer
            (a checkpoint from before the digest, changed by hand).
    """
    model_state, opt_state, extra = load_checkpoint(checkpoint)
    try:
        t.model.load_state_dict(model_state)
        t.opt.load_state_dict(opt_state)
        if t.sched is not None:
            t.sched.load_state_dict(extra["scheduler"])
        t.train_loader.load_state_dict(extra["loader"])
        set_rng_state(extra["rng"])
        t.state.update(extra["state"])
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        why = " ".join(str(e).split())  # load_state_dict's message has several lines
        raise ValueError(
            f"{str(checkpoint)!r} does not fit the run in {str(run_path)!r} ({why}); "
            "start the run again with --overwrite"
        ) from None
