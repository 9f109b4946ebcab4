"""Backpropagation step by step: at each gate, upstream gradient x local gradient = downstream.

``explain(output)`` walks the graph with ``trace`` (which replays each gate's own ``backward``)
and states every step in reverse topological order, as the lecture's slides do: the upstream
gradient, the local gradient and their product, the downstream gradient, and the gate pattern
where one applies (add distributes, mul swaps, copy adds, max routes). For a gate on tensors it
states the vector-Jacobian product it uses instead, and the size the Jacobian would have had.

The result is a structured ``Explanation`` (``.steps``, for tests and notebooks) whose ``str()``
is text and ``to_markdown()`` Markdown; Jupyter shows the Markdown.

Example:
    >>> x = cr.tensor(3.0, requires_grad=True, name="x")
    >>> print(cr.viz.explain(x * x))
    Backpropagation through 1 gate, from the output back to the inputs (...).
    The output f = 9 starts with gradient 1.
      1. * (MulBackward): output 9, upstream 1; mul gate swaps
           to x = 3: upstream 1 x local x = 3 -> downstream 3
           to x = 3: upstream 1 x local x = 3 -> downstream 3
      2. copy gate adds: x is used 2 times, so its gradients add up: 3 + 3 = 6
    Gradients at the inputs: x = 6
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from .formulas import equation, formula, vjp
from .graph import SMALL, draw_graph, shape_str, summary
from .snapshot import Edge, Gate, Graph, fmt, trace

__all__ = ["EdgeStep", "Explanation", "Graph", "Step", "draw_graph", "explain", "trace"]


@dataclass(frozen=True)
class EdgeStep:
    """The gradient a gate passes back to one of its inputs.

    Attributes:
        to: the input: a leaf's name, or the name of the gate that made it.
        value: the input's forward value.
        upstream: the gradient arriving at the gate's output.
        local: the local gradient as a formula (``-1/x^2``), or for tensors the
            vector-Jacobian product used instead (``upstream @ w^T``).
        local_value: the local gradient's value (gates on single numbers), else None.
        downstream: upstream x local, the gradient passed on to ``to`` (None if none flows).
        jacobian_shape: (output size, input size) of the Jacobian that is never formed (tensors).
        jacobian_bytes: the memory it would take.
    """

    to: str
    value: Any
    upstream: Any
    local: str
    local_value: Any
    downstream: Any
    jacobian_shape: tuple[int, int] | None = None
    jacobian_bytes: int | None = None


@dataclass(frozen=True)
class Step:
    """One step of backpropagation: a gate, or a copy gate adding up the uses of one value.

    Attributes:
        number: 1 for the gate next to the output, and up.
        kind: "gate" or "copy".
        gate: the gate's name (``1/x``, ``+#2``), or for a copy step the value's name.
        op: the node's name (``DivBackward``), or "copy".
        pattern: the gate pattern by name, where one applies (``add gate distributes``).
        output: the gate's forward value (a copy step: the value).
        upstream: the gradient arriving at the gate's output (a copy step: their sum).
        edges: one ``EdgeStep`` per input that gets a gradient.
        parts: a copy step's gradients, one per use, that add up to ``upstream``.
        equation: for a gate whose output has a name, how it is computed from its inputs
            (``x + y`` for ``q``), else None.
    """

    number: int
    kind: str
    gate: str
    op: str
    pattern: str | None
    output: Any
    upstream: Any
    edges: tuple[EdgeStep, ...] = ()
    parts: tuple = ()
    equation: str | None = None


class Explanation:
    """Every step of a backward pass; ``str()`` is text, ``to_markdown()`` Markdown.

    Attributes:
        steps: the steps, in the order backpropagation takes them.
        graph: the traced ``Graph``.
        leaves: leaf name -> its gradient, for the leaves that require grad.
    """

    def __init__(
        self, graph: Graph, steps: list[Step], digits: int, max_elements: int = SMALL
    ) -> None:
        self.graph = graph
        self.steps = steps
        self.digits = digits
        self.max_elements = max_elements
        self.leaves: dict[str, Any] = {}
        for v in graph.leaves():
            if v.requires_grad:  # two leaves of one name stay apart: x, x#2
                name, k = v.name, 1
                while name in self.leaves:
                    k += 1
                    name = f"{v.name}#{k}"
                self.leaves[name] = v.grad

    @property
    def output(self) -> Any:
        """The output's forward value."""
        return self.graph.values[self.graph.output].data

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, i: int) -> Step:
        return self.steps[i]

    def __repr__(self) -> str:
        return f"<Explanation: {len(self.steps)} steps of backpropagation>"

    def draw(self, **kwargs: Any) -> str | bytes:
        """``draw_graph`` of the same graph, with the same gradients."""
        return draw_graph(self.graph, **kwargs)

    def _n(self, a: Any) -> str:
        if a is None:
            return "none"
        if isinstance(a, list):  # a gate with several outputs
            return "; ".join(self._n(x) for x in a)
        return summary(a, self.digits, self.max_elements)

    def _head(self) -> str:
        g = self.graph
        n = sum(s.kind == "gate" for s in self.steps)
        copies = len(self.steps) - n
        counted = _plural(n, "gate")
        if copies:  # a value used k times is one copy gate: a step of its own
            counted += f" and {_plural(copies, 'copy gate')} ({_plural(len(self.steps), 'step')})"
        if n < len(g.gates):
            counted += f" ({len(g.gates) - n} more that no gradient reaches)"
        out = g.values[g.output]
        return (
            f"Backpropagation through {counted}, from the output back to the inputs (reverse "
            f"topological order).\nThe output {out.name} = {self._n(out.data)} starts with "
            f"gradient {self._n(g.seed)}."
        )

    def _sum(self, parts: tuple) -> str:
        """Gradients added up as one writes it: 0.5121 - 0.03576, not 0.5121 + -0.03576."""
        text = self._n(parts[0])
        for p in parts[1:]:
            term = self._n(p)
            text += f" - {term[1:]}" if term.startswith("-") else f" + {term}"
        return text

    def _tail(self) -> str:
        if not self.leaves:
            return "No leaf requires grad."
        items = [
            f"{k} = {self._n(v) if v is not None else 'none (not reached)'}"
            for k, v in self.leaves.items()
        ]
        return "Gradients at the inputs: " + ", ".join(items)

    def __str__(self) -> str:
        if not self.graph.gates:
            return "The output is a leaf: there is no gate to backpropagate through."
        lines = [self._head()]
        for s in self.steps:
            if s.kind == "copy":
                lines.append(
                    f"{s.number:>3}. copy gate adds: {s.gate} is used {len(s.parts)} times, so its "
                    f"gradients add up: {self._sum(s.parts)} = {self._n(s.upstream)}"
                )
                continue
            gate = f"{s.gate} = {s.equation}" if s.equation else s.gate
            head = f"{s.number:>3}. {gate} ({s.op}): output {self._n(s.output)}, upstream"
            head += f" {self._n(s.upstream)}" + (f"; {s.pattern}" if s.pattern else "")
            lines.append(head)
            for e in s.edges:
                lines.append("       " + self._edge_text(e))
        lines.append(self._tail())
        return "\n".join(lines)

    def _edge_text(self, e: EdgeStep) -> str:
        if e.jacobian_shape is None:  # one number in, one out: the slides' arithmetic
            local = e.local if _is_number(e.local) else f"{e.local} = {self._n(e.local_value)}"
            return (
                f"to {e.to} = {self._n(e.value)}: upstream {self._n(e.upstream)} x local {local} "
                f"-> downstream {self._n(e.downstream)}"
            )
        rows, cols = e.jacobian_shape
        return (
            f"to {e.to} {shape_str(np.shape(e.value))}: vector-Jacobian product "
            f"{e.local} -> downstream {self._n(e.downstream)}\n"
            f"         (the Jacobian would be {rows} x {cols} = {rows * cols} numbers, "
            f"{format_bytes(e.jacobian_bytes)} in {_dtype(e.value)}: never formed)"
        )

    def to_markdown(self) -> str:
        """The steps as a Markdown table, with the output and the leaves' gradients."""
        if not self.graph.gates:
            return "The output is a leaf: there is no gate to backpropagate through.\n"
        rows = [
            self._head(),
            "",
            "| step | gate | to | upstream | local | downstream | pattern |",
            "|---:|---|---|---|---|---|---|",
        ]
        for s in self.steps:
            if s.kind == "copy":
                parts = self._sum(s.parts)
                rows.append(
                    f"| {s.number} | copy | {_md(s.gate)} | {parts} | 1 | "
                    f"{self._n(s.upstream)} | copy gate adds |"
                )
                continue
            for k, e in enumerate(s.edges or [None]):
                first = k == 0
                cells = [
                    str(s.number) if first else "",
                    f"`{s.gate} = {s.equation}`"
                    if first and s.equation
                    else (f"`{s.gate}`" if first else ""),
                    _md(f"{e.to} = {self._n(e.value)}") if e else "",
                    _md(self._n(s.upstream)) if first else "",
                    _md(self._local_md(e)) if e else "",
                    _md(self._n(e.downstream)) if e else "",
                    (s.pattern or "") if first else "",
                ]
                rows.append("| " + " | ".join(cells) + " |")
        rows += ["", self._tail(), ""]
        return "\n".join(rows)

    def _local_md(self, e: EdgeStep) -> str:
        if e.jacobian_shape is None:
            return e.local if _is_number(e.local) else f"{e.local} = {self._n(e.local_value)}"
        rows, cols = e.jacobian_shape
        return (
            f"VJP {e.local} (Jacobian {rows} x {cols}, {format_bytes(e.jacobian_bytes)} in "
            f"{_dtype(e.value)}, never formed)"
        )

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def explain(
    output: Tensor | Graph,
    grad_output: Any = None,
    *,
    module: Any = None,
    digits: int = 4,
    max_elements: int = SMALL,
) -> Explanation:
    """Every step of backpropagation from ``output``, in reverse topological order.

    For each gate: the upstream gradient, the local gradient (a formula and its value, for gates
    on single numbers; for tensors, the vector-Jacobian product used and the size the Jacobian
    would have had) and the downstream gradient they multiply to, with the gate pattern named.
    A value used more than once gets a copy step that adds its gradients. ``.grad`` is left alone.

    Args:
        output: a tensor (before ``backward()``, or after it where backward kept a small graph;
            see ``trace``), or a ``Graph``.
        grad_output: the gradient to start from; needed when ``output`` has more than one element.
        module: a ``cr.nn.Module`` whose parameters to name.
        digits: significant digits in the text.
        max_elements: tensors of at most this many values are written in full; larger ones as
            min/mean/max.

    Returns:
        An ``Explanation``: ``.steps``, ``str()`` text, ``.to_markdown()``.

    Example:
        >>> print(cr.viz.explain(1 / (1 + cr.exp(-(w0 * x0 + w1 * x1 + w2)))))
    """
    if isinstance(output, Tensor) and not output.requires_grad:
        raise ValueError(
            "explain: the output does not require grad, so no graph recorded how it was made; "
            "create the inputs with requires_grad=True"
        )
    if isinstance(output, Graph):
        if grad_output is not None or module is not None:
            raise ValueError("explain: pass grad_output= and module= to cr.viz.trace() instead")
        graph = output
    else:
        graph = trace(output, grad_output, module=module)
    if not graph.has_grads:
        shape = tuple(np.shape(graph.values[graph.output].data))
        raise ValueError(
            f"explain: the output has shape {shape}, so backpropagation needs a gradient to start "
            f"from: pass grad_output= (an array of shape {shape}), or explain a scalar such as "
            "output.sum()"
        )
    if not isinstance(digits, int) or not 1 <= digits <= 17:
        raise ValueError(f"explain: digits must be an integer from 1 to 17; got {digits!r}")
    if not isinstance(max_elements, int) or max_elements < 0:
        raise ValueError(f"explain: max_elements must be a whole number >= 0; got {max_elements!r}")
    return Explanation(graph, _steps(graph), digits, max_elements)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _steps(g: Graph) -> list[Step]:
    uses: dict[int, int] = {}
    for e in g.edges:
        if e.grad is not None:
            uses[e.value] = uses.get(e.value, 0) + 1
    parts: dict[int, list] = {}
    steps: list[Step] = []
    for gate in g.backward_order():
        if all(u is None for u in gate.upstream):
            continue  # no gradient reached this gate
        edges = tuple(
            _edge_step(g, gate, g.edges[e]) for e in gate.edges if g.edges[e].grad is not None
        )
        up = gate.upstream[0] if len(gate.upstream) == 1 else gate.upstream
        out = [g.values[v].data for v in gate.outputs if v is not None]
        steps.append(
            Step(len(steps) + 1, "gate", gate.name, gate.node_name, _pattern(g, gate),
                 out[0] if len(out) == 1 else out, up, edges, equation=equation(g, gate))
        )  # fmt: skip
        for e in gate.edges:
            edge = g.edges[e]
            if edge.grad is None:
                continue
            parts.setdefault(edge.value, []).append(edge.grad)
            if uses[edge.value] > 1 and len(parts[edge.value]) == uses[edge.value]:
                v = g.values[edge.value]
                steps.append(
                    Step(len(steps) + 1, "copy", v.name, "copy", "copy gate adds", v.data, v.grad,
                         parts=tuple(parts[edge.value]))
                )  # fmt: skip
    return steps


def _pattern(g: Graph, gate: Gate) -> str | None:
    pattern = getattr(gate.function, "pattern", None)
    if pattern == "mul gate swaps" and len(gate.edges) < 2:
        return None  # times a constant: a scale, not a swap
    return pattern


def _edge_step(g: Graph, gate: Gate, edge: Edge) -> EdgeStep:
    v = g.values[edge.value]
    up = gate.upstream[0] if len(gate.upstream) == 1 else None
    local = gate.local.get(edge.position)
    if local is not None and up is not None:
        return EdgeStep(v.name, v.data, up, formula(g, gate, edge), local, edge.grad)
    out_size = sum(int(np.size(g.values[o].data)) for o in gate.outputs if o is not None)
    if gate.op == "Split":
        out_size = int(np.size(v.data))
    rows, cols = out_size, int(np.size(v.data))
    itemsize = np.asarray(v.data).dtype.itemsize
    return EdgeStep(
        v.name,
        v.data,
        up if up is not None else gate.upstream,
        vjp(g, gate, edge),
        None,
        edge.grad,
        (rows, cols),
        rows * cols * itemsize,
    )


def format_bytes(n: int | None) -> str:
    """A size in binary units, as the lecture counts the Jacobian: 274877906944 -> '256 GiB'."""
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{fmt(size, 4)} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _is_number(s: str) -> bool:
    try:
        float(s.strip("()"))
    except ValueError:
        return False
    return True


def _dtype(a: Any) -> str:
    return str(np.asarray(a).dtype)


def _md(s: str) -> str:
    """Text for a Markdown table cell: | ends a cell, * and _ would start emphasis."""
    for ch in "\\|*_":
        s = s.replace(ch, "\\" + ch)
    return s.replace("\n", " ")
