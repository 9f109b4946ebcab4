"""``fit_distributed``: ``fit`` on every rank of an MPI job, rank 0 alone writing the run folder.

Rank 0 runs ``chainrule.train.fit`` as one process would (the folder, its lock, ``--resume``,
the checkpoints, the test summary and the figures), with the other ranks joining at its
``setup`` place, once its objects are built and restored:

1. rank 0 sends the run's options (the other ranks take rank 0's: a resumed run's options are
   in its folder, which only rank 0 needs to see) and, when resuming, its checkpoint's bytes;
2. each other rank builds the same objects and restores the same checkpoint;
3. ``DataParallel.attach`` on every rank: the model broadcast from rank 0, the batches sharded,
   the gradients averaged, the metrics summed (``data_parallel.py``);
4. the epochs, in step on every rank; the other ranks write nothing;
5. rank 0 finishes (test summary, figures) and sends the summary to the others.

A failure that every rank meets at the same point (a diverged loss, a weight that became NaN:
those are checked on values every rank shares) stops every rank with the same error. A failure
of one rank alone (a full disk on rank 0, a data file missing on a node) leaves the others
waiting in a collective: ``Comm.must_abort`` is then set, and the caller, once it has reported
the error, calls ``Comm.abort()`` (``chainrule train`` does); the watchdog is the last resort.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..random import manual_seed
from ..train.batches import load_data
from ..train.config import TrainConfig
from ..train.device import one_device_per_rank
from ..train.loop import run_epochs
from ..train.run import RunFolder
from ..train.stops import Stage, stop_on_sigterm
from ..train.trainer import fit
from ..train.training import Training, build_training, restore
from .comm import Comm, DistributedError
from .data_parallel import DataParallel

#: Failures that every rank raises at the same point of the run.
SHARED_FAILURES = (FloatingPointError, DistributedError)


def fit_distributed(
    config: TrainConfig | None,
    out: str | Path | None,
    comm: Comm,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    report: Callable[[dict[str, Any]], None] | None = None,
    figures: bool = True,
    compile: bool = True,
) -> dict[str, Any]:
    """Train data-parallel over the ranks of ``comm``; called on every rank.

    Args:
        config: the options (rank 0's are used on every rank; the others may pass None).
        out: the run folder, as ``fit`` takes it (rank 0's; the others may pass None).
        comm: the ranks (``Comm``).
        resume: continue the run in ``out`` (as ``fit``; rank 0's).
        overwrite: replace the run in ``out`` (as ``fit``; rank 0's).
        progress: a progress bar per epoch (rank 0's).
        report: called with each epoch's metrics row (rank 0's).
        figures: draw the figures at the end (rank 0's).
        compile: run each rank's step through ``cr.compile``, as ``fit`` does (rank 0's).

    Returns:
        The summary (test accuracy...), on every rank.

    Raises:
        DistributedError: on the ranks other than 0, when rank 0 stopped before the training
            began (its message included); on every rank, when the ranks' weights differ.
        FloatingPointError: on every rank at the same step, when the training diverged.
        Exception: on rank 0, whatever ``fit`` raises; see the module's note on the failures
            of one rank.

    Example:
        >>> # mpiexec -n 2 python train.py, where train.py holds:
        >>> comm = Comm()
        >>> summary = fit_distributed(TrainConfig(epochs=5), "runs/dp", comm)
    """
    dp = DataParallel(comm)
    try:
        with one_device_per_rank(comm.local_rank, comm.local_size):  # cuda: cuda:<local rank>
            if comm.rank == 0:
                return _lead(
                    config, out, comm, dp, resume, overwrite, progress, report, figures, compile
                )
            return _follow(comm, dp)
    except SHARED_FAILURES:
        raise
    except BaseException:
        comm.must_abort = comm.size > 1 and comm.joined
        raise


def _lead(
    config: TrainConfig | None,
    out: str | Path | None,
    comm: Comm,
    dp: DataParallel,
    resume: bool,
    overwrite: bool,
    progress: bool,
    report: Callable[[dict[str, Any]], None] | None,
    figures: bool,
    compile: bool,
) -> dict[str, Any]:
    if out is None:
        raise ValueError("fit_distributed: rank 0 needs the run folder (out)")
    checkpoint = RunFolder(out).checkpoint

    def setup(t: Training) -> None:
        restored = resume and checkpoint.is_file()  # as fit's _start decides
        start = {"config": t.config.to_dict(), "checkpoint": restored, "compile": compile}
        _send(comm, {"ok": True, **start})
        if restored:
            comm.bcast_bytes(checkpoint.read_bytes(), "the broadcast of the checkpoint")
        dp.attach(t)

    try:
        summary = fit(
            config,
            out,
            resume=resume,
            overwrite=overwrite,
            progress=progress,
            report=report,
            figures=figures,
            setup=setup,
            compile=compile,
        )
    except BaseException as e:
        cancel_start(comm, f"{type(e).__name__}: {e}")  # if the others still wait for the start
        raise
    comm.bcast_bytes(json.dumps(summary).encode(), "the broadcast of the test summary")
    return summary


def cancel_start(comm: Comm, reason: str) -> None:
    """On rank 0: tell the other ranks, waiting in ``fit_distributed`` for the start of the run,
    that there is none and why (they raise DistributedError). A no-op once the start is sent.

    For a caller whose own checks fail on rank 0 alone before it calls ``fit_distributed``
    (``chainrule train``: a --resume folder that rank 0 cannot read).
    """
    if comm.rank == 0 and not comm.announced:
        _send(comm, {"ok": False, "error": reason})


def _send(comm: Comm, message: dict[str, Any]) -> None:
    comm.announced = True
    comm.bcast_bytes(json.dumps(message).encode(), "the start of the run")
    comm.joined = message["ok"]


def _follow(comm: Comm, dp: DataParallel) -> dict[str, Any]:
    message = json.loads(comm.bcast_bytes(None, "the start of the run (waiting for rank 0)"))
    if not message["ok"]:
        raise DistributedError(f"rank 0 stopped before the training began: {message['error']}")
    comm.joined = True
    config = TrainConfig.from_dict(message["config"]).validate()
    with stop_on_sigterm():
        manual_seed(config.seed)  # as fit does, in the same order
        splits = load_data(config)
        t = build_training(config, splits, message["compile"])
        if message["checkpoint"]:
            data = comm.bcast_bytes(None, "the broadcast of the checkpoint")
            with tempfile.TemporaryDirectory(prefix="chainrule-rank-") as scratch:
                path = Path(scratch) / "checkpoint.safetensors"
                path.write_bytes(data)
                restore(t, path, path.parent)
        dp.attach(t)
        run_epochs(t, None, Stage("training"))
    return json.loads(comm.bcast_bytes(None, "the broadcast of the test summary"))
