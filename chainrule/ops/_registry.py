"""The functions that run the ops, registered where they are written: right under their class.

An op is one Function class (forward, backward, and what drawings and explanations say about
it: see ``Function``) and the function users call, written below it and registered with::

    @register(Exp, methods=("exp",), expression=Expression("exp", 1, 1, "e^x"))
    def exp(input: Tensor) -> Tensor:
        return Exp.apply(input)

Everything else is derived from ``ENTRIES``: ``chainrule.exp`` and ``chainrule.ops.exp``, the
method ``x.exp()`` (and operators such as ``__add__``), and the function ``exp`` of the
``chainrule graph`` expression language. Adding an op is writing its class, its function and
one row in the tests' op table (tests/ops/_table.py); no other file changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Expression:
    """How a function appears in the ``chainrule graph`` expression language.

    Attributes:
        name: its name there (``max`` may name two functions: they are told apart by the number
            of arguments, ``max(x)`` the largest value and ``max(x, y)`` elementwise).
        min_args, max_args: how many arguments it takes there.
        doc: what it does, in a few words (shown in the language's help and errors).
        dims: the argument positions that are dimensions (the language's numbers are floats; a
            whole number there becomes an int).
    """

    name: str
    min_args: int
    max_args: int
    doc: str
    dims: tuple[int, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One registered function: what it is called and which ops it runs."""

    function: Callable[..., Any]
    classes: tuple[type, ...]  # the Function classes it applies (none for comparisons)
    methods: tuple[str, ...]  # its names as Tensor methods and operators (x.exp(), x + y)
    reflected: tuple[str, ...]  # operators that swap the operands: __radd__ is add(other, self)
    expression: Expression | None
    export: bool  # a public function (cr.exp); False for a method's own spelling
    functional: bool  # part of chainrule.nn.functional too (F.relu), as in PyTorch


#: Every registered function, in the order the op modules define them.
ENTRIES: list[Entry] = []


def register(
    *classes: type,
    methods: tuple[str, ...] = (),
    reflected: tuple[str, ...] = (),
    expression: Expression | None = None,
    export: bool = True,
    functional: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the function below an op's class; returns it unchanged.

    Args:
        classes: the Function classes the function applies (what drawings show of a call).
        methods: its names on Tensor, operators included (``"__add__"``).
        reflected: operators that call it with the operands swapped (``"__radd__"``).
        expression: its entry in the ``chainrule graph`` language, if it has one.
        export: False for a function that only spells a method (``x.where(cond, y)``).
        functional: also a function of ``chainrule.nn.functional`` (``F.relu``).
    """

    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        entry = Entry(fn, classes, tuple(methods), tuple(reflected), expression, export, functional)
        ENTRIES.append(entry)
        for cls in classes:
            cls.functions = (*cls.__dict__.get("functions", ()), fn.__name__)
        return fn

    return add


def alias(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Export ``fn`` under another name too (``clip`` for ``clamp``, as NumPy spells it)."""
    ALIASES[name] = fn
    return fn


#: Public names that are another name of a registered function: name -> function.
ALIASES: dict[str, Callable[..., Any]] = {}


def tensor_methods() -> dict[str, Callable[..., Any]]:
    """Every Tensor method and operator, by name, from the registered functions."""
    out: dict[str, Callable[..., Any]] = {}
    for e in ENTRIES:
        for name in e.methods:
            out[name] = e.function
        for name in e.reflected:
            out[name] = _swapped(e.function)
    return out


def _swapped(fn: Callable[..., Any]) -> Callable[..., Any]:
    def reflected(self: Any, other: Any) -> Any:
        return fn(other, self)

    reflected.__name__ = f"r{fn.__name__}"
    return reflected


def public_functions() -> dict[str, Callable[..., Any]]:
    """The functions ``chainrule.ops`` exports, by name (aliases included)."""
    out = {e.function.__name__: e.function for e in ENTRIES if e.export}
    out.update(ALIASES)
    return out


def functional() -> dict[str, Callable[..., Any]]:
    """The functions that ``chainrule.nn.functional`` holds too, by name."""
    return {e.function.__name__: e.function for e in ENTRIES if e.functional}


def expressions() -> dict[str, list[tuple[Expression, Callable[..., Any]]]]:
    """The expression language's functions: name -> its (Expression, function) overloads."""
    out: dict[str, list] = {}
    for e in ENTRIES:
        if e.expression is not None:
            out.setdefault(e.expression.name, []).append((e.expression, e.function))
    return out


def op_classes() -> dict[str, type]:
    """Every Function class chainrule's ops define (its op set), by name.

    The tests hold their op tables to this set: an op without a test row fails a test. The
    identities that carry a module's backward hooks (``nn.hooks``) are no ops: not here.
    """
    from ..autograd.function import Function

    found: dict[str, type] = {}
    stack = [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub.__module__.startswith("chainrule.ops.") and sub.__name__ not in found:
                found[sub.__name__] = sub
            stack.append(sub)
    return found
