"""Data-parallel training over MPI: ``mpiexec -n N chainrule train --distributed mpi``.

- ``comm.py``: ``Comm``, the ranks and their collectives on NumPy buffers, under a watchdog;
- ``buckets.py``: ``Buckets``, flat buffers: the gradients summed in a few Allreduce calls;
- ``data_parallel.py``: ``DataParallel``, plugged into a run (the model broadcast, the sharded
  batches, the averaged gradients, the summed metrics);
- ``fit.py``: ``fit_distributed``, ``fit`` on every rank, rank 0 alone writing the run folder.

The sweep executors (local, Ray, Dask) are in ``chainrule.train.sweep``.
"""

from .buckets import Buckets
from .comm import Comm, DistributedError
from .data_parallel import DataParallel, DataParallelStep, ShardedLoader, shard
from .fit import fit_distributed

__all__ = [
    "Buckets",
    "Comm",
    "DataParallel",
    "DataParallelStep",
    "DistributedError",
    "ShardedLoader",
    "fit_distributed",
    "shard",
]
