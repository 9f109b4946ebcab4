"""Data parallelism: N ranks train one model as one process would, on shards of each batch.

Every rank holds the whole model. ``DataParallel.attach`` plugs into a run's ``Training``
(``chainrule.train.training``) at the places made for it:

- **The start**: the model's parameters and buffers are broadcast from rank 0, so every rank
  starts from the same weights whatever it drew.
- **The batches**: every rank walks the same shuffled global batches (the order depends only on
  the seed and the epoch) and keeps its shard: rows ``[lo, hi)`` of each, the shards' sizes
  differing by at most one (``shard``). A rank whose shard is empty (a last batch smaller than
  the number of ranks) still takes part in the sum, with nothing to add.
- **The gradients** (``TrainStep.grad_hooks``, first): each rank's gradient is the mean over its
  ``n_r`` rows; ``n_r`` times it is packed into flat buckets (``buckets.py``), the buckets summed
  over the ranks with one Allreduce each, and divided by the batch's ``B = sum n_r``: the mean
  over the global batch, as one process computes it, up to the order of the sum. The shard's
  loss rides along in the same buffers, so the divergence check sees the global batch's loss
  and every rank stops at the same step. Gradient clipping, a later hook, clips the average.
- **Devices**: each rank computes on its own device (``--device cuda``: the GPU of its local
  rank, ``chainrule.train.device.one_device_per_rank``); what MPI moves goes through host
  memory: a gradient is copied from its device into the host buckets, summed there, and the
  average copied back to the parameter's device. (MPI can read GPU memory directly only when
  it is built CUDA-aware, which a program cannot rely on: an MPI that is not would crash or
  read garbage. The copies cost two transfers of the gradients per step over PCIe, small
  against the network's.)
- **The epoch's metrics** (``Training.reduce_totals``): the training loss and accuracy are sums
  over each rank's shards, added up over the ranks once per epoch. The same call checks that
  every rank holds the same weights (a CRC-32 of them), which the identical sums guarantee.

Validation runs on every rank over the whole split (the same weights give the same numbers, and
every rank needs them to take the same early-stopping and schedule steps); rank 0 alone writes
the run folder (``fit.py``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..creation import from_numpy
from ..data import DataLoader
from ..train.step import StepResult, TrainStep
from ..train.training import Training
from .buckets import BUCKET_BYTES, Buckets
from .comm import Comm, DistributedError


def shard(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of a batch of ``n`` that rank ``rank`` of ``size`` takes: contiguous,
    the first ``n % size`` ranks one row more (``np.array_split``'s split).

    Example:
        >>> [shard(5, r, 2) for r in range(2)], shard(1, 1, 2)
        ([(0, 3), (3, 5)], (1, 1))
    """
    q, extra = divmod(n, size)
    lo = rank * q + min(rank, extra)
    return lo, lo + q + (rank < extra)


class ShardedLoader:
    """The shards of one rank from a loader's global batches; its state is the loader's.

    Args:
        loader: the run's training loader (the same seed on every rank, so the same batches).
        rank: this rank.
        size: the number of ranks.

    Example:
        >>> loader = ShardedLoader(DataLoader(ds, batch_size=32, shuffle=True, seed=0), 1, 2)
        >>> [len(y) for x, y in loader][:2]      # rows 16..31 of each global batch
        [16, 16]
    """

    def __init__(self, loader: DataLoader, rank: int, size: int) -> None:
        self.loader, self.rank, self.size = loader, rank, size

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        for batch in self.loader:
            lo, hi = shard(len(batch[0]), self.rank, self.size)
            yield tuple(part[lo:hi] for part in batch)

    def __len__(self) -> int:
        return len(self.loader)

    def state_dict(self) -> dict:
        return self.loader.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.loader.load_state_dict(state_dict)


