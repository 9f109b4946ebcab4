"""Tracing a computational graph into a snapshot: gates, values and the gradient on every edge.

``trace(output)`` walks the graph that produced ``output`` once, into a plain snapshot (``Graph``):
the gates in topological order, the tensors on the edges (held strongly, so the snapshot outlives
the graph), and, when the output is a scalar or ``grad_output`` is given, the gradient on every
edge. Those gradients come from replaying each gate's own ``backward`` in reverse topological
order, exactly as the engine does; the replay touches no ``.grad`` and frees nothing, so
``output.backward()`` can still run afterwards and gives the same numbers. ``draw_graph``
(``graph.py``) and ``explain`` (``explain.py``) both read the snapshot.

Why a snapshot: ``backward()`` frees each node's saved values as it runs (unless
``retain_graph=True``). A small graph (``engine.KEEP_NUMBERS``: the lecture's neuron, a layer
on a few points) keeps its nodes' inputs, and the replay runs each node's forward again on them
(``_replayable``), so forward, backward, then draw just works and nothing is kept for the
drawing's sake; a larger graph's inputs are freed too, and it can only be walked before
backward. To draw one, trace first and backward later::

    >>> g = cr.viz.trace(f)       # before f.backward()
    >>> f.backward()
    >>> cr.viz.draw_graph(g, path="neuron.svg")
"""

from __future__ import annotations

import inspect
import logging
import os
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd.engine import GATE_NUMBERS, KEEP_NUMBERS, sum_to
from ..autograd.function import Node
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tensor import Tensor

logger = logging.getLogger(__name__)

CONST_BY_VALUE = 4  # an unnamed constant of at most this many numbers is called by its value


@dataclass(eq=False)
class Value:
    """One tensor of the graph: a leaf, a constant array, or the output of a gate.

    ``grad`` is d(output)/d(value), summed over every use (None when no gradient reaches it).
    """

    name: str
    data: Any
    kind: str  # "leaf", "const" or "gate"
    gate: int | None = None  # the gate that produced it
    index: int = 0  # which of that gate's outputs
    requires_grad: bool = False
    grad: Any = None
    tensor: Tensor | None = None
    module: str | None = None  # the layer that owns it, for parameters
    named: bool = False  # the name is the tensor's own (``name=``, a parameter's, a program's)


@dataclass(eq=False)
class Edge:
    """A value flowing into argument ``position`` of a gate, and the gradient flowing back."""

    value: int
    gate: int
    position: int
    grad: Any = None  # this edge's share of the value's gradient (the copy gate adds them up)


@dataclass(eq=False)
class Gate:
    """One op of the graph. ``args`` are the call's arguments with each tensor replaced by None."""

    index: int
    op: str  # the Function's class name, e.g. "Mul"
    node_name: str  # e.g. "MulBackward"
    label: str  # the slide's symbol, e.g. "*", "+1", "1/x"
    args: tuple
    needs: tuple = ()  # needs_input_grad
    edges: list[int] = field(default_factory=list)
    outputs: list = field(default_factory=list)  # value index per output, None where unused
    upstream: list = field(default_factory=list)  # gradient arriving at each output
    local: dict = field(default_factory=dict)  # position -> local gradient (all-scalar gates)
    module: str | None = None
    name: str = ""  # the label, made unique ("*#1", "*#2") where labels repeat
    function: Any = None  # the Function class: what the op says of itself (symbol, local_grad)


