"""Learning-rate schedules: change each parameter group's ``lr`` as training goes on.

Call ``scheduler.step()`` once per epoch (or per iteration, as the schedule is meant), after
``optimizer.step()``; ``ReduceLROnPlateau.step(metric)`` takes the validation metric instead.

The schedules are PyTorch's, with the same names, arguments and learning rates step by step,
computed the way PyTorch computes them: each ``step()`` changes the group's current ``lr`` (by a
factor, or towards ``eta_min``), so two schedulers stepped on one optimizer compose (their
factors multiply, as PyTorch's chained schedulers do), and a change made to ``group["lr"]`` by
hand carries on into the next steps. ``SequentialLR`` runs schedules one after another.

Example:
    >>> w = cr.zeros(3, requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.1)
    >>> sched = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     opt.step()              # the epoch's training steps go here
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.1, 0.05, 0.05, 0.025, 0.025]
"""

from __future__ import annotations

import copy
import math
import numbers
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, SupportsFloat

from .optimizer import Optimizer, check_hyperparameter

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LinearLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"Invalid {name}: expected an int >= {low}, got {value}")


def _check_optimizer(optimizer: Any, who: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{who} expects a chainrule.optim Optimizer; got {type(optimizer).__name__}"
        )


class LRScheduler:
    """Base class of the epoch-indexed schedules: ``step()`` sets every group's ``lr``.

    A subclass implements ``get_lr()``: the learning rate of each group at epoch
    ``self.last_epoch`` from its rate now (``group["lr"]``; ``self._initial`` is True during the
    step that creating the scheduler makes), and ``_closed_form_lr()``: the same epoch's rate
    from the groups' starting rates ``self.base_lrs`` alone, where ``SequentialLR`` starts a
    schedule over. Creating a scheduler records each group's ``lr`` as its ``initial_lr``
    (unless already there) and sets the rates of epoch 0.

    Args:
        optimizer: the optimizer whose learning rates to set.
        last_epoch: the index of the last epoch done; -1 (the default) starts afresh. To resume,
            prefer ``load_state_dict``.

    Raises:
        TypeError: ``optimizer`` is not an Optimizer.
        KeyError: ``last_epoch >= 0`` but a group has no ``initial_lr``.

    Example:
        >>> opt = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> sched.step()
        >>> sched.get_last_lr()
        [0.5]
    """

    _initial = False  # True only during the step __init__ makes (not part of the state dict)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        who = type(self).__name__
        _check_optimizer(optimizer, who)
        _check_int("last_epoch", last_epoch, -1)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{who}: param_groups[{i}] has no 'initial_lr', needed to resume with "
                        f"last_epoch={last_epoch}. Load the optimizer's state dict first, or "
                        "create the scheduler with last_epoch=-1 and call load_state_dict"
                    )
        self.optimizer = optimizer
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The step that sets the rates of epoch 0 (``get_lr`` sees ``_initial`` True)."""
        self._initial = True
        try:
            self.step()
        finally:
            del self._initial

    def get_lr(self) -> list[float]:
        """The learning rate of each parameter group at epoch ``self.last_epoch``, from its
        current rate."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def _closed_form_lr(self) -> list[float]:
        """The learning rate of each group at epoch ``self.last_epoch`` from ``base_lrs``."""
        raise NotImplementedError(f"{type(self).__name__} has no closed form")

    def _restart(self) -> None:
        """Start over at epoch 0 with the starting rates (``SequentialLR``, at a milestone)."""
        self.last_epoch = 0
        self._set(self._closed_form_lr())

    def step(self) -> None:
        """Advance one epoch and set each group's ``lr`` to that epoch's rate."""
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise RuntimeError(
                f"{type(self).__name__}: the optimizer has {len(groups)} parameter groups, but "
                f"had {len(self.base_lrs)} when the scheduler was created; create the scheduler "
                "after adding every group"
            )
        self.last_epoch += 1
        self._set(self.get_lr())

    def _set(self, lrs: list[float]) -> None:
        groups = self.optimizer.param_groups
        for group, lr in zip(groups, lrs):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state as plain data (everything but the optimizer).

        Example:
            >>> opt = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
            >>> cr.optim.lr_scheduler.StepLR(opt, step_size=3).state_dict()["last_epoch"]
            0
        """
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from a dict made by ``state_dict()`` of the same kind of scheduler.

        Load the optimizer's state dict too: it holds the groups' current ``lr``.

        Raises:
            ValueError: keys or the number of parameter groups do not match.
        """
        who = type(self).__name__
        if not isinstance(state_dict, dict):
            raise ValueError(
                f"{who}.load_state_dict expects a dict; got {type(state_dict).__name__}"
            )
        own = {k for k in self.__dict__ if k != "optimizer"}
        if set(state_dict) != own:
            raise ValueError(
                f"{who}.load_state_dict: the keys do not match (missing "
                f"{sorted(own - set(state_dict))}, unexpected {sorted(set(state_dict) - own)}); "
                "was the state dict saved by another kind of scheduler?"
            )
        n_saved = len(state_dict.get("base_lrs", state_dict.get("_last_lr", ())))
        if n_saved != len(self.optimizer.param_groups):
            raise ValueError(
                f"{who}.load_state_dict: the state dict is for {n_saved} parameter groups, the "
                f"optimizer has {len(self.optimizer.param_groups)}"
            )
        self.__dict__.update(copy.deepcopy(state_dict))


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr(epoch) = initial_lr * gamma ** (epoch // step_size)``.

    Args:
        optimizer: the optimizer whose learning rates to set.
        step_size: the number of epochs between decays, >= 1.
        gamma: the factor of each decay, >= 0.
        last_epoch: see ``LRScheduler``.

    Example:
        >>> opt = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
        >>> for _ in range(3):
        ...     sched.step()
        >>> sched.get_last_lr()       # epoch 3
        [0.1]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        _check_int("step_size", step_size, 1)
        check_hyperparameter("gamma", gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]

    def _closed_form_lr(self) -> list[float]:
        k = self.last_epoch // self.step_size
        return [base_lr * self.gamma**k for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: ``initial_lr * gamma ** epoch``.

    Args:
        optimizer: the optimizer whose learning rates to set.
        gamma: the factor per epoch, >= 0.
        last_epoch: see ``LRScheduler``.

    Example:
        >>> opt = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> sched.step(); sched.step()
        >>> sched.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_hyperparameter("gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        return lrs if self._initial else [lr * self.gamma for lr in lrs]

    def _closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Anneal the learning rate from ``initial_lr`` to ``eta_min`` along half a cosine.

    ``lr(epoch) = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``: the
    rate reaches ``eta_min`` at epoch ``T_max`` and, if stepped further, rises again as the
    cosine does. Each step moves the current rate along the cosine, as PyTorch's does, so the
    formula holds while nothing else changes the rate. No restarts (SGDR).

    Args:
        optimizer: the optimizer whose learning rates to set.
        T_max: the number of epochs of the half period, > 0.
        eta_min: the smallest learning rate, >= 0.
        last_epoch: see ``LRScheduler``.

    Example:
        >>> opt = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
        >>> sched.step()
        >>> sched.get_last_lr()       # half way: (1 + cos(pi / 2)) / 2
        [0.5]
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        check_hyperparameter("T_max", T_max)
        if T_max == 0:
            raise ValueError("Invalid T_max: expected a number of epochs > 0, got 0")
        check_hyperparameter("eta_min", eta_min)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        t, period, low = self.last_epoch, self.T_max, self.eta_min
        if self._initial:
            return lrs
        if (t - 1 - period) % (2 * period) == 0:  # just past the bottom: the ratio below is 0/0
            rise = (1 - math.cos(math.pi / period)) / 2
            return [lr + (base_lr - low) * rise for lr, base_lr in zip(lrs, self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
        return [ratio * (lr - low) + low for lr in lrs]

    def _closed_form_lr(self) -> list[float]:
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * c for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear warm-up: scale the learning rate from ``start_factor`` to ``end_factor`` linearly.

    ``lr(epoch) = initial_lr * (start_factor + (end_factor - start_factor) *
    min(epoch, total_iters) / total_iters)``: with the defaults the rate starts at a third of
    ``initial_lr`` and reaches it after ``total_iters`` steps, then stays. Follow it with another
    schedule through ``SequentialLR``.

    Args:
        optimizer: the optimizer whose learning rates to set.
        start_factor: the factor at epoch 0, in (0, 1].
        end_factor: the factor from epoch ``total_iters`` on, in [0, 1].
        total_iters: the number of steps the ramp takes, >= 1.
        last_epoch: see ``LRScheduler``.

    Example:
        >>> opt = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
        >>> lrs = [sched.get_last_lr()[0]]
        >>> for _ in range(4):
        ...     sched.step()
        ...     lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        check_hyperparameter("start_factor", start_factor, high=1.0, high_inclusive=True)
        if start_factor == 0:
            raise ValueError("Invalid start_factor: expected a number in (0, 1], got 0")
        check_hyperparameter("end_factor", end_factor, high=1.0, high_inclusive=True)
        _check_int("total_iters", total_iters, 1)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        t, start, change = self.last_epoch, self.start_factor, self.end_factor - self.start_factor
        if t == 0:
            return [lr * start for lr in lrs]
        if self._initial or t > self.total_iters:
            return lrs
        # the factor of epoch t over that of epoch t - 1
        ratio = 1.0 + change / (self.total_iters * start + (t - 1) * change)
        return [lr * ratio for lr in lrs]

    def _closed_form_lr(self) -> list[float]:
        done = min(self.last_epoch, self.total_iters) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * done
        return [base_lr * factor for base_lr in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run schedules one after another: ``schedulers[i]`` from epoch ``milestones[i - 1]`` on.

    Each schedule restarts at its own epoch 0 when its turn comes; the usual use is a linear
    warm-up followed by a decay.

    Args:
        optimizer: the optimizer all the schedulers belong to.
        schedulers: the schedules, in order (not ``ReduceLROnPlateau``).
        milestones: the epochs where the next schedule takes over, one fewer than schedulers,
            increasing.
        last_epoch: see ``LRScheduler``.

    Example:
        >>> opt = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
        >>> warmup = cr.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> decay = cr.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> sched = cr.optim.lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[2])
        >>> lrs = [sched.get_last_lr()[0]]
        >>> for _ in range(4):
        ...     sched.step()
        ...     lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer, "SequentialLR")
        _check_int("last_epoch", last_epoch, -1)
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("SequentialLR expects at least one scheduler; got none")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau) or not isinstance(s, LRScheduler):
                raise TypeError(
                    f"SequentialLR: schedulers[{i}] is a {type(s).__name__}; expected an "
                    "epoch-indexed LRScheduler (ReduceLROnPlateau needs a metric)"
                )
            if s.optimizer is not optimizer:
                raise ValueError(
                    f"SequentialLR: schedulers[{i}] belongs to another optimizer; all must "
                    "belong to the one passed to SequentialLR"
                )
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR expects one milestone fewer than schedulers; got "
                f"{len(schedulers)} schedulers and {len(milestones)} milestones"
            )
        for m in milestones:
            _check_int("a milestone", m, 1)
        if any(a >= b for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"SequentialLR: milestones must increase; got {milestones}")
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        # the schedulers made their epoch 0 when created: undo that, from the starting rates,
        # and make the first one's again (as PyTorch does)
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for s in schedulers:
            s.last_epoch -= 1
        first = schedulers[bisect_right(milestones, self.last_epoch)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        """Advance one epoch in the schedule whose turn it is."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._restart()  # its turn starts: its epoch 0, from the starting rates
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """The state as plain data, the schedulers' own state dicts included."""
        sd = {
            k: copy.deepcopy(v)
            for k, v in self.__dict__.items()
            if k not in ("optimizer", "_schedulers")
        }
        sd["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from ``state_dict()``, the schedulers' states included."""
        saved = state_dict.get("_schedulers") if isinstance(state_dict, dict) else None
        if saved is None or len(saved) != len(self._schedulers):
            raise ValueError(
                "SequentialLR.load_state_dict expects a dict from SequentialLR.state_dict() with "
                f"{len(self._schedulers)} scheduler states"
            )
        for s, sd in zip(self._schedulers, saved):
            s.load_state_dict(sd)
        rest = {k: copy.deepcopy(v) for k, v in state_dict.items() if k != "_schedulers"}
        self.__dict__.update(rest)


class ReduceLROnPlateau(LRScheduler):
    """Reduce the learning rate when a metric has stopped improving.

    ``step(metric)`` once per epoch. A metric improves on the best so far when it is lower
    (``mode="min"``) or higher (``"max"``) by more than ``threshold``: relative
    (``best * (1 - threshold)`` in min mode, ``best * (1 + threshold)`` in max mode) or absolute
    (``best -/+ threshold``). After more than ``patience`` epochs without improvement, each
    group's ``lr`` becomes ``max(lr * factor, min_lr)`` (unless that changes it by no more than
    ``eps``), and the next ``cooldown`` epochs do not count as bad.

    Args:
        optimizer: the optimizer whose learning rates to set.
        mode: "min" (a loss) or "max" (an accuracy).
        factor: the factor of each reduction, in [0, 1).
        patience: the number of epochs without improvement tolerated, >= 0.
        threshold: the least change that counts as an improvement, >= 0.
        threshold_mode: "rel" or "abs".
        cooldown: the number of epochs after a reduction before bad epochs count again, >= 0.
        min_lr: the lower bound of the learning rate, one for all groups or a list of one per
            group, >= 0.
        eps: a reduction smaller than this is skipped, >= 0.

    Example:
        >>> opt = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
        >>> for loss in [3.0, 2.0, 2.0, 2.0, 1.0]:
        ...     sched.step(loss)
        >>> sched.get_last_lr()       # the second epoch without improvement halved it
        [0.5]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        _check_optimizer(optimizer, "ReduceLROnPlateau")
        if mode not in ("min", "max"):
            raise ValueError(f"Invalid mode: expected 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"Invalid threshold_mode: expected 'rel' or 'abs', got {mode!r}")
        check_hyperparameter("factor", factor, high=1.0)
        _check_int("patience", patience, 0)
        check_hyperparameter("threshold", threshold)
        _check_int("cooldown", cooldown, 0)
        check_hyperparameter("eps", eps)
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(
                    f"ReduceLROnPlateau: expected one min_lr per parameter group ({n}); got "
                    f"{len(min_lr)}"
                )
            for v in min_lr:
                check_hyperparameter("min_lr", v)
            self.default_min_lr: float | None = None
            self.min_lrs = list(min_lr)
        else:
            check_hyperparameter("min_lr", min_lr)
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric value ``a`` improves on ``best`` by more than the threshold."""
        if self.threshold_mode == "rel":
            if self.mode == "min":
                return a < best * (1 - self.threshold)
            return a > best * (1 + self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        return a > best + self.threshold

    @property
    def in_cooldown(self) -> bool:
        """Whether the epochs after the last reduction are still being ignored."""
        return self.cooldown_counter > 0

    def step(self, metrics: SupportsFloat) -> None:  # type: ignore[override]
        """Record one epoch's metric, and reduce the learning rates if it has plateaued.

        Args:
            metrics: the epoch's value of the monitored metric (a number or a one-element
                Tensor).
        """
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter groups but "
                    f"min_lr has {len(self.min_lrs)} values; set .min_lrs to one per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr
