"""Where a run's tensors live: the one place that puts the model and each batch on a device.

Where device placement plugs in: ``to_device``. The training code calls it on the model once,
right after it is built (before the optimizer is made, so the optimizer holds the placed
parameters), and on every batch as it leaves a loader (training and validation alike); nothing
else in ``chainrule.train`` names a device. Today every tensor lives on the CPU and
``to_device`` returns what it is given. ``--device`` (a later step of issue 12) gives it the
run's device: it moves the model's parameters there and each batch's Tensors.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def to_device(obj: T) -> T:
    """Put ``obj`` on the run's device: a model (``nn.Module``), a Tensor or a batch (a tuple of
    Tensors, as a ``DataLoader`` yields it).

    Returns:
        ``obj`` itself today: everything lives on the CPU.

    Example:
        >>> x, y = to_device((x, y))   # each batch, as it leaves the loader
    """
    return obj