class Graph:
    """A snapshot of a computational graph, made by ``trace``: values, gates, edges, gradients.

    Attributes:
        values: every tensor (leaves, constants, gate outputs); ``output`` indexes the result.
        gates: the ops in topological order (inputs first).
        edges: one per tensor argument of each gate.
        seed: the gradient the output started with (None: gradients were not computed).
        modules: layer name -> class name, for the layers ``module=`` pointed at.
    """

    def __init__(self) -> None:
        self.values: list[Value] = []
        self.gates: list[Gate] = []
        self.edges: list[Edge] = []
        self.output = 0
        self.seed: Any = None
        self.note = ""
        self.modules: dict[str, str] = {}
        self.order: list[int] = []  # gate indices in the order backpropagation visits them

    @property
    def has_grads(self) -> bool:
        return self.seed is not None

    def leaves(self) -> list[Value]:
        """The leaf tensors, in the order the forward pass first used them."""
        return [v for v in self.values if v.kind == "leaf"]

    def backward_order(self) -> list[Gate]:
        """The gates in reverse topological order: the order backpropagation visits them."""
        return [self.gates[i] for i in self.order]

    def to_dot(
        self,
        values: bool = True,
        grads: bool = True,
        collapse: bool = True,
        digits: int = 4,
        max_elements: int = 16,
    ) -> str:
        """The graph as Graphviz DOT text, left to right, values above and gradients below.

        Args:
            values: write each edge's forward value.
            grads: write each edge's gradient below it (in red), when they were computed.
            collapse: draw each layer of ``module`` as one box.
            digits: significant digits of the numbers.
            max_elements: tensors of at most this many values are shown in full.

        Returns:
            The DOT source.
        """
        from .graph import _Dot  # drawing sits on top of the snapshot

        return _Dot(self, values, grads and self.has_grads, collapse, digits, max_elements).source()

    def draw(
        self, format: str | None = None, path: str | os.PathLike | None = None, **kw: Any
    ) -> str | bytes:
        """``draw_graph(self, ...)``: render (or write) this snapshot."""
        from .graph import draw_graph

        return draw_graph(self, format=format, path=path, **kw)

    def _repr_svg_(self) -> str | None:
        """Jupyter shows the graph inline (None, so the text repr shows, without Graphviz)."""
        from .graph import GraphvizNotFoundError, render

        try:
            return render(self.to_dot(), "svg").decode("utf-8")
        except (GraphvizNotFoundError, ImportError) as e:
            logger.warning("cannot show the graph inline: %s", e)
            return None

    def __repr__(self) -> str:
        out = self.values[self.output]
        return (
            f"<Graph: {len(self.gates)} gates, {len(self.leaves())} leaves, output "
            f"{out.name} of shape {tuple(np.shape(out.data))}"
            + (", with gradients>" if self.has_grads else ">")
        )


# ----- tracing -----
def trace(output: Tensor, grad_output: Any = None, *, module: Any = None) -> Graph:
    """Walk the graph that made ``output`` into a ``Graph`` snapshot, with every edge's gradient.

    Call it before ``output.backward()``, or after it where backward kept the graph: a small
    one (see the module's docstring), or any with ``backward(retain_graph=True)``. The
    gradients are computed here, by running each gate's ``backward`` in reverse topological
    order; ``.grad`` is left alone. Tensor hooks are not run.

    Args:
        output: the result of a computation.
        grad_output: the gradient to start from, of ``output``'s shape; defaults to 1 for an
            output with one element (for larger outputs, gradients are left out without it).
        module: a ``cr.nn.Module`` whose parameters to name (``fc1.weight``) and group by layer.

    Returns:
        The snapshot, for ``draw_graph`` and ``explain``.

    Example:
        >>> x = cr.tensor(3.0, requires_grad=True, name="x")
        >>> g = cr.viz.trace(x * x)
        >>> g.values[0].name, float(g.values[0].grad)
        ('x', 6.0)
    """
    if not isinstance(output, Tensor):
        raise TypeError(
            f"trace: expected the Tensor whose graph to walk; got {type(output).__name__}"
        )
    builder = _Builder(_parameter_owners(module) if module is not None else {})
    g = builder.graph
    if output.grad_fn is None:
        g.output = builder.tensor_value(output)
    else:
        forward, backward = _walk(output.grad_fn)
        for node in forward:
            builder.add_gate(node)
        g.order = [builder.gate_of[node] for node in backward]
        g.output = builder.tensor_value(output)
        builder.name_gates()
    builder.name_inputs()
    out = g.values[g.output]
    if output.name is not None:
        out.name = output.name
    elif out.kind == "gate":
        out.name = "f"  # the lecture's name for the function being differentiated
    seed = _seed(output, grad_output)
    if seed is None:
        if output.requires_grad:
            g.note = (
                f"gradients not shown: the output has shape {tuple(output.shape)}; pass "
                "grad_output= of that shape, or draw a scalar such as output.sum()"
            )
        return g
    g.seed = seed
    out.grad = seed
    builder.replay()
    return g


