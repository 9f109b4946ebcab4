"""Where a sweep's grid points run: local processes, a Ray cluster or a Dask cluster.

Each executor runs one function over a list of jobs, one task per job, and hands back each
job's result, or the exception it raised, as the job finishes, so that one failing point is
reported while the others go on. None schedules anything itself: the local one is a process
pool, and Ray and Dask place the tasks on their workers as they do any other task.

- ``local``: a pool of spawned processes on this machine (``--workers``, default one per core).
- ``ray``: ``ray.init(address=ADDR)``, one Ray task (1 CPU) per point; without an address, a
  local Ray instance of ``--workers`` CPUs, shut down at the end.
- ``dask``: ``distributed.Client(ADDR)``, one Dask future per point; without an address, a
  ``LocalCluster`` of ``--workers`` single-threaded worker processes, closed at the end.

The cluster's workers need chainrule (the same version) and its dependencies installed, and
the data: the embedded and generated data sets are always there, a file data set must be under
the same ``--data-dir`` on every worker. Their run folders come back to the driver's disk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

EXECUTORS = ("local", "ray", "dask")
#: One BLAS thread per task: the tasks fill the cores, and a busy core's spinning threads would
#: stall the others (ARCHITECTURE.md, "BLAS threads").
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: A finished job: its index in the list, and its result or the exception it raised.
Outcome = tuple[int, Any]


def check_executor(executor: str, address: str | None, workers: int | None) -> None:
    """Validate the executor options before any work.

    Raises:
        ValueError: an unknown executor, ``address`` with the local one, ``workers`` with an
            address (a cluster's own workers run the points), or ``workers`` below 1.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"--executor: expected one of {', '.join(EXECUTORS)}; got {executor!r}")
    if address is not None and executor == "local":
        raise ValueError("--address names a Ray or Dask cluster: give --executor ray or dask")
    if workers is not None and address is not None:
        raise ValueError(
            "--workers sizes the cluster started on this machine; with --address the cluster's "
            "own workers run the points: drop --workers"
        )
    if workers is not None and workers < 1:
        raise ValueError(f"--workers: expected at least 1; got {workers}")


def run_tasks(
    fn: Callable[[Any], Any],
    jobs: list[Any],
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
) -> Iterator[Outcome]:
    """Run ``fn(job)`` for every job, one task each; yield ``(index, result or exception)`` as
    each finishes.

    Args:
        fn: a function importable by the workers (a module-level function).
        jobs: its arguments, each picklable.
        executor: "local", "ray" or "dask".
        address: the Ray or Dask scheduler's address; None starts a cluster on this machine.
        workers: the size of a cluster started here (default: the number of cores).

    Raises:
        ImportError: Ray or Dask is not installed (the message names the extra to install).

    Example:
        >>> sorted(run_tasks(abs, [-1, -2], "local", workers=2))
        [(0, 1), (1, 2)]
    """
    check_executor(executor, address, workers)
    size = max(1, min(len(jobs), workers or os.cpu_count() or 1))
    run = {"local": _local, "ray": _ray, "dask": _dask}[executor]
    return run(fn, jobs, address, size)


def _local(fn: Callable, jobs: list, address: str | None, workers: int) -> Iterator[Outcome]:
    with ProcessPoolExecutor(workers, get_context("spawn")) as pool:
        with _environ(ONE_THREAD):  # the pool spawns its processes as jobs are submitted
            futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], error if error is not None else future.result()


def _ray(fn: Callable, jobs: list, address: str | None, workers: int) -> Iterator[Outcome]:
    ray = _require("ray", "ray")
    started = not ray.is_initialized()
    if started:
        # "local": a new instance of our own, never one that `ray start` left on this machine
        local = {"num_cpus": workers, "include_dashboard": False} if address is None else {}
        ray.init(address=address or "local", log_to_driver=False, logging_level="warning", **local)
    try:
        task = ray.remote(num_cpus=1, max_retries=0, runtime_env={"env_vars": ONE_THREAD})(fn)
        pending = {task.remote(job): i for i, job in enumerate(jobs)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                try:
                    yield i, ray.get(ref)
                except ray.exceptions.RayTaskError as e:
                    yield i, _cause(e)
                except ray.exceptions.RayError as e:  # a worker died, an object was lost
                    yield i, e
    finally:
        if started:
            ray.shutdown()


def _dask(fn: Callable, jobs: list, address: str | None, workers: int) -> Iterator[Outcome]:
    distributed = _require("distributed", "dask")
    if address is None:
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # a failed point is reported in the table
        )
        client = distributed.Client(cluster)
    else:
        cluster, client = None, distributed.Client(address)
    try:
        # pure=False: two points with equal options are still two tasks
        futures = {client.submit(fn, job, pure=False): i for i, job in enumerate(jobs)}
        for future in distributed.as_completed(futures):
            i = futures[future]
            if future.status == "error":
                yield i, future.exception()
            else:
                yield i, future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _cause(e: Exception) -> BaseException:
    """The exception a Ray task raised, unwrapped from Ray's RayTaskError."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, BaseException) else e


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"--executor {extra} needs {module}, which is not installed: "
            f"pip install 'chainrule[{extra}]'"
        ) from None


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the processes started inside; restore them after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
