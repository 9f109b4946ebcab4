"""Comparing two recordings of one step: the same program, a step to record again, or a reason.

A program is made only when two recordings did the same thing: the same ops on values from the
same sources, the same constants (arrays by their values), the same backward order and the same
calls to repeat. Where they differ in what a replay's guards check (a parameter replaced, a
training flag switched, a rebound name between the calls) ``build`` answers ``AGAIN``: record
once more. Where the step itself behaved differently (Python control flow on values, a tensor
computed from values outside ops), it gives the reason, and the step runs eagerly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import _BY_TYPE, canonical_dtype, to_numpy
from .program import Program
from .trace import ITEMS, ClassValues, Recording

#: ``build``'s answer when two recordings agree, but on arguments of equal values and with
#: constants made inside the step: those may have been computed from the values, so another
#: pair of recordings must tell.
AGAIN = "again"


def build(first: Recording, second: Recording) -> tuple[Program | None, str | None]:
    """The program of ``second`` if it did what ``first`` did; else (None, why not), where
    why may be ``AGAIN``."""
    why = _differ(first, second)
    if why is not None:
        return None, why  # AGAIN among them
    baked: dict[int, Any] = {}
    copies: dict[int, tuple] = {}
    for s, (a, b) in enumerate(zip(first.sources, second.sources)):
        if b[0] == "new" and _live_copy(a, b):  # a copy of what both copied: copied again
            copies[s] = b[2]
        elif b[0] == "new":  # made inside the step: a constant (_differ compared the values)
            baked[s] = b[1]._data
    fresh = baked or any(
        _fresh_specs(x["specs"], y["specs"]) for x, y in zip(first.ops, second.ops)
    )
    if fresh and all(_same(x, y) for x, y in zip(first.arg_values, second.arg_values)):
        return None, AGAIN
    if not any(st[0] == "backward" for st in second.steps):
        if _requires_output(second, second.output):
            return None, (
                "its result requires grad and a replay builds no graph; call it under "
                "cr.no_grad(), or compile the whole training step (forward, backward, update)"
            )
    return Program(second, baked, copies), None


def _live_copy(x: tuple, y: tuple) -> bool:
    """Whether the tensor two recordings made in the step (``("new", tensor, copied)``) is a
    copy of the same array or tensor, made the same way: a replay copies that object again,
    so its values may change (a NumPy buffer refilled in place, a parameter)."""
    a, b = x[2], y[2]
    return a is not None and b is not None and a[0] is b[0] and _same(a[1:], b[1:])


def _fresh_specs(xs: list, ys: list) -> bool:
    """Whether two recordings' op arguments hold arrays made anew by each call."""
    for x, y in zip(xs, ys):
        if x[0] == "c" and _fresh(x[1], y[1]):
            return True
        if x[0] == "t" and _fresh_specs(x[1], y[1]) or x[0] == "d" and _fresh_specs(x[2], y[2]):
            return True
    return False


def _fresh(x: Any, y: Any) -> bool:
    """Whether two equal constants hold different array objects (in tuples, lists, dicts too)."""
    if type(x) in _BY_TYPE:
        return x is not y
    if isinstance(x, (tuple, list)):
        return any(_fresh(p, q) for p, q in zip(x, y))
    if type(x) is dict:
        return any(_fresh(x[k], y[k]) for k in x)
    return False


def _requires_output(rec: Recording, spec: tuple) -> bool:
    if spec[0] == "v":
        return rec.requires[spec[1]]
    if spec[0] == "t":
        return any(_requires_output(rec, s) for s in spec[1])
    if spec[0] == "d":
        return any(_requires_output(rec, s) for s in spec[2])
    return False