def _walk(root: Node) -> tuple[list[Node], list[Node]]:
    """Every node reachable from ``root``, in two orders: forward (a depth-first post-order, inputs
    in argument order: the order the ops ran) and backward (Kahn's, first in first out from the
    root, as the engine visits them). Iterative, so deep graphs need no recursion."""
    deps = {root: 0}
    stack = [root]
    while stack:
        node = stack.pop()
        if node.inputs is None:
            raise RuntimeError(
                f"trace: the graph was freed by backward() ({node.name()} has no inputs any "
                "more): backward keeps a graph for drawing only when its tensors hold at most "
                f"{KEEP_NUMBERS} numbers, each gate counting as {GATE_NUMBERS}. Draw or explain it "
                "before output.backward(), keep it with backward(retain_graph=True), or take a "
                "snapshot first: g = cr.viz.trace(output)"
            )
        for p in _parents(node):
            if p in deps:
                deps[p] += 1
            else:
                deps[p] = 1
                stack.append(p)
    backward, queue = [], deque([root])
    while queue:
        node = queue.popleft()
        backward.append(node)
        for p in _parents(node):
            deps[p] -= 1
            if deps[p] == 0:
                queue.append(p)
    forward: list[Node] = []
    done: set[Node] = set()
    todo = [(root, 0)]
    while todo:
        node, i = todo.pop()
        parents = _parents(node)
        if i < len(parents):
            todo.append((node, i + 1))
            if parents[i] not in done:
                todo.append((parents[i], 0))
        elif node not in done:
            done.add(node)
            forward.append(node)
    return forward, backward


def _parents(node: Node) -> list[Node]:
    return [a.grad_fn for a in node.inputs if isinstance(a, Tensor) and a.grad_fn is not None]


def _parameter_owners(module: Any) -> dict[int, tuple[str, str, str]]:
    """id(parameter) -> (dotted name, owning layer's name, its class name)."""
    if not hasattr(module, "named_modules"):
        raise TypeError(
            f"module must be a cr.nn.Module (to name and group its parameters); got "
            f"{type(module).__name__}"
        )
    owners: dict[int, tuple[str, str, str]] = {}
    for mname, m in module.named_modules():
        for pname, p in m.named_parameters(recurse=False):
            if id(p) not in owners:
                qual = f"{mname}.{pname}" if mname else pname
                owners[id(p)] = (qual, mname, type(m).__name__)
    return owners


def _seed(output: Tensor, grad_output: Any) -> Any:
    data = output._data
    if grad_output is None:
        if output.requires_grad and data.size == 1:
            return np.ones_like(data)
        return None
    if not output.requires_grad:
        raise ValueError(
            "grad_output was given, but the output does not require grad, so no gradient flows; "
            "create the inputs with requires_grad=True"
        )
    seed = np.asarray(grad_output._data if isinstance(grad_output, Tensor) else grad_output)
    if seed.shape != data.shape:
        raise ValueError(
            f"grad_output must have the output's shape {tuple(data.shape)}; got {tuple(seed.shape)}"
        )
    return seed.astype(data.dtype)


