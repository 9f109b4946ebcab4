"""BLAS threads: how many threads NumPy's matrix products use, and how many fit the work.

NumPy hands every matrix product to a BLAS library (OpenBLAS in NumPy's wheels), which splits a
large product between its threads. Each thread gets an equal share and the product ends when the
slowest share does; between products the threads spin-wait for the next one. On a machine where
another process keeps a core busy, the share on that core waits for the scheduler (milliseconds)
while the other thread spins: a product that takes 0.7 ms on one thread took 50 ms on two. Only a
product long enough that such a wait is a small part of it is worth splitting.
``python benchmarks/blas_threads.py`` times one product on 1 and on 2 threads, on the machine as
it is and beside a process spinning on one core: on the shared 2-core machine it was written on,
two threads cost at most 1.5x one thread's time on both only from about ``CROSSOVER_MACS``
multiply-adds on (between 2.1 and 8.6 billion; below, up to 300x). docs/performance.md has the
table. On an idle machine two threads would halve the time of the large products; where a
machine is known to be idle, ``set_num_threads`` (``--threads N``) says so.

So the policy (``num_threads_for``, what ``chainrule train --threads auto`` does): one BLAS thread
for a model whose largest product is below ``CROSSOVER_MACS``, all of them above. It is decided
once per model, not per product: ``set_num_threads`` costs 0.7 ms (threadpoolctl finds the
loaded libraries anew), and one setting for the whole step keeps the steps alike. The thread
count never changes what is computed, only how the work is split; OpenBLAS's products may differ
in the last bits between thread counts (BLAS promises no more), which the tests bound (here they
agree bit for bit).

``set_num_threads`` and ``get_num_threads`` take PyTorch's names; they act on every BLAS library
loaded in this process (NumPy's OpenBLAS, and SciPy's once loaded) through threadpoolctl, and
leave OpenMP pools (PyTorch's) alone. Without threadpoolctl
(``pip install threadpoolctl``) BLAS keeps the count it started with (set by
``OPENBLAS_NUM_THREADS`` before Python starts).

Example:
    >>> import chainrule as cr
    >>> cr.set_num_threads(1)
    >>> cr.get_num_threads()
    1
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from typing import Any

#: Multiply-adds (m * k * n) of a model's largest matrix product from which every BLAS thread is
#: used; below it, one. Measured by ``python benchmarks/blas_threads.py`` (see the module's note).
CROSSOVER_MACS = 4_000_000_000

_log = logging.getLogger(__name__)
_initial: int | None = None  # the threads BLAS had when chainrule first looked: "all of them"


def _blas() -> list[Any]:
    """threadpoolctl's controllers of the BLAS libraries loaded in this process now (ImportError
    without threadpoolctl; empty where it finds none it can set, such as Apple's Accelerate).

    Found anew at each call (0.7 ms): a library loaded since (SciPy's) is included."""
    global _initial
    import numpy  # noqa: F401  (NumPy's BLAS must be loaded to be found)
    from threadpoolctl import ThreadpoolController

    libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    if _initial is None and libraries:
        _initial = max(lib.num_threads for lib in libraries)
    return libraries


def _started_with() -> int:
    """The threads BLAS starts with: ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, the cores."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def get_num_threads() -> int:
    """The number of threads NumPy's BLAS uses for a matrix product, as ``torch.get_num_threads``.

    Returns:
        The BLAS libraries' thread count (the largest, if several are loaded). Without
        threadpoolctl, or a BLAS it can read: the count BLAS starts with, from
        ``OPENBLAS_NUM_THREADS`` or ``OMP_NUM_THREADS``, else the number of cores.

    Example:
        >>> cr.get_num_threads() >= 1
        True
    """
    try:
        libraries = _blas()
    except ImportError:
        libraries = []
    if not libraries:
        return _started_with()
    return max(lib.get_num_threads() for lib in libraries)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for NumPy's matrix products, as ``torch.set_num_threads``.

    It holds for the whole process until changed; it never changes what is computed beyond the
    last bits of a product's rounding. Where threadpoolctl finds no BLAS library it can set
    (Apple's Accelerate), a warning is logged and nothing changes.

    Args:
        n: a positive number of threads (BLAS uses at most as many as it was built for).

    Raises:
        ValueError: ``n`` is not a positive integer.
        ImportError: threadpoolctl is not installed.

    Example:
        >>> cr.set_num_threads(1)   # small models, or a machine busy with other work
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer; got {n!r}")
    try:
        libraries = _blas()
    except ImportError:
        raise ImportError(
            "set_num_threads needs threadpoolctl to reach NumPy's BLAS library: pip install "
            "threadpoolctl (or set OPENBLAS_NUM_THREADS=N in the environment before Python "
            "starts)"
        ) from None
    if not libraries:
        _log.warning(
            "set_num_threads(%d): threadpoolctl finds no BLAS library it can set in this "
            "process; the count stays as it is",
            n,
        )
    for lib in libraries:
        lib.set_num_threads(n)


def largest_product(model: Any, input_shape: Sequence[int]) -> int:
    """Multiply-adds of the largest matrix product a training step of ``model`` makes.

    Every weight of two or more dimensions is one: a linear layer's (out, in) weight meets a batch
    of N rows (N * out * in, forward and both gradients alike); a convolution's (O, C, kh, kw)
    weight meets N images' columns (N * O * C * kh * kw per output position, counted at the input's
    H * W positions: an upper bound, padding and pooling make fewer).

    Args:
        model: a Module (anything with ``parameters()``).
        input_shape: the shape of one batch: (N, features) or (N, C, H, W).

    Returns:
        The multiply-adds, 0 for a model without such weights.

    Example:
        >>> largest_product(cr.nn.Linear(784, 256), (64, 784))
        12845056
    """
    shape = tuple(int(d) for d in input_shape)
    if not shape or any(d < 0 for d in shape):
        raise ValueError(
            f"largest_product: expected a batch's shape such as (64, 784); got {input_shape!r}"
        )
    batch, positions = shape[0], math.prod(shape[2:])
    most = 0
    for p in model.parameters():
        if p.ndim >= 2:
            most = max(most, batch * math.prod(p.shape) * (positions if p.ndim > 2 else 1))
    return most


def num_threads_for(model: Any, input_shape: Sequence[int]) -> int:
    """The BLAS threads that fit a model's work: 1 below ``CROSSOVER_MACS``, else all.

    Every network of the lecture is below (a 3072-1024-1024-10 MLP at batch 256: 0.8 billion).

    "All" is the count BLAS had when chainrule first looked (the cores, or
    ``OPENBLAS_NUM_THREADS``). This is ``chainrule train --threads auto``.

    Args:
        model: a Module.
        input_shape: the shape of one batch: (N, features) or (N, C, H, W).

    Returns:
        The number of threads to pass to ``set_num_threads``.

    Example:
        >>> model = cr.nn.MLP(784, [256], 10)
        >>> cr.set_num_threads(cr.threads.num_threads_for(model, (64, 784)))
    """
    if largest_product(model, input_shape) < CROSSOVER_MACS:
        return 1
    try:
        _blas()
    except ImportError:
        pass
    return _initial or _started_with()
