"""The pieces a config chooses by name: the loss, the optimizer and the learning-rate schedule.

Each is a pure function of the config (and of the model or optimizer it acts on): no data, no
files, no random draws, so building them in any order leaves a run's random stream alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import nn, optim
from ..autograd.tensor import Tensor
from ..nn import functional as F
from .config import TrainConfig


def make_loss(config: TrainConfig) -> Callable[[Tensor, Tensor], Tensor]:
    """The data loss ``--loss`` names: softmax cross-entropy or the multiclass SVM's hinge.

    The loss takes scores (B, C) and integer labels (B,) and returns their mean, a scalar.
    """
    return F.cross_entropy if config.loss == "softmax" else F.multi_margin_loss


def make_optimizer(config: TrainConfig, model: nn.Module) -> optim.Optimizer:
    """The optimizer ``--optimizer`` names, over the model's parameters, at the resolved lr."""
    lr, wd, params = config.resolved_lr, config.weight_decay, model.parameters()
    name = config.optimizer
    if name in ("sgd", "momentum", "nesterov"):
        momentum = 0.0 if name == "sgd" else config.momentum
        return optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=name == "nesterov", weight_decay=wd
        )
    cls = {"adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop}[name]
    return cls(params, lr=lr, weight_decay=wd)


def make_scheduler(config: TrainConfig, opt: optim.Optimizer) -> Any:
    """The schedule ``--schedule`` and ``--warmup`` describe, or None for a constant lr.

    "plateau" halves the lr after 3 epochs without a better validation accuracy; its ``step``
    takes that accuracy (see ``loop.end_epoch``), every other schedule's takes nothing.
    """
    lrs = optim.lr_scheduler
    main: Any = None
    if config.schedule == "step":
        main = lrs.StepLR(opt, step_size=max(1, config.epochs // 3), gamma=0.1)
    elif config.schedule == "cosine":
        main = lrs.CosineAnnealingLR(opt, T_max=max(1, config.epochs - config.warmup))
    elif config.schedule == "plateau":  # validate() refuses a warm-up with it
        return lrs.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=3)
    if not config.warmup:
        return main
    warm = lrs.LinearLR(opt, start_factor=0.1, total_iters=config.warmup)
    if main is None:
        return warm
    return lrs.SequentialLR(opt, [warm, main], milestones=[config.warmup])