class _Builder:
    """Fills a Graph gate by gate, in topological order, then replays the backward pass."""

    def __init__(self, owners: dict) -> None:
        self.graph = Graph()
        self.owners = owners
        self.keys: dict[Any, int] = {}  # id(leaf) / (node, index) -> value index
        self.gate_of: dict[Node, int] = {}
        self.nodes: list[Node] = []
        self.roles: dict[int, str] = {}  # value index -> its argument's name, for the unnamed

    def tensor_value(self, t: Tensor, role: str = "x") -> int:
        g = self.graph
        if t.grad_fn is None:
            key: Any = id(t)
            if key not in self.keys:
                owner = self.owners.get(id(t))
                if owner is not None:
                    name, mod = owner[0], owner[1]
                    g.modules.setdefault(mod, owner[2])
                else:
                    name, mod = t.name, None
                named = name is not None
                v = Value(name if named else role, t._data, "leaf", tensor=t)
                v.requires_grad, v.module, v.named = t.requires_grad, mod, named
                self.keys[key] = self._add(v)
                if not named:
                    self.roles[self.keys[key]] = role
            return self.keys[key]
        key = (t.grad_fn, t._index)
        if key not in self.keys:
            gate = g.gates[self.gate_of[t.grad_fn]]
            v = Value("", t._data, "gate", gate.index, t._index, True, tensor=t)
            if t.name is not None:  # an intermediate the user named: q, s0, h
                v.name, v.named = t.name, True
            self.keys[key] = self._add(v)
            gate.outputs[t._index] = self.keys[key]
        return self.keys[key]

    def name_inputs(self) -> None:
        """Name the inputs that have no name of their own, once every name given is known.

        A small constant that is only a letter of its first gate's forward (the ``y`` of
        ``x * y``) is called by its value, as written (``2``, ``[4, -1, 5, 9]``); any other
        input by the argument it is to its first gate (``x``, ``target``), numbered where
        that name is already taken (``x#2``): never two inputs of one name, and never an
        unnamed one called like a named one."""
        values = self.graph.values
        taken = {v.name for v in values if v.named}
        for vi, role in self.roles.items():
            v = values[vi]
            if not v.requires_grad and len(role) == 1 and np.size(v.data) <= CONST_BY_VALUE:
                text = _value_text(v.data)
                if len(text) <= 24:
                    v.name = text
                    continue
            name, n = role, 1
            while name in taken:
                n += 1
                name = f"{role}#{n}"
            taken.add(name)
            v.name = name

    def _add(self, v: Value) -> int:
        self.graph.values.append(v)
        return len(self.graph.values) - 1

    def add_gate(self, node: Node) -> None:
        g = self.graph
        args = tuple(None if isinstance(a, Tensor) else a for a in node.inputs)
        fn = node.function
        gate = Gate(len(g.gates), fn.__name__, node.name(), gate_label(fn, node.inputs), args)
        gate.function = fn
        gate.needs = tuple(node.needs_input_grad)
        gate.outputs = [None] * node.n_outputs
        g.gates.append(gate)
        self.gate_of[node] = gate.index
        self.nodes.append(node)
        roles = _argument_names(fn)
        for pos, a in enumerate(node.inputs):
            role = roles[min(pos, len(roles) - 1)] if roles else "x"
            if isinstance(a, Tensor):
                vi = self.tensor_value(a, role)
            elif isinstance(a, np.ndarray) and a.ndim > 0:
                vi = self._add(Value(role, a, "const"))
                self.roles[vi] = role
            else:
                continue
            gate.edges.append(len(g.edges))
            g.edges.append(Edge(vi, gate.index, pos))
        # a gate belongs to a layer when the parameters it takes are that layer's alone (the L2
        # penalty of a whole model takes every layer's weights, and belongs to none of them)
        # and something flows through it besides them: the layer's input, or what one of its
        # gates made. A gate on the weights alone (W ** 2 of a hand-written penalty) is not
        # the layer's forward, and is drawn outside its box
        owners = [g.values[g.edges[e].value].module for e in gate.edges]
        if len(set(owners) - {None}) == 1 and None in owners:
            gate.module = next(m for m in owners if m is not None)

    def name_gates(self) -> None:
        """A gate is called by its output's name where that was given (``q``), else by its
        label, numbered where labels repeat (``*#1``, ``*#2``)."""
        gates, values = self.graph.gates, self.graph.values
        given = {}
        for gate in gates:
            outs = [values[vi] for vi in gate.outputs if vi is not None]
            if len(gate.outputs) == 1 and outs and outs[0].named:
                given[gate.index] = outs[0].name
        counts: dict[str, int] = {}
        for gate in gates:
            if gate.index not in given:
                counts[gate.label] = counts.get(gate.label, 0) + 1
        seen: dict[str, int] = {}
        for gate in gates:
            if gate.index in given:
                gate.name = given[gate.index]
                continue
            if counts[gate.label] > 1:
                seen[gate.label] = seen.get(gate.label, 0) + 1
                gate.name = f"{gate.label}#{seen[gate.label]}"
            else:
                gate.name = gate.label
            for i, vi in enumerate(gate.outputs):
                if vi is not None and not values[vi].named:
                    values[vi].name = gate.name + (f"[{i}]" if len(gate.outputs) > 1 else "")

    def replay(self) -> None:
        """The backward pass, gate by gate, keeping every edge's gradient (see ``trace``)."""
        g = self.graph
        for gate in g.backward_order():
            node = self.nodes[gate.index]
            ups = [g.values[vi].grad if vi is not None else None for vi in gate.outputs]
            gate.upstream = ups
            if all(u is None for u in ups):
                continue
            if len(ups) > 1:  # outputs nobody used get zeros, as in the engine
                ups = [
                    u if u is not None else xp.zeros(shape, dtype=dtype, device=where)
                    for u, (shape, dtype, xp, where) in zip(ups, node._out_meta)
                ]
            result = _call_backward(node, ups)
            for e in gate.edges:
                edge = g.edges[e]
                grad = self._reduce(node, result, edge)
                if grad is not None:
                    edge.grad = grad
                    v = g.values[edge.value]
                    v.grad = grad if v.grad is None else v.grad + grad
            if (
                len(ups) == 1
                and ups[0].size == 1
                and all(np.size(g.values[g.edges[e].value].data) == 1 for e in gate.edges)
            ):
                ones = _call_backward(node, [np.ones_like(ups[0])])
                gate.local = {}
                for e in gate.edges:
                    local = self._reduce(node, ones, g.edges[e])
                    if local is not None:
                        gate.local[g.edges[e].position] = local

    def _reduce(self, node: Node, result: list, edge: Edge) -> Any:
        grad = result[edge.position]
        if grad is None or not node.needs_input_grad[edge.position]:
            return None
        data = self.graph.values[edge.value].data
        if grad.shape != data.shape:
            grad = sum_to(grad, data.shape, node, edge.position)
        return grad.astype(data.dtype, copy=False)


