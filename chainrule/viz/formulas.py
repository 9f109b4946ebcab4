"""A gate's local gradient and vector-Jacobian product as text, in the names of its inputs.

What an op says of itself (``Function.local_grad``, ``describe_local``, ``vjp``) is written with
x for the input the gradient is taken for; here it is read back in the graph's own names, as the
slides write it: ``-x/y^2`` for the denominator of x / y, ``e^q`` for exp(q), ``2 + 1`` with an
unnamed gate's value, ``q = x + y`` for how a named intermediate is computed. ``explain`` reads
these; they live apart because they are the one place that turns the ops' text into the graph's.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np

from .snapshot import Edge, Gate, Graph, fmt, fmt_const

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INFIX = ("+", "-", "*", "/", "@", "**")
_OTHER = "\x00"  # stands for the other operand while a formula's x is named


def _token(g: Graph, vi: int) -> str:
    """A value as it reads inside a formula: its name when that is a plain name (``x``, ``q``,
    ``w0``), else a single number's value (``2``, ``(-1)``), else its name in parentheses."""
    v = g.values[vi]
    if _plain_name(v):
        return v.name
    if np.size(v.data) == 1:
        return fmt_const(np.asarray(v.data).reshape(()))
    return f"({v.name})"


def _plain_name(v: Any) -> bool:
    """A name a formula can use: an input's, or one given to an intermediate, that is a plain
    identifier (a gate called by its label, such as exp or +#1, is not)."""
    return (v.kind != "gate" or v.named) and _IDENTIFIER.fullmatch(v.name) is not None


def _operands(g: Graph, gate: Gate) -> dict[int, int]:
    return {g.edges[e].position: g.edges[e].value for e in gate.edges}


def equation(g: Graph, gate: Gate) -> str | None:
    """How a named gate's output is computed, in its inputs' names: ``x + y``, ``sigmoid(s3)``,
    ``q + 1``, ``1/q``. None for a gate whose output has no name of its own."""
    outs = [g.values[vi] for vi in gate.outputs if vi is not None]
    if len(outs) != 1 or not outs[0].named:
        return None
    ops = _operands(g, gate)
    names = [_token(g, ops[k]) for k in sorted(ops)]
    label = gate.label
    if len(names) == 2 and label in _INFIX:
        return f"{names[0]} {label} {names[1]}"
    if len(names) == 1:
        if re.search(r"\bx\b", label):  # 1/x, max(x, 0), 1-x
            return re.sub(r"\bx\b", names[0], label)
        m = re.fullmatch(r"(\*\*|[-+*/@])(.+)", label)  # a constant folded in: +1, *(-1), **2
        if m:
            return tidy(f"{names[0]} {m.group(1)} {m.group(2)}")
    if _IDENTIFIER.fullmatch(label) and names:
        return f"{label}({', '.join(names)})"
    return label


def _other(g: Graph, gate: Gate, edge: Edge) -> str:
    """The other argument of a binary gate, as it reads in a formula: its name, or the value."""
    k = 1 - edge.position
    a = gate.args[k]
    if a is None:
        for e in gate.edges:
            if g.edges[e].position == k:
                return _token(g, g.edges[e].value)
    return fmt_const(a)


def formula(g: Graph, gate: Gate, edge: Edge) -> str:
    """The local gradient d(out)/d(input) of a gate on single numbers, as on the slides.

    The op says it (``Function.describe_local`` or ``local_grad``); for an op that does not (a
    user's Function), the formula names the input it is taken for.
    """
    local = _local_rule(g, gate, edge)
    if local is not None:
        return local
    return f"d({gate.label})/d({g.values[edge.value].name})"


def _local_rule(g: Graph, gate: Gate, edge: Edge) -> str | None:
    """What the op says its local gradient for this input is (None: it says nothing).

    An op writes the input it is taken for as x (``e^x``, ``-y/x^2``). Where that input has a
    plain name the formula uses it (``e^q``, ``-x/y^2``): always on a gate with one tensor
    input; on a gate with two, where the formula is written in terms of the other operand
    (x is then unambiguously this one).
    """
    fn = gate.function
    if fn is None:
        return None
    two = len(gate.args) == 2
    said = fn.describe_local(edge.position, gate.args, _OTHER if two else "", fmt_const)
    if said is None:
        rule = fn.local_grad
        if rule is None:
            return None
        said = rule[min(edge.position, len(rule) - 1)] if isinstance(rule, tuple) else rule
    this = g.values[edge.value]
    other = _other(g, gate, edge) if _OTHER in said else ""
    if len(gate.edges) == 1 or other or _variadic(fn):
        if _plain_name(this):
            said = _X.sub(this.name, said)
        elif _X.search(other) and np.size(this.data) == 1:  # x / (y + z): not -x/x^2
            said = _X.sub(_token(g, edge.value), said)
    return tidy(said.replace(_OTHER, other))


def _variadic(fn: type) -> bool:
    """Whether ``fn.forward`` takes its tensors as ``*args``: each plays the same part, so the
    x of its formula can only be the input it is taken for (``2x`` of the sum of squares)."""
    try:
        params = inspect.signature(fn.forward).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)


# x as a formula's variable: a word of its own, or after a number (2x)
_X = re.compile(r"(?<![A-Za-z_.])x(?![A-Za-z0-9_])")
_POSITIVE = r"\d+(?:\.\d*)?(?:e[-+]?\d+)?"
_NUM = rf"(?:\(-{_POSITIVE}\)|{_POSITIVE})"  # a number as fmt_const writes it: 2, (-0.5)


def tidy(text: str) -> str:
    """A formula with its numbers worked out as one writes them: ``x^(0.9 - 1)`` is
    ``x^(-0.1)`` and ``x^(3 - 1)`` is ``x^2``, ``-(-0.7)/y^2`` is ``0.7/y^2``, ``q + (-1)``
    is ``q - 1``, ``ln((-2))`` is ``ln(-2)``, and a leading ``(-0.7)`` is ``-0.7``.

    Example:
        >>> tidy("(-0.52) x^((-0.52) - 1)")
        '-0.52 x^(-1.52)'
    """

    def fold(m: re.Match) -> str:
        a, b = float(m.group(2).strip("()")), float(m.group(4).strip("()"))
        value = a + b if m.group(3) == "+" else a - b
        bare = m.group(1) == "^" and value >= 0  # x^2, not x^(2); ln(2) keeps its own
        return m.group(1) + (fmt(value) if bare else f"({fmt(value)})")

    text = re.sub(rf"(\^?)\(({_NUM}) ([-+]) ({_NUM})\)", fold, text)
    text = re.sub(rf"\(\((-{_POSITIVE})\)\)", r"(\1)", text)  # ln((-2)): ln(-2)
    text = re.sub(rf"(?<![\w)])-\(-({_POSITIVE})\)", r"\1", text)
    text = re.sub(rf" \+ \(-({_POSITIVE})\)", r" - \1", text)
    text = re.sub(rf" - \(-({_POSITIVE})\)", r" + \1", text)
    return re.sub(rf"^\((-{_POSITIVE})\)(?= |$)", r"\1", text)


def vjp(g: Graph, gate: Gate, edge: Edge) -> str:
    """How a gate on tensors applies its local gradient: the vector-Jacobian product.

    The op's own description (``Function.vjp``) if it has one; else, for an elementwise op, its
    local gradient times the upstream gradient (a diagonal Jacobian). Where the upstream
    gradient is one number other than 1 (the lambda of an L2 penalty), the rule is also written
    with it: ``upstream * 2 w = 0.01 * 2 w``, the slides' 2 lambda W.
    """
    rule = _vjp_rule(g, gate, edge)
    up = gate.upstream[0] if len(gate.upstream) == 1 else None
    if up is not None and np.size(up) == 1 and rule.startswith("upstream "):
        value = float(np.asarray(up).reshape(()))
        if value != 1:
            rule += f" = {fmt_const(value)}{rule[len('upstream') :]}"
    return rule


def _vjp_rule(g: Graph, gate: Gate, edge: Edge) -> str:
    shapes_differ = any(
        np.shape(g.values[g.edges[e].value].data) != np.shape(g.values[o].data)
        for e in gate.edges
        for o in gate.outputs
        if o is not None
    )
    bcast = ", summed over the broadcast axes" if shapes_differ else ""
    rules = getattr(gate.function, "vjp", None)
    if rules:
        return rules[min(edge.position, len(rules) - 1)].format(bcast=bcast)
    local = _local_rule(g, gate, edge)
    if local is None:
        return "the op's backward: a vector-Jacobian product"
    if local == "1":
        return f"upstream{bcast}"
    if local == "-1":
        return f"-upstream{bcast}"
    return f"upstream * ({local}) elementwise: the Jacobian is diagonal{bcast}"
