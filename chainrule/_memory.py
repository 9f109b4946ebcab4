"""Keep freed memory: glibc's malloc serves a step's arrays again instead of asking the kernel.

A training step makes and frees the same arrays every step: a ConvNet's columns, activations and
gradients, megabytes each. glibc's malloc (Linux) gives such blocks from ``mmap`` and, once its
heap has more than ``M_TRIM_THRESHOLD`` free at the top, returns that to the kernel too; the next
step then takes every page of them again as a page fault, which the kernel zeroes. glibc adapts
its thresholds itself (a freed mmap-ed block raises the mmap threshold to its size, at most 32
MiB, and the trim threshold to twice that), but only as far as the largest single block: a step
whose arrays together outgrow twice its largest one gives its heap back every step. For the
LeNet-style step of benchmarks/convnet_step.py, workload (i), that was about 3,900 page faults
(15 MiB) and 8 of its 22 ms.

So when training starts (the first optimizer is made), chainrule sets glibc's two thresholds to
where its own rule would take them once it had seen a 32 MiB block freed: blocks up to 32 MiB
(``M_MMAP_THRESHOLD``) come from the heap, and the heap keeps up to 64 MiB free at its top
(``M_TRIM_THRESHOLD``) for the next arrays; and it returns the free pages the set-up left inside
the heap (``malloc_trim``). Not at import: arrays made while building a model and loading data
(a float64 draw cast to float32, freed) would then stay in the heap as holes the steps cannot
always reuse, and the peak of workload (h) grew by 2 MiB (4%); from the first optimizer on, it
does not grow. What changes is that up to 64 MiB freed stays with the process after a step
instead of going back to the kernel, as PyTorch's CUDA allocator keeps GPU memory. Arrays above
32 MiB are mmap-ed and returned as before.

It is a setting of the whole process's malloc, so:

- it applies only where the C library is glibc, and does nothing elsewhere (macOS, musl,
  Windows);
- it is left alone where the user tuned malloc already: any of ``MALLOC_MMAP_THRESHOLD_``,
  ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_``, ``MALLOC_MMAP_MAX_`` in the environment, or
  ``glibc.malloc`` in ``GLIBC_TUNABLES``, or by calling ``set_keep_memory`` first;
- ``CHAINRULE_KEEP_MEMORY=0`` in the environment turns it off, and ``set_keep_memory(False)``
  at any time, which also gives the kept memory back (``malloc_trim``).

Example:
    >>> import chainrule as cr
    >>> cr.set_keep_memory(False)   # glibc's defaults (128 KiB each), the free heap given back
    True
    >>> cr.get_keep_memory()
    False
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

#: Blocks up to this size come from the heap: glibc's ceiling for its own dynamic threshold
#: (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit systems; mallopt refuses more).
MMAP_THRESHOLD = 32 << 20
#: The heap keeps up to this much free at its top: twice the mmap threshold, glibc's own ratio.
TRIM_THRESHOLD = 64 << 20
#: glibc's initial thresholds, restored by ``set_keep_memory(False)``.
GLIBC_DEFAULT = 128 << 10
#: The environment variable that turns the default off ("0", "false", "no", "off").
ENV = "CHAINRULE_KEEP_MEMORY"
#: The user's own malloc settings, which chainrule's default never overrides.
USER_TUNING = (
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_MAX_",
)

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters, from glibc's malloc.h
_kept = False
_decided = False  # set_keep_memory was called, by the user or by the first optimizer


def _glibc() -> Any:
    """The process's C library as a ctypes handle when it is glibc, else None."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return None
        return ctypes.CDLL(None)
    except (AttributeError, ValueError, OSError):  # no confstr, or not glibc
        return None


def set_keep_memory(enabled: bool) -> bool:
    """Keep freed memory for the next arrays (glibc's malloc), or give it back to the kernel.

    Args:
        enabled: True: blocks up to 32 MiB from the heap, which keeps up to 64 MiB free for
            reuse; False: glibc's initial thresholds (128 KiB each; glibc's own adaptation of
            them does not come back once set) and the free heap returned now (``malloc_trim``).

    Returns:
        Whether the setting took effect: False off glibc, where nothing is done.

    Example:
        >>> cr.set_keep_memory(True)   # on Linux with glibc
        True
    """
    global _kept, _decided
    _decided = True
    if not isinstance(enabled, bool):
        raise TypeError(f"set_keep_memory: enabled must be True or False; got {enabled!r}")
    libc = _glibc()
    if libc is None:
        return False
    mmap, trim = (MMAP_THRESHOLD, TRIM_THRESHOLD) if enabled else (GLIBC_DEFAULT, GLIBC_DEFAULT)
    ok = libc.mallopt(_M_MMAP_THRESHOLD, mmap) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, trim) == 1
    if not enabled:
        libc.malloc_trim(0)
    _kept = enabled and ok
    return ok


def get_keep_memory() -> bool:
    """True while ``set_keep_memory(True)`` is in effect (from the first optimizer on, by default).

    Example:
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
        >>> cr.get_keep_memory()   # on Linux with glibc, unless turned off
        True
    """
    return _kept


def keep_memory_for_training() -> None:
    """Called when an optimizer is made: the first time, keep freed memory from now on (and give
    back what the set-up left free), unless ``CHAINRULE_KEEP_MEMORY`` says no, the user tuned
    malloc through the environment, or ``set_keep_memory`` was called already."""
    global _decided
    if _decided:
        return
    _decided = True
    if os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return
    if any(v in os.environ for v in USER_TUNING):
        return
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return
    if set_keep_memory(True):
        _glibc().malloc_trim(0)
