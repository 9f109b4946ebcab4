"""The MPI world as data-parallel training uses it: ranks, a few collectives, and a watchdog.

``Comm`` wraps mpi4py's ``COMM_WORLD``: this process's rank, the number of ranks, the local
rank (its index among the ranks on the same node, which picks its GPU:
``chainrule.train.device.one_device_per_rank``), and the collectives the training needs, on
NumPy buffers in host memory (no pickling): an in-place sum (Allreduce), a broadcast from
rank 0 (Bcast), and bytes broadcast from rank 0.

Every collective runs under a watchdog. A rank that dies under ``mpiexec`` is usually noticed by
the launcher, which stops the others at once (MPICH's and Open MPI's do, printing which process
died); one that hangs, or a launcher that lets the others run on (``srun`` without
``--kill-on-bad-exit``), would leave the others waiting in a collective forever. So a rank that
has waited ``timeout`` seconds in one collective logs which collective and how long, and calls
``MPI_Abort``, which stops every rank: the run folder keeps its last completed epoch, and
``--resume`` continues from it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Seconds a rank waits in one collective before it stops every rank (``--dist-timeout``).
DEFAULT_TIMEOUT = 300.0


#: seconds between the watchdog's message and MPI_Abort (see ``_watch``)
ABORT_GRACE = 2.0


class DistributedError(RuntimeError):
    """A failure that every rank of the run raises (so none is left waiting)."""


def import_mpi() -> Any:
    """mpi4py's ``MPI`` module, or an ImportError that says what to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(
            f"--distributed mpi needs mpi4py and an MPI library ({e}): pip install "
            "'chainrule[mpi]' with your cluster's MPI loaded, or pip install 'chainrule[mpi]' "
            "mpich on one machine"
        ) from None
    return MPI


class Comm:
    """The ranks of one data-parallel run and their collectives.

    Args:
        timeout: seconds a rank may wait in one collective before it stops every rank.
        comm: an mpi4py communicator (default ``MPI.COMM_WORLD``).

    Attributes:
        rank, size: this process's rank and the number of ranks.
        local_rank, local_size: its index among the ranks on its node, and their number, from
            MPI's own split of the ranks by shared memory (``MPI_COMM_TYPE_SHARED``): the same
            on every MPI and launcher (MPICH's ``MPI_LOCALRANKID``, Open MPI's
            ``OMPI_COMM_WORLD_LOCAL_RANK``, Slurm's ``SLURM_LOCALID`` say it each their way).

    Example:
        >>> comm = Comm()                       # under mpiexec -n 2: rank 0 or 1, size 2
        >>> buf = np.ones(3, np.float32)
        >>> comm.allreduce_(buf, "a test")      # buf is now [2, 2, 2] on every rank
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, comm: Any = None) -> None:
        if not timeout > 0:
            raise ValueError(
                f"--dist-timeout: expected a positive number of seconds; got {timeout}"
            )
        self.MPI = import_mpi()
        self.comm = comm if comm is not None else self.MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        node = self.comm.Split_type(self.MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()
        self.timeout = float(timeout)
        #: whether the ranks have started the run together (collectives are now in step)
        self.joined = False
        #: on rank 0: whether it has sent the other ranks the start of the run, or why there
        #: is none (``fit.cancel_start``); the other ranks wait for one or the other
        self.announced = False
        #: set by ``fit_distributed`` for a failure of this rank alone, which leaves the others
        #: waiting: whoever reports the error then calls ``abort()``
        self.must_abort = False
        self._what: str | None = None
        self._since = 0.0
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    # ----- collectives -----
    def allreduce_(self, buf: np.ndarray, what: str) -> np.ndarray:
        """Sum ``buf`` over the ranks, in place; every rank gets the same sum."""
        with self.waiting(what):
            self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        return buf

    def bcast_(self, buf: np.ndarray, what: str) -> np.ndarray:
        """Overwrite ``buf`` with rank 0's, in place."""
        with self.waiting(what):
            self.comm.Bcast(buf, root=0)
        return buf

    def bcast_bytes(self, data: bytes | None, what: str) -> bytes:
        """Rank 0's ``data`` on every rank (the other ranks pass None)."""
        n = np.array([len(data) if self.rank == 0 and data is not None else 0], np.int64)
        self.bcast_(n, what)
        buf = np.empty(int(n[0]), np.uint8)
        if self.rank == 0 and data:
            buf[:] = np.frombuffer(data, np.uint8)
        return self.bcast_(buf, what).tobytes()

    def abort(self, code: int = 1) -> None:
        """Stop every rank now (MPI_Abort): for a failure the other ranks cannot know about."""
        self.comm.Abort(code)

    # ----- the watchdog -----
    @contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        """Mark a collective as under way: the watchdog stops every rank if it lasts longer
        than ``timeout``."""
        if self.size > 1 and self._watchdog is None:
            self._start_watchdog()
        self._since, self._what = time.monotonic(), what
        try:
            yield
        finally:
            self._what = None

    def close(self) -> None:
        """Stop the watchdog (the collectives still work, unwatched)."""
        self._stop.set()

    def _start_watchdog(self) -> None:
        self._watchdog = threading.Thread(
            target=self._watch, name="chainrule-watchdog", daemon=True
        )
        self._watchdog.start()

    def _watch(self) -> None:
        poll = min(1.0, self.timeout / 10)
        while not self._stop.wait(poll):
            what, since = self._what, self._since
            if what is None or time.monotonic() - since <= self.timeout:
                continue
            log.critical(
                "rank %d of %d: waited %.0f s in %s for the other ranks: one of them died or "
                "hangs. Stopping every rank (MPI_Abort); the run folder keeps its last completed "
                "epoch, and --resume continues it (--dist-timeout sets the wait)",
                self.rank,
                self.size,
                self.timeout,
                what,
            )
            logging.shutdown()  # flush the message before the process goes
            # MPI_Abort makes the launcher kill every rank, and with them what their output
            # pipes still hold: the message reached the user's terminal only in most runs (an
            # MPICH launcher on a busy machine printed nothing in 2 of 8). A moment first lets
            # the launcher pass it on; after a wait of `timeout` seconds it costs nothing.
            time.sleep(ABORT_GRACE)
            self.abort(1)
            return
