"""Scratch arrays that the image ops reuse from one call to the next.

A training step of a ConvNet makes the same large temporaries every time: the im2col columns
(6.5 MiB for LeNet's second convolution at batch 64), the columns of the input gradient, the
window copies of max pooling. Fresh arrays of that size come from the system as fresh pages,
and touching a fresh page costs a page fault: measured, about 4,800 faults and 10 ms of system
time per LeNet step, a third of the step. Reusing the same arrays costs none.

Why it is safe. ``take``/``give`` serve temporaries that live inside one function: the op takes
a buffer, fills it, computes a fresh result from it, and gives it back before returning; no view
of it survives the call (each use below says so where it happens). ``lease`` serves a value
that must live until backward: the im2col columns a convolution saves for its weight gradient.
The lease, not the array, is what the op saves; the array goes back to the pool when the lease
is destroyed, that is when the graph frees the node's saved values (after backward, or when the
graph is dropped). Only the op's own backward reads the array, and its views die inside that
backward. Nothing here decides from a reference count that an array is free: each buffer's
lifetime follows from the code of the one op that uses it.

Each thread has its own pool, holding at most ``MAX_PER_SHAPE`` arrays of a shape and dtype and
``MAX_BYTES`` in all; beyond that, arrays are simply released.
"""

from __future__ import annotations

import threading
from typing import Any

from ..backend import xp

MAX_PER_SHAPE = 2
MAX_BYTES = 256 << 20

_local = threading.local()


def _pool() -> dict:
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
        _local.bytes = 0
    return pool


def take(shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised array of ``shape`` and ``dtype``: a pooled one when there is one."""
    key = (tuple(shape), xp.dtype(dtype).str)
    free = _pool().get(key)
    if free:
        array = free.pop()
        _local.bytes -= array.nbytes
        return array
    return xp.empty(shape, dtype=dtype)


def give(array: Any) -> None:
    """Return an array that ``take`` gave (no view of it may outlive this call)."""
    pool = _pool()
    if _local.bytes + array.nbytes > MAX_BYTES:
        return
    free = pool.setdefault((array.shape, array.dtype.str), [])
    if len(free) < MAX_PER_SHAPE:
        free.append(array)
        _local.bytes += array.nbytes


class Lease:
    """An array that goes back to the pool when the lease is destroyed; ``array`` reads it."""

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
