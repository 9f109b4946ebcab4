"""The losses as Modules: ``CrossEntropyLoss()(scores, y)``, with PyTorch's constructor arguments.

Each one holds its options (and class weights, as buffers) and calls its function in ``losses``.
"""

from __future__ import annotations

import warnings
from typing import Any

from ..autograd.tensor import Tensor
from ..creation import as_tensor
from .losses import (
    _REDUCTIONS,
    _check_reduction,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    multi_margin_loss,
    nll_loss,
    smooth_l1_loss,
)
from .module import Module

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "MultiMarginLoss",
    "NLLLoss",
    "SmoothL1Loss",
]


def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated size_average/reduce, mapped to a reduction (with a warning)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    new = ("mean" if size_average else "sum") if reduce else "none"
    warnings.warn(
        f"size_average and reduce are deprecated (as in PyTorch); use reduction={new!r} instead",
        FutureWarning,
        stacklevel=4,
    )
    return new


class _Loss(Module):
    """Base of the loss modules: holds the reduction, checked at construction."""

    _allowed = _REDUCTIONS

    def __init__(
        self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
    ) -> None:
        super().__init__()
        reduction = _legacy_reduction(size_average, reduce, reduction)
        self.reduction = _check_reduction(reduction, type(self).__name__, self._allowed)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with a weight tensor, registered as a buffer (in ``state_dict``, as in PyTorch)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight))


def _buffer(value: Any) -> Tensor | None:
    return value if value is None or isinstance(value, Tensor) else as_tensor(value)


class CrossEntropyLoss(_WeightedLoss):
    """The softmax classifier's loss as a Module; see ``cross_entropy``.

    Args:
        weight: (C,) class weights or None.
        size_average: deprecated, as in PyTorch (use ``reduction``).
        reduce: deprecated, as in PyTorch (use ``reduction``).
        ignore_index: a target value that counts nothing. reduction: "mean", "sum", "none".
        label_smoothing: eps in [0, 1].

    Shapes: input (N, C), (C,) or (N, C, d1, ...); target class indices (N,), (), (N, d1, ...)
    or probabilities of the input's shape; output a scalar, or the per-sample losses for "none".

    Example:
        >>> round(CrossEntropyLoss()(cr.tensor([[3.2, 5.1, -1.7]]), cr.tensor([0])).item(), 4)
        2.0404
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: expected label_smoothing in [0, 1]; got {label_smoothing}"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        return (
            f"reduction={self.reduction!r}, ignore_index={self.ignore_index}, "
            f"label_smoothing={self.label_smoothing}"
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities as a Module; see ``nll_loss``.

    Args:
        weight: (C,) class weights or None.
        size_average: deprecated, as in PyTorch (use ``reduction``).
        reduce: deprecated, as in PyTorch (use ``reduction``).
        ignore_index: a target value that counts nothing. reduction: "mean", "sum", "none".

    Shapes: input (N, C), (C,) or (N, C, d1, ...); target (N,), () or (N, d1, ...).

    Example:
        >>> round(NLLLoss()(cr.log(cr.tensor([[0.25, 0.75]])), cr.tensor([1])).item(), 4)
        0.2877
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, ignore_index={self.ignore_index}"


class MultiMarginLoss(_WeightedLoss):
    """The multiclass SVM (hinge) loss as a Module; see ``multi_margin_loss``.

    Args:
        p: 1 or 2, the power of each hinge term.
        margin: the required gap.
        weight: (C,) class weights or None.
        size_average: deprecated, as in PyTorch (use ``reduction``).
        reduce: deprecated, as in PyTorch (use ``reduction``).
        reduction: "mean", "sum" or "none".

    Shapes: input (N, C) or (C,); target (N,) or ().

    Example:
        >>> round(MultiMarginLoss()(cr.tensor([[3.2, 5.1, -1.7]]), cr.tensor([0])).item(), 4)
        0.9667
    """

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: expected p = 1 or 2 (as PyTorch); got {p!r}")
        super().__init__(weight, size_average, reduce, reduction)
        self.p = p
        self.margin = margin

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return multi_margin_loss(
            input, target, self.p, self.margin, self.weight, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"p={self.p}, margin={self.margin}, reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error as a Module; see ``mse_loss``. Input and target of the same shape.

    Example:
        >>> MSELoss()(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0])).item()
        2.5
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error as a Module; see ``l1_loss``. Input and target of the same shape.

    Example:
        >>> L1Loss()(cr.tensor([1.0, -2.0]), cr.tensor([0.0, 0.0])).item()
        1.5
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return l1_loss(input, target, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities as a Module; see ``binary_cross_entropy``.

    Args:
        weight: elementwise weight that broadcasts to the input, or None.
        size_average: deprecated, as in PyTorch (use ``reduction``).
        reduce: deprecated, as in PyTorch (use ``reduction``).
        reduction: "mean", "sum" or "none".

    Example:
        >>> round(BCELoss()(cr.tensor([0.8]), cr.tensor([1.0])).item(), 4)
        0.2231
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy on logits as a Module; see ``binary_cross_entropy_with_logits``.

    Args:
        weight: elementwise weight that broadcasts to the input, or None.
        size_average: deprecated, as in PyTorch (use ``reduction``).
        reduce: deprecated, as in PyTorch (use ``reduction``).
        reduction: "mean", "sum" or "none".
        pos_weight: weight of the positive term, broadcast along the last dimension, or None.

    Example:
        >>> round(BCEWithLogitsLoss()(cr.tensor([0.0]), cr.tensor([1.0])).item(), 4)  # log 2
        0.6931
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        pos_weight: Any = None,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class KLDivLoss(_Loss):
    """KL divergence from target to model as a Module; see ``kl_div`` (input: log-probabilities).

    Args:
        size_average: deprecated, as in PyTorch (use ``reduction``).
        reduce: deprecated, as in PyTorch (use ``reduction``).
        reduction: "mean" (PyTorch's default: divides by every element), "batchmean" (by N: the
            KL per sample), "sum" or "none".
        log_target: whether the target holds log-probabilities.

    Example:
        >>> m = KLDivLoss(reduction="batchmean")
        >>> round(m(cr.log(cr.tensor([[0.5, 0.5]])), cr.tensor([[0.9, 0.1]])).item(), 4)
        0.3681
    """

    _allowed = ("mean", "batchmean", "sum", "none")

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, log_target={self.log_target}"


class SmoothL1Loss(_Loss):
    """The smooth L1 loss as a Module; see ``smooth_l1_loss``."""

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        beta: float = 1.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """The Huber loss as a Module; see ``huber_loss``."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)