def _argument_names(fn: type) -> tuple[str, ...]:
    """The names of ``fn.forward``'s arguments after ctx (``("x", "target", ...)``); what an
    unnamed input is called in drawings. A ``*args`` forward gives ``x`` for each."""
    cached = _ROLES.get(fn)
    if cached is None:
        try:
            params = list(inspect.signature(fn.forward).parameters.values())[1:]
        except (TypeError, ValueError):
            params = []
        cached = tuple(
            "x" if p.kind is inspect.Parameter.VAR_POSITIONAL or p.name.startswith("_") else p.name
            for p in params
        )
        _ROLES[fn] = cached
    return cached


_ROLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # a user's class may go


def _replayable(node: Node) -> Node:
    """``node``, or where backward freed its saved values but kept its inputs, a node just like
    it, made by running its forward again on those inputs: its backward then gives the same
    gradients (forward values are all it saved). This is what lets a graph be drawn after
    ``backward()`` without anything kept alive for the drawing's sake. A saved input or output
    changed in place since (an optimizer's step) would make the replay silently differ from the
    real pass: that raises, as ``saved_tensors`` does under ``retain_graph=True``."""
    if node.saved is not None:
        return node
    for src in node._saved_src or ():
        if src is not None and src[2][0] != src[3]:
            raise RuntimeError(
                f"trace: {node.name()}: {'an input' if src[0] == 'in' else 'an output'} it used "
                "was modified in place since forward (an optimizer's step?), so its forward "
                "values are gone. Draw or explain the graph before changing its tensors, or take "
                "a snapshot first: g = cr.viz.trace(output)"
            )
    args = [
        Tensor._make(a._data, need) if isinstance(a, Tensor) else a
        for a, need in zip(node.inputs, node.needs_input_grad)
    ]
    with enable_grad():
        out = node.function.apply(*args)
    for t in out if isinstance(out, tuple) else (out,):
        if isinstance(t, Tensor) and t.grad_fn is not None:
            return t.grad_fn
    return node  # pragma: no cover (a node that needed a gradient records one again)