def _differ(a: Recording, b: Recording) -> str | None:
    """Why two recordings of one step differ, or None; ``AGAIN`` where what differs is what
    a replay's guards check (a parameter replaced, a training flag switched between them)."""
    if len(a.modules) != len(b.modules) or any(x is not y for x, y in zip(a.modules, b.modules)):
        return AGAIN
    if a.flags != b.flags or not _same_watch(a.watch, b.watch):
        return AGAIN
    if len(a.sources) != len(b.sources) or len(a.steps) != len(b.steps):
        return "two calls ran different numbers of ops (Python control flow on values?)"
    for s, (x, y) in enumerate(zip(a.sources, b.sources)):
        if "ext" in (x[0], y[0]) and (
            x[0] != y[0]
            or x[1] is not y[1]
            or a.meta[s] != b.meta[s]
            or a.requires[s] != b.requires[s]
        ):
            return AGAIN  # a tensor from outside replaced or changed between the calls
    for s, (x, y) in enumerate(zip(a.sources, b.sources)):
        if x[0] != y[0] or a.meta[s] != b.meta[s] or a.requires[s] != b.requires[s]:
            return "two calls made different values (Python control flow on values?)"
        if x[0] == "new" and not _live_copy(x, y) and not _same(x[1]._data, y[1]._data):
            return (
                "a tensor made inside the step outside any op (cr.tensor(...), a random "
                "draw, or one computed from values) differs between calls"
            )
        if x[0] in ("arg", "out", "mask") and x[1:] != y[1:]:
            return "two calls used their values differently"
    for x, y in zip(a.ops, b.ops):
        if (
            x["cls"] is not y["cls"]
            or x["needs"] != y["needs"]
            or x["multi"] != y["multi"]
            or not _same_specs(x["specs"], y["specs"])
        ):
            return f"two calls ran different ops or arguments ({y['cls'].__name__})"
    for x, y in zip(a.steps, b.steps):
        if x[0] != y[0] or x[0] in ("op", "mask") and x[1:] != y[1:]:
            return "two calls ran different steps"
        if x[0] == "backward" and (x[1] != y[1] or x[2] != y[2]):
            return "two calls ran backward differently"
        if x[0] == "call" and (x[1] is not y[1] or x[2] != y[2] or not _same(x[3:], y[3:])):
            return f"two calls called {type(y[1]).__name__}.{y[2]} differently"
    if not _same_specs([a.output], [b.output]):
        return "two calls returned different things"
    return None


def _same_watch(a: list, b: list) -> bool:
    return len(a) == len(b) and all(_same_entry(x, y) for x, y in zip(a, b))


def _same_entry(x: tuple, y: tuple) -> bool:
    """Whether two ``trace.watched`` entries watch the same place holding the same object(s)."""
    if x[0] is not y[0] and not (
        type(x[0]) is ClassValues and type(y[0]) is ClassValues and x[0].cls is y[0].cls
    ):
        return False
    if x[1] is ITEMS or y[1] is ITEMS:
        return x[1] is y[1] and len(x[2]) == len(y[2]) and all(p is q for p, q in zip(x[2], y[2]))
    return x[2] is y[2] and (x[1] is y[1] or type(x[1]) in (str, int) and x[1] == y[1])


def _same_specs(xs: list, ys: list) -> bool:
    if len(xs) != len(ys):
        return False
    for x, y in zip(xs, ys):
        if x[0] != y[0]:
            return False
        if x[0] == "v" and x[1] != y[1] or x[0] == "c" and not _same(x[1], y[1]):
            return False
        if x[0] == "t" and (x[2] is not y[2] or not _same_specs(x[1], y[1])):
            return False
        if x[0] == "d" and (x[1] != y[1] or not _same_specs(x[2], y[2])):
            return False
    return True


def _same(x: Any, y: Any) -> bool:
    """Whether two constants are the same: arrays by dtype, shape and values."""
    if x is y:
        return True
    if type(x) is not type(y):
        return False
    if type(x) in _BY_TYPE:
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        return bool(
            np.array_equal(to_numpy(x), to_numpy(y), equal_nan=canonical_dtype(x.dtype).kind == "f")
        )
    if isinstance(x, (tuple, list)):
        return len(x) == len(y) and all(_same(p, q) for p, q in zip(x, y))
    if type(x) is dict:
        return list(x) == list(y) and all(_same(x[k], y[k]) for k in x)
    try:
        return bool(x == y)
    except (TypeError, ValueError):
        return False
