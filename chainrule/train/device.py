"""Where a run's tensors live: the one place that puts the model and each batch on a device.

Where device placement plugs in: ``run_device`` turns ``--device`` into a ``cr.device`` once
per run, and ``to_device`` is called on the model right after it is built (before the
optimizer is made, so the optimizer holds the placed parameters) and on every batch as it
leaves a loader (training and validation alike); nothing else in ``chainrule.train`` names a
device. Loaders yield CPU tensors; on the CPU ``to_device`` returns them as they are.
"""

from __future__ import annotations

from typing import Any, TypeVar

from .. import backend
from ..autograd.tensor import Tensor
from ..nn import Module

T = TypeVar("T")

#: ``--device``'s choices; ``cuda:N`` names one GPU, ``strict`` runs on array-api-strict (a
#: device for proving the engine portable, slow; see docs/engine.md).
DEVICES = ("auto", "cpu", "cuda", "strict")


def check_device(name: Any) -> str:
    """``--device``'s value, checked: auto, cpu, cuda, cuda:N, strict or strict:N."""
    kind, _, index = str(name).partition(":") if isinstance(name, str) else ("", "", "")
    if kind not in DEVICES or (index and (kind == "auto" or kind == "cpu" or not index.isdigit())):
        raise ValueError(
            f"--device: expected one of {', '.join(DEVICES)} (cuda:N for one GPU); got {name!r}"
        )
    return name


def run_device(name: str) -> backend.device:
    """The device ``--device name`` trains on: ``auto`` is the GPU when CuPy finds one, else
    the CPU. A device that cannot be used here is a ValueError saying why."""
    if name == "auto":
        return backend.device("cuda" if backend.available("cuda") else "cpu")
    try:
        return backend.resolve(name)
    except RuntimeError as e:
        raise ValueError(f"--device {name}: {e}") from None


def to_device(obj: T, where: backend.device) -> T:
    """Put ``obj`` on device ``where``: a model (``nn.Module``, moved in place), a Tensor or a
    batch (a tuple of Tensors, as a ``DataLoader`` yields it).

    Example:
        >>> x, y = to_device((x, y), t.device)   # each batch, as it leaves the loader
    """
    if isinstance(obj, Module):
        return obj.to(where)
    if isinstance(obj, Tensor):
        return obj.to(where)
    if isinstance(obj, tuple):
        return tuple(to_device(o, where) for o in obj)
    raise TypeError(f"to_device: expected a Module, a Tensor or a tuple of them; got {type(obj)}")
