"""Where a run's tensors live: the one place that puts the model and each batch on a device.

Where device placement plugs in: ``run_device`` turns ``--device`` into a ``cr.device`` once
per run, and ``to_device`` is called on the model right after it is built (before the
optimizer is made, so the optimizer holds the placed parameters) and on every batch as it
leaves a loader (training and validation alike); nothing else in ``chainrule.train`` names a
device. Loaders yield CPU tensors; on the CPU ``to_device`` returns them as they are.

In a data-parallel run (``chainrule.distributed``) every rank of a node needs a device of its
own: inside ``one_device_per_rank``, a ``--device`` without an index (``cuda``, ``strict``, and
``auto`` where it finds a GPU) means the device of index *local rank*, and a node with fewer
devices than ranks is a clear error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
    the CPU; inside ``one_device_per_rank``, the local rank's device of that type when ``name``
    gives no index. A device that cannot be used here is a ValueError saying why."""
    if name == "auto":
        where = backend.device("cuda" if backend.available("cuda") else "cpu")
    else:
        try:
            where = backend.resolve(name)
        except RuntimeError as e:
            raise ValueError(f"--device {name}: {e}") from None
    if _local_rank is not None and where.type != "cpu" and where.index is None:
        where = _rank_device(name, where.type, *_local_rank)
    return where


#: ``(local rank, ranks on this node)`` inside ``one_device_per_rank``; None outside
_local_rank: tuple[int, int] | None = None


@contextmanager
def one_device_per_rank(local_rank: int, local_size: int) -> Iterator[None]:
    """Inside: each rank of a node trains on a device of its own (``run_device``).

    A ``--device`` without an index (``cuda``, ``strict``, ``auto`` where CuPy finds a GPU)
    means index ``local_rank``: the node's ranks 0, 1, ... on ``cuda:0``, ``cuda:1``, ... (on
    a GPU, it also becomes CuPy's current device, where CuPy allocates and launches). A node
    with fewer devices than ``local_size`` is a ValueError on each of its ranks. ``cpu`` and an
    explicit index (``cuda:1``: every rank of the node on that one GPU) are taken as they are.

    Args:
        local_rank: this process's index among the ranks on its node.
        local_size: the number of ranks on its node.

    Example:
        >>> with one_device_per_rank(1, 2):      # the second rank of a node
        ...     run_device("strict")
        device(type='strict', index=1)
    """
    global _local_rank
    if not 0 <= local_rank < local_size:
        raise ValueError(
            f"one_device_per_rank: expected 0 <= local_rank < local_size; got {local_rank} "
            f"and {local_size}"
        )
    saved, _local_rank = _local_rank, (local_rank, local_size)
    try:
        yield
    finally:
        _local_rank = saved


def _rank_device(name: str, kind: str, local_rank: int, local_size: int) -> backend.device:
    """Device ``kind:local_rank``, once the node is known to have one for each of its ranks."""
    have = backend.device_count(kind)
    if have < local_size:
        raise ValueError(
            f"--device {name}: the {local_size} ranks on this node each need a {kind} device "
            f"of their own ({kind}:0 to {kind}:{local_size - 1}), but this node has {have}. "
            f"Start at most {have} rank{'s' * (have != 1)} per node (MPICH: mpiexec -ppn {have}; "
            f"Open MPI: mpiexec --map-by ppr:{have}:node), or train on --device cpu"
        )
    where = backend.device(kind, local_rank)
    backend.use_device(where)  # CuPy's current device: where its kernels run
    return where


def to_device(obj: T, where: backend.device) -> T:
    """Put ``obj`` on device ``where``: a model (``nn.Module``, moved in place), a Tensor or a
    batch (a tuple of Tensors, as a ``DataLoader`` yields it).

    Example:
        >>> x, y = to_device((x, y), t.device)   # each batch, as it leaves the loader
    """
    if isinstance(obj, Module):
        return obj.to(where)
    if isinstance(obj, Tensor):  # already there (every batch on the CPU): as it is, at once
        return obj if obj.device == where else obj.to(where)
    if isinstance(obj, tuple):
        return tuple([to_device(o, where) for o in obj])
    raise TypeError(f"to_device: expected a Module, a Tensor or a tuple of them; got {type(obj)}")
