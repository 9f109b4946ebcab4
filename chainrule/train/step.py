"""One training step: forward, loss, backward, the gradient hooks, the optimizer's update.

``TrainStep`` owns everything that happens to one batch, and nothing else: the epoch loop
(``loop.py``) hands it Tensors and gets back the loss and the scores. Two later pieces of work
plug in here:

- **A compiled step** (``cr.compile``, on by default, ``--no-compile`` off): the forward, the
  loss and backward (``TrainStep.forward_backward``) are recorded and replayed on arrays; the
  loss's value, the check, the hooks and the update run after it as they always did. The
  numbers are the eager step's, bit for bit; the loop never knows.
- **Gradient allreduce** (averaging gradients over MPI ranks): ``TrainStep.grad_hooks``, called
  in order with the model between ``backward()`` and ``optimizer.step()``. Averaging goes first
  (``step.grad_hooks.insert(0, allreduce)``), so that gradient clipping, the hook that
  ``--clip-grad`` adds, clips the averaged gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from .. import nn, optim
from ..autograd.tensor import Tensor
from ..compiler import compile as cr_compile
from .config import TrainConfig

#: A gradient hook: called with the model after backward, before the optimizer's step; it may
#: change the parameters' ``.grad`` in place.
GradHook = Callable[[nn.Module], None]


class StepResult(NamedTuple):
    """What one step gives back: the loss as a float (before the update) and the scores (B, C)."""

    loss: float
    scores: Tensor


class TrainStep:
    """Forward, loss, backward, gradient hooks and update, on one batch.

    Args:
        model: the model, in training mode.
        opt: the optimizer over the model's parameters.
        loss_fn: the data loss, ``loss_fn(scores, y)`` -> a scalar Tensor.
        reg: lambda of the L2 penalty lambda * sum(W^2) added to the loss (0 for none).
        grad_hooks: called in order with the model after backward, before the update.
        compile: record and replay ``forward_backward`` with ``cr.compile`` (the same numbers;
            a step it cannot replay runs eagerly, with a warning).

    Example:
        >>> step = TrainStep(model, opt, F.cross_entropy)
        >>> result = step(x, y)            # x (B, D) and y (B,) Tensors
        >>> result.loss, result.scores.shape
        (2.30..., (B, C))
    """

    def __init__(
        self,
        model: nn.Module,
        opt: optim.Optimizer,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        reg: float = 0.0,
        grad_hooks: Sequence[GradHook] = (),
        compile: bool = False,
    ) -> None:
        self.model, self.opt, self.loss_fn, self.reg = model, opt, loss_fn, reg
        self.grad_hooks: list[GradHook] = list(grad_hooks)
        self.compiled = cr_compile(self.forward_backward) if compile else None

    def loss(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Forward: ``(loss, scores)``, the loss being the data loss plus lambda R(W)."""
        scores = self.model(x)
        loss = self.loss_fn(scores, y)
        if self.reg:
            loss = loss + self.reg * nn.l2_penalty(self.model)
        return loss, scores

    def forward_backward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Zero the gradients, forward, backward: ``(loss, scores)``, what ``cr.compile``
        records and replays."""
        self.opt.zero_grad()
        loss, scores = self.loss(x, y)
        loss.backward()
        return loss, scores

    def __call__(
        self, x: Tensor, y: Tensor, check: Callable[[float], None] | None = None
    ) -> StepResult:
        """One step on the batch ``(x, y)``.

        Args:
            x: the samples, (B, ...) as the model takes them.
            y: the labels, (B,).
            check: called with the loss's value before anything is changed: it may raise (the
                divergence check does) and then no gradient or weight is touched.

        Returns:
            The loss's value and the scores, both from before the update.

        Compiled, the gradients are computed before ``check`` runs (a replay is forward and
        backward in one); the weights and the optimizer's state are still untouched when it
        raises.
        """
        if self.compiled is not None:
            loss, scores = self.compiled(x, y)
            value = loss.item()
            if check is not None:
                check(value)
            for hook in self.grad_hooks:
                hook(self.model)
            self.opt.step()
            return StepResult(value, scores)
        loss, scores = self.loss(x, y)
        value = loss.item()
        if check is not None:
            check(value)
        self.opt.zero_grad()
        loss.backward()
        for hook in self.grad_hooks:
            hook(self.model)
        self.opt.step()
        return StepResult(value, scores)


def clip_hook(max_norm: float) -> GradHook:
    """The hook of ``--clip-grad``: scale the gradients so that their total norm is at most
    ``max_norm``."""

    def clip(model: nn.Module) -> None:
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)

    return clip


def make_train_step(
    config: TrainConfig,
    model: nn.Module,
    opt: optim.Optimizer,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    compile: bool = False,
) -> TrainStep:
    """The step a config describes: the data loss, its ``--reg``, and ``--clip-grad`` as a hook;
    with ``compile``, recorded and replayed by ``cr.compile`` (see ``TrainStep``)."""
    hooks = [clip_hook(config.clip_grad)] if config.clip_grad else []
    return TrainStep(model, opt, loss_fn, config.reg, hooks, compile)