def _call_backward(node: Node, grads: list) -> list:
    """Run a node's backward as the engine does in a first-order pass; arrays (or None) back."""
    node = _replayable(node)
    fn = node.function
    mode = node._graph_mode
    node._graph_mode = False
    try:
        with no_grad():
            if fn.on_arrays:
                result = fn.backward(node, *grads)
            else:
                result = fn.backward(node, *[Tensor._make(g) for g in grads])
    finally:
        node._graph_mode = mode
    if type(result) is not tuple:
        result = (result,)
    if len(result) != len(node.inputs):
        raise RuntimeError(
            f"{node.name()}: backward returned {len(result)} gradient(s), but forward took "
            f"{len(node.inputs)} input(s); return one per input (None where none is needed)"
        )
    return [
        None if r is None else np.asarray(r._data if isinstance(r, Tensor) else r) for r in result
    ]


# ----- labels and numbers -----
def is_scalar_const(a: Any) -> bool:
    """A plain number (or 0-d array) argument: folded into the gate's label."""
    if isinstance(a, bool):
        return False
    return isinstance(a, (int, float, np.number)) or (isinstance(a, np.ndarray) and a.ndim == 0)


def fmt_const(c: Any) -> str:
    s = fmt(float(c), 4)
    return f"({s})" if s.startswith("-") else s


def gate_label(fn: type, args: tuple) -> str:
    """The slide's symbol for a call of Function ``fn``, with a scalar constant folded in:
    ``+1``, ``*(-1)``, ``1/x``; a reduction over some axes shows them, ``sum(dim=1)``.

    The symbol is the op's own (``Function.symbol``, else its class name).

    Example:
        >>> gate_label(Div, (1, x))
        '1/x'
    """
    op = fn.__name__
    sym = getattr(fn, "symbol", None) or op
    if op in ("Add", "Sub", "Mul", "Div", "Pow", "Maximum", "Minimum") and len(args) == 2:
        # the infix operators' own ways of showing a constant operand
        first, second = is_scalar_const(args[0]), is_scalar_const(args[1])
        if first != second:
            c = fmt_const(args[0] if first else args[1])
            if op in ("Maximum", "Minimum"):
                return f"{sym}({c}, x)" if first else f"{sym}(x, {c})"
            if op == "Pow" and second and float(args[1]) == -1:
                return "1/x"
            if op == "Div" and first and float(args[0]) == 1:
                return "1/x"
            if op in ("Add", "Mul"):
                return f"{sym}{c}"
            return f"{c}{sym}x" if first else f"{sym}{c}"
    describe = getattr(fn, "describe_call", None)
    if describe is None:  # a class that is not a Function
        return sym
    return describe(tuple(None if isinstance(a, Tensor) else a for a in args)) or sym


def _value_text(a: Any) -> str:
    """A constant as written: ``2``, ``[4, -1, 5, 9]``, ``[[1, 2], [3, 4]]``."""

    def nested(x: Any) -> str:
        return "[" + ", ".join(map(nested, x)) + "]" if isinstance(x, list) else fmt(x)

    return nested(np.asarray(a, dtype=np.float64).tolist())


def fmt(x: float, digits: int = 4) -> str:
    """A number with ``digits`` significant digits, as on the slides (0.7311, -0.5344, 6)."""
    s = f"{float(x):.{digits}g}"
    return "0" if s == "-0" else s
