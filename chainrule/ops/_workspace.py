"""Scratch arrays that the image ops reuse from one call to the next.

A training step of a ConvNet makes the same large temporaries every time: the im2col columns
(6.5 MiB for LeNet's second convolution at batch 64), the columns of the input gradient, the
window copies of max pooling. Fresh arrays of that size come from the system as fresh pages,
and touching a fresh page costs a page fault. Reusing the same arrays costs none.

The invariant: **an array is in a pool only while nothing outside the pool refers to it.**
No array in a pool is ever read or written by anyone; ``take`` hands it to exactly one caller.

Why it holds. Two reasons, each sufficient for what chainrule's own code does, the second also
for whatever a user reaches into:

1. By the code of each op. ``take``/``give`` serve temporaries that live inside one function:
   the op takes a buffer, fills it, computes fresh results from it, and gives it back before
   returning. ``Lease`` serves the one value that lives until backward, the im2col columns a
   convolution saves for its weight gradient: the lease, not the array, is what the op saves;
   the array goes back when the lease dies, that is when the graph frees the node's saved values
   (after a backward without ``retain_graph``, or when the graph is dropped). Only the op's own
   first-order backward reads it; a backward recorded with ``create_graph`` never touches a
   pooled array (it unfolds the columns again from x as an op), so no recorded graph holds one.
2. Checked when an array comes back: ``give`` pools only an array that owns its memory
   (``base is None``), is C-contiguous and writeable, and that nobody but the giver refers to:
   its reference count is that of one holder (the caller's variable, or the lease). Every view
   of an array that owns its memory holds that array as its base, so a view that escaped (into
   a result, a hook, a saved value a user read out of ``grad_fn``, a kept traceback, a copy of
   a lease) keeps the count up, and the array is then dropped, left to the garbage collector,
   instead of pooled. An array already in a pool is held by the pool's list, so the same check
   refuses to pool it twice. The count only ever *refuses*: it never lets an array in that
   reason 1 would keep out. (A reference count alone cannot tell that a *view* is unshared,
   which is why only arrays that own their memory are counted.)

Each thread has its own pool: ``take`` and ``give`` touch only the calling thread's. A lease
released in another thread than the one that took it drops its array. Each pool holds at most
``MAX_PER_SHAPE`` arrays of a shape and dtype and ``MAX_BYTES`` in all; beyond that, arrays are
simply released. An exception between ``take`` and ``give`` leaks the buffer to the garbage
collector; nothing is ever given back twice.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from ..backend import xp

MAX_PER_SHAPE = 2
MAX_BYTES = 256 << 20

#: Tests set this: every array that goes into a pool is first filled with NaN bytes (all bits
#: set), so that anything still reading it would see it.
POISON = False

_local = threading.local()


def _pool() -> dict:
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
        _local.bytes = 0
    return pool


def take(shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised, C-contiguous array of ``shape`` and ``dtype``: a pooled one if any."""
    key = (tuple(shape), xp.dtype(dtype).str)
    free = _pool().get(key)
    if free:
        array = free.pop()
        _local.bytes -= array.nbytes
        return array
    return xp.empty(shape, dtype=dtype)


def give(array: Any) -> None:
    """Return an array that ``take`` gave; pooled only if the caller's is its only reference.

    The caller holds ``array`` in one variable (or one attribute) and passes it directly, and no
    view of it may be alive; otherwise it is not pooled (see the module's docstring).
    """
    if (
        array.base is not None
        or not array.flags.c_contiguous
        or not array.flags.writeable
        or sys.getrefcount(array) > _ALONE
    ):
        return
    pool = _pool()
    if _local.bytes + array.nbytes > MAX_BYTES:
        return
    free = pool.setdefault((array.shape, array.dtype.str), [])
    if len(free) < MAX_PER_SHAPE:
        if POISON:
            array.view(xp.uint8).fill(0xFF)
        free.append(array)
        _local.bytes += array.nbytes


def _alone() -> int:
    """The reference count ``give`` sees for an array held by one variable of its caller."""

    def probe(array: Any) -> int:
        return sys.getrefcount(array)

    held = xp.empty(1)
    return probe(held)


_ALONE = _alone()


class Lease:
    """An array that goes back to the pool when the lease dies; ``array`` reads it.

    Example:
        >>> lease = Lease((2, 3), xp.float32)   # saved for backward instead of an array
        >>> lease.array.shape
        (2, 3)
    """

    __slots__ = ("array", "_thread")

    def __init__(self, shape: tuple[int, ...], dtype: Any) -> None:
        self.array = take(shape, dtype)
        self._thread = threading.get_ident()

    def __del__(self) -> None:
        # pooled only by the thread it was taken in (another thread's pool is not ours to touch)
        if self.array is not None and threading.get_ident() == self._thread:
            give(self.array)
        self.array = None


def clear() -> None:
    """Release every pooled array of this thread."""
    _pool().clear()
    _local.bytes = 0