class DataParallelStep:
    """A ``TrainStep`` on this rank's shard whose gradients are the global batch's.

    Called as the loop calls a step, ``step(x, y, check)``, with the shard. Its result holds
    the shard's loss (the loop sums ``loss * len(y)`` over the epoch, and ``reduce_totals``
    over the ranks) and the shard's scores.
    """

    def __init__(self, step: TrainStep, comm: Comm, bucket_bytes: int = BUCKET_BYTES) -> None:
        self.step, self.comm = step, comm
        self.params = list(step.model.parameters())
        shapes = [tuple(p.shape) for p in self.params] + [(2,)]
        dtypes = [p.dtype for p in self.params]
        # the shard's [n * loss, n] ride in the first bucket's dtype (float32 counts are exact
        # up to 2**24 rows; the loss only feeds the divergence check)
        dtypes.append(dtypes[0] if dtypes else np.float64)
        self.buckets = Buckets(shapes, dtypes, bucket_bytes)
        self.calls = 0
        self._n, self._loss, self._check = 0, 0.0, None
        step.grad_hooks.insert(0, self.allreduce)  # before clipping: clip the average

    def __call__(self, x: Tensor, y: Tensor, check: Any = None) -> StepResult:
        self.calls += 1
        self._n, self._check = len(y), check
        if self._n:
            return self.step(x, y, check=self._hold)
        # an empty shard: nothing to add, but the rank takes part in the sum and the update
        self._loss = 0.0
        self.step.opt.zero_grad()
        for hook in self.step.grad_hooks:
            hook(self.step.model)
        self.step.opt.step()
        with no_grad():
            scores = self.step.model(x)
        return StepResult(0.0, scores)

    def _hold(self, value: float) -> None:
        """The step's check, on the shard's loss: keep it; the real check waits for the sum."""
        self._loss = value

    def allreduce(self, model: nn.Module) -> None:
        """The gradient hook: every parameter's ``.grad`` becomes the global batch's mean
        gradient; then the divergence check runs on the global batch's loss."""
        n = self._n
        grads = [None if p.grad is None else p.grad.cpu().numpy() for p in self.params]
        self.buckets.pack(grads, scale=n)
        last = self.buckets.slots[-1]  # the slot after the gradients: [n * loss, n]
        self.buckets.buffers[last[0]][last[1] : last[2]] = (n * self._loss, n)
        for i, buf in enumerate(self.buckets.buffers):
            self.comm.allreduce_(buf, f"the gradient allreduce of step {self.calls} (bucket {i})")
        total = self.buckets.buffers[last[0]][last[1] : last[2]].astype(np.float64)
        summed = self.buckets.unpack(1.0 / total[1])
        for p, g in zip(self.params, summed):
            p.grad = from_numpy(g).to(p.device)  # back from the host (itself on the CPU)
        if self._check is not None:
            self._check(float(total[0] / total[1]))  # the same on every rank: all stop together


class DataParallel:
    """Data-parallel training of one run over the ranks of ``comm``.

    Args:
        comm: the ranks (``Comm``).
        bucket_bytes: the most bytes per gradient bucket.

    Example:
        >>> dp = DataParallel(Comm())
        >>> dp.attach(t)          # t = build_training(config, splits), on every rank
        >>> run_epochs(t, run if dp.comm.rank == 0 else None, stage)
    """

    def __init__(self, comm: Comm, bucket_bytes: int = BUCKET_BYTES) -> None:
        self.comm, self.bucket_bytes = comm, bucket_bytes
        self.t: Training | None = None

    def attach(self, t: Training) -> None:
        """Plug into ``t``: broadcast the model from rank 0, shard the training batches,
        average the gradients, sum the epoch's metrics over the ranks."""
        self.t = t
        self.broadcast_model(t.model)
        if self.comm.size == 1:
            return  # one rank: the run as it is
        t.train_loader = ShardedLoader(t.train_loader, self.comm.rank, self.comm.size)
        t.step = DataParallelStep(t.step, self.comm, self.bucket_bytes)
        t.reduce_totals = self.reduce_totals

    def broadcast_model(self, model: nn.Module) -> None:
        """Every rank takes rank 0's parameters and buffers."""
        state = model.state_dict()
        names = list(state)
        arrays = [state[k].cpu().numpy() for k in names]  # on the host, for MPI
        buckets = Buckets([a.shape for a in arrays], [a.dtype for a in arrays], self.bucket_bytes)
        if self.comm.rank == 0:
            buckets.pack(arrays)
        for i, buf in enumerate(buckets.buffers):
            self.comm.bcast_(buf, f"the broadcast of the model from rank 0 (bucket {i})")
        if self.comm.rank != 0:
            model.load_state_dict(dict(zip(names, buckets.unpack())))

    def reduce_totals(self, totals: list[float]) -> list[float]:
        """The epoch's sums over every rank; and a check that the ranks' weights agree.

        Raises:
            DistributedError: on every rank, when the ranks' weights differ.
        """
        epoch = self.t.state["epoch"] + 1  # the epoch being trained
        summed = self.comm.allreduce_(
            np.array(totals, np.float64), f"the sums of epoch {epoch}'s metrics"
        )
        crc = 0
        for p in self.t.model.parameters():
            weights = np.ascontiguousarray(p.detach().cpu().numpy())
            crc = zlib.crc32(weights.view(np.uint8), crc)
        spread = np.array([crc, -crc], np.int64)
        with self.comm.waiting(f"the weight check of epoch {epoch}"):
            self.comm.comm.Allreduce(self.comm.MPI.IN_PLACE, spread, op=self.comm.MPI.MAX)
        if spread[0] != -spread[1]:
            raise DistributedError(
                f"after epoch {epoch} the ranks hold different weights (CRC-32 from "
                f"{-spread[1]} to {spread[0]}): the MPI library's Allreduce gave the ranks "
                "different sums. Use an MPI whose reductions are reproducible, or report it"
            )
        return summed.tolist()
