"""Draw a computational graph as the lecture's slides do: gates, values above, gradients below.

``draw_graph`` renders a ``trace`` snapshot (see ``snapshot.py``) left to right: inputs on the left,
one node per gate labelled with its operation, the forward value on each edge and, when traced
with gradients, the gradient in red below it.

Rendering uses Graphviz (the ``graphviz`` Python package and its ``dot`` program); the DOT text
(``format="dot"``) needs neither.
"""

from __future__ import annotations

import html
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..serialization import atomic_write_bytes
from .snapshot import Graph, _walk, fmt, trace

logger = logging.getLogger(__name__)

FORMATS = ("svg", "png", "pdf", "dot")
VALUE_COLOR = "#1a1a1a"
GRAD_COLOR = "#c0392b"
SMALL = 16  # tensors of at most this many values show them all (a 3x4 matrix); else min/mean/max
DPI = 192  # PNGs at twice the screen's 96 dpi: sharp on a slide


class GraphvizNotFoundError(RuntimeError):
    """Rendering was asked for, but Graphviz's ``dot`` program is not installed."""


def summary(a: Any, digits: int = 4, max_elements: int = SMALL) -> str:
    """A short text for a value: the number itself, a small tensor's shape and values, or a large
    one's shape with min/mean/max.

    Args:
        a: a number or an array.
        digits: significant digits.
        max_elements: tensors with at most this many values are written in full.

    Example:
        >>> summary(np.array([[1.0, 2.0], [3.0, 4.0]]))
        '(2, 2) [[1, 2], [3, 4]]'
    """
    return " ".join(summary_lines(a, digits, max_elements, rows=False))


def summary_lines(a: Any, digits: int = 4, max_elements: int = SMALL, rows: bool = True) -> list:
    """``summary`` as lines: with ``rows``, a small matrix's shape, then one line per row, as a
    matrix is written on a slide."""
    a = np.asarray(a)
    if a.ndim == 0:
        return [fmt(a, digits)]
    shape = shape_str(a.shape)
    if a.size == 0:
        return [f"{shape} empty"]
    f = a.astype(np.float64)
    if a.size <= max_elements:
        if rows and a.ndim == 2 and a.shape[0] > 1:
            return [shape] + [_nested(row, digits) for row in f.tolist()]
        return [shape, _nested(f.tolist(), digits)]
    return [
        shape,
        f"min {fmt(f.min(), digits)} mean {fmt(f.mean(), digits)} max {fmt(f.max(), digits)}",
    ]


def shape_str(shape: tuple) -> str:
    """A shape as Python writes it: (4,), (2, 3)."""
    return str(tuple(int(n) for n in shape))


def _nested(x: Any, digits: int) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(_nested(v, digits) for v in x) + "]"
    return fmt(x, digits)


# ----- DOT -----
class _Dot:
    """Writes a Graph as DOT: leaves left, one node per gate (or per layer), output right.

    Each wire's numbers sit on it as on the slides: a small label node through which the wire
    runs, its forward value above the line and its gradient below (so a label can never drift
    to a neighbouring edge). A value used more than once (the copy gate) fans out from one
    label that shows its total gradient, in bold, to one label per use with that use's share.
    """

    def __init__(
        self,
        g: Graph,
        values: bool,
        grads: bool,
        collapse: bool,
        digits: int,
        max_elements: int = SMALL,
    ) -> None:
        self.g, self.values, self.grads, self.digits = g, values, grads, digits
        self.max_elements = max_elements
        gates = g.gates
        self.box = {gt.index: gt.module for gt in gates if collapse and gt.module is not None}
        self.box_ids = {m: f"m{k}" for k, m in enumerate(dict.fromkeys(self.box.values()))}
        # a parameter disappears into its layer's box when only that layer uses it
        self.hidden = set()
        if self.box:
            users: dict[int, set] = {}
            for e in g.edges:
                users.setdefault(e.value, set()).add(self.box.get(e.gate))
            for vi, v in enumerate(g.values):
                if v.module is not None and users.get(vi) == {v.module}:
                    self.hidden.add(vi)
        self.labels = 0

    def input_order(self) -> list[int]:
        """The inputs (leaves and constants) as the expression reads, left to right: the order
        a walk from the output meets them, each gate's arguments in turn (``a*(b+c*d)``: a, b,
        c, d; the gates ran c*d first)."""
        g = self.g
        args: dict[int, list[int]] = {}
        for e in g.edges:
            args.setdefault(e.gate, []).append(e.value)
        order: list[int] = []
        seen: set[int] = set()
        stack = [g.output]
        while stack:
            vi = stack.pop()
            if vi in seen:
                continue
            seen.add(vi)
            v = g.values[vi]
            if v.kind != "gate":
                order.append(vi)
            else:
                stack.extend(reversed(args.get(v.gate, [])))
        return order

    def node_of_gate(self, gi: int) -> str:
        return self.box_ids[self.box[gi]] if gi in self.box else f"g{gi}"

    def node_of_value(self, vi: int) -> str:
        v = self.g.values[vi]
        return self.node_of_gate(v.gate) if v.kind == "gate" else f"v{vi}"

    def _text(self, a: Any) -> str:
        return "<BR/>".join(_esc(line) for line in summary_lines(a, self.digits, self.max_elements))

    def label_node(self, out: list, data: Any, grad: Any, name: str | None, total: bool) -> str:
        """A label node for one wire: the value above the line, the gradient below; its id."""
        self.labels += 1
        nid = f"l{self.labels}"
        top = bottom = ""
        if self.values and data is not None:
            top = self._text(data)
            if name:  # an intermediate with a name of its own: q = 3, as on the slides
                top = f"{_esc(name)} = {top}"
            top = f'<FONT COLOR="{VALUE_COLOR}">{top}</FONT>'
        if self.grads and grad is not None:
            lines = summary_lines(grad, self.digits, self.max_elements)
            if top and np.ndim(grad) > 0 and np.shape(grad) == np.shape(data):
                lines = lines[1:]  # the shape, once, above the line
            bottom = "<BR/>".join(_esc(line) for line in lines)
            if total:  # the copy gate's sum, where the value fans out
                bottom = f"<B>{bottom}</B>"
            bottom = f'<FONT COLOR="{GRAD_COLOR}">{bottom}</FONT>'
        out.append(
            f'  {nid} [shape=plain, label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" '
            f'CELLPADDING="1"><TR><TD SIDES="B" BORDER="1">{top}</TD></TR>'
            f'<TR><TD PORT="m" BORDER="0" CELLPADDING="0" HEIGHT="0"></TD></TR>'
            f"<TR><TD>{bottom}</TD></TR></TABLE>>];"
        )
        return nid

    def wire(self, out: list, src: str, dst: str, label: str | None) -> None:
        """An edge from ``src`` to ``dst``, through label node ``label`` when there is one."""
        if label is None:
            out.append(f"  {src} -> {dst};")
            return
        out.append(f"  {src} -> {label}:m:w [arrowhead=none, headclip=false{_near(src)}];")
        out.append(f"  {label}:m:e -> {dst} [tailclip=false];")

    def source(self) -> str:
        g = self.g
        out = [
            "digraph chainrule {",
            '  graph [rankdir=LR, fontname="Helvetica", fontsize=10, nodesep=0.25, ranksep=0.3,'
            " labelloc=b, ordering=in];",
            '  node [fontname="Helvetica", fontsize=12];',
            '  edge [fontname="Helvetica", fontsize=10, arrowsize=0.6];',
        ]
        labelled = self.values or self.grads
        inputs: list[str] = []
        for vi in self.input_order():
            v = g.values[vi]
            if vi in self.hidden:
                continue
            text = f"<B>{_esc(v.name)}</B>"
            if np.ndim(v.data) > 0:
                text += f"<BR/>{_esc(_shape(v.data))}"
            color = VALUE_COLOR if v.requires_grad else "#888888"
            out.append(f'  v{vi} [label=<{text}>, shape=plaintext, fontcolor="{color}"];')
            inputs.append(f"v{vi}")
        if len(inputs) > 1:  # the inputs in one column, top to bottom as the expression has them
            out.append(f"  {{rank=same; {' -> '.join(inputs)} [style=invis];}}")
        for gate in g.gates:
            if gate.index in self.box:
                continue
            shape = "circle" if len(gate.label) <= 5 else "box, style=rounded"
            out.append(
                f"  g{gate.index} [label=<{_esc(gate.label)}>, shape={shape}, "
                f'tooltip="{_esc(gate.node_name)}"];'
            )
        for mod, mid in self.box_ids.items():
            params = [(vi, v) for vi, v in enumerate(g.values) if v.module == mod]
            text = f"<B>{_esc(mod or 'model')}</B><BR/>{_esc(g.modules.get(mod, ''))}"
            for vi, p in params:
                text += f"<BR/>{_esc(p.name.rsplit('.', 1)[-1])} {_esc(_shape(p.data))}"
                if self.grads and p.grad is not None and vi in self.hidden:
                    # no wire shows it: its gradient, dL/dW, under its name
                    lines = summary_lines(p.grad, self.digits, self.max_elements)
                    grad = "<BR/>".join(_esc(line) for line in lines[1:] or lines)
                    text += f'<BR/><FONT COLOR="{GRAD_COLOR}">{grad}</FONT>'
            out.append(
                f'  {mid} [label=<{text}>, shape=box, style="rounded,filled", fillcolor="#eef3fb"];'
            )
        # the wires: one per (value, gate) use; two uses inside one box are one wire into it
        merged: dict[tuple, Any] = {}
        order: list[tuple] = []
        for e in g.edges:
            if e.value in self.hidden:
                continue
            src, dst = self.node_of_value(e.value), self.node_of_gate(e.gate)
            if src == dst:  # inside a collapsed layer
                continue
            key = (e.value, dst) if e.gate in self.box else (e.value, dst, e.position)
            if key not in merged:
                order.append(key)
                merged[key] = e.grad
            elif e.grad is not None:
                cur = merged[key]
                merged[key] = e.grad if cur is None else cur + e.grad
        uses: dict[int, list] = {}
        for key in order:
            uses.setdefault(key[0], []).append(key)
        done: set[int] = set()
        for key in order:  # in the order the gates take their arguments (ordering=in)
            vi = key[0]
            if vi in done:
                continue
            done.add(vi)
            v = g.values[vi]
            name = v.name if v.kind == "gate" and v.named else None
            src = self.node_of_value(vi)
            wires = uses[vi]
            if len(wires) == 1:
                label = self.label_node(out, v.data, merged[key], name, False) if labelled else None
                self.wire(out, src, key[1], label)
                continue
            # the copy gate: the value and its total gradient where it fans out, then each use
            shares = [merged[k] for k in wires]
            total = None if any(s is None for s in shares) else sum(shares[1:], shares[0])
            trunk = self.label_node(out, v.data, total, name, True) if labelled else None
            if trunk is None:
                trunk = f"c{vi}"
                out.append(f"  {trunk} [shape=point, width=0.06];")
                out.append(f"  {src} -> {trunk} [arrowhead=none{_near(src)}];")
            else:
                out.append(f"  {src} -> {trunk}:m:w [arrowhead=none, headclip=false{_near(src)}];")
            for k in wires:
                branch = self.label_node(out, None, merged[k], None, False) if labelled else None
                if branch is None:
                    out.append(f"  {trunk} -> {k[1]};")
                    continue
                port = f"{trunk}:m:e" if trunk.startswith("l") else trunk
                out.append(f"  {port} -> {branch}:m:w [arrowhead=none, tailclip=false, "
                           "headclip=false];")  # fmt: skip
                out.append(f"  {branch}:m:e -> {k[1]} [tailclip=false];")
        o = g.values[g.output]
        if o.kind == "gate":
            out.append(f"  out [label=<<B>{_esc(o.name)}</B>>, shape=plaintext];")
            label = self.label_node(out, o.data, g.seed, None, False) if labelled else None
            self.wire(out, self.node_of_value(g.output), "out", label)
        legend = []
        if self.grads:
            legend.append(
                f'<FONT COLOR="{VALUE_COLOR}">forward values</FONT> above each line, '
                f'<FONT COLOR="{GRAD_COLOR}">gradients</FONT> below; '
                f'<FONT COLOR="{GRAD_COLOR}"><B>bold</B></FONT>: the total where a value is '
                "used more than once"
                if any(len(w) > 1 for w in uses.values())
                else f'<FONT COLOR="{VALUE_COLOR}">forward values</FONT> above each line, '
                f'<FONT COLOR="{GRAD_COLOR}">gradients</FONT> below'
            )
        if g.note:
            legend.append(_esc(g.note))
        if legend:
            out.append(f"  label=<{'<BR/>'.join(legend)}>;")
        out.append("}")
        return "\n".join(out) + "\n"


def _near(src: str) -> str:
    """An input's numbers sit next to its name, however far its gate is: a heavy first edge."""
    return ", weight=8" if src.startswith("v") else ""


def _shape(a: Any) -> str:
    return shape_str(np.shape(a))


def _esc(s: str) -> str:
    return html.escape(str(s), quote=True)


# ----- rendering -----
def render(source: str, format: str, dpi: int = DPI) -> bytes:
    """Render DOT text with Graphviz's ``dot``; ``"dot"`` returns the text itself as bytes.

    ``dpi`` sets a PNG's resolution (SVG and PDF are vector drawings and keep their size).

    Raises:
        GraphvizNotFoundError: ``dot`` is not installed.
        ModuleNotFoundError: the ``graphviz`` Python package is not installed.
    """
    if format == "dot":
        return source.encode("utf-8")
    try:
        import graphviz
    except ImportError as e:
        raise ModuleNotFoundError(
            f"draw_graph: rendering to {format} needs the graphviz Python package: "
            'pip install "chainrule[graph]" (or pip install graphviz); format="dot" returns the '
            "DOT text without it"
        ) from e
    if format == "png":  # the resolution, a graph attribute set before any of the source's
        source = re.sub(r"\{", f"{{\n  dpi={int(dpi)};", source, count=1)
    try:
        return graphviz.Source(source).pipe(format=format)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(
            f"draw_graph: rendering to {format} needs Graphviz's `dot` program, which is not on "
            "PATH. Install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew "
            "install graphviz; conda: conda install -c conda-forge graphviz; Windows: winget "
            'install graphviz), or ask for format="dot" to get the DOT text without rendering'
        ) from None
    except graphviz.CalledProcessError as e:
        err = e.stderr.decode("utf-8", "replace") if isinstance(e.stderr, bytes) else e.stderr
        raise RuntimeError(f"draw_graph: Graphviz's dot failed: {err}") from None


def _format(format: str | None, path: Any) -> str:
    if format is None:
        suffix = Path(path).suffix.lower().lstrip(".") if path is not None else ""
        format = {"gv": "dot"}.get(suffix, suffix) or "svg"
        if format not in FORMATS:
            raise ValueError(
                f"draw_graph: cannot tell the format from the file name {str(path)!r}; expected "
                f"one of .svg, .png, .pdf, .dot, or pass format= ({', '.join(FORMATS)})"
            )
    if format not in FORMATS:
        raise ValueError(f"draw_graph: format must be one of {', '.join(FORMATS)}; got {format!r}")
    return format


def draw_graph(
    output: Tensor | Graph,
    values: bool = True,
    grads: bool = True,
    format: str | None = None,  # noqa: A002  (the name Graphviz and the issue use)
    path: str | os.PathLike | None = None,
    *,
    module: Any = None,
    collapse: bool = True,
    grad_output: Any = None,
    digits: int = 4,
    max_elements: int = SMALL,
    dpi: int = DPI,
) -> str | bytes:
    """Draw the computational graph of ``output`` as the lecture does, left to right.

    Inputs in one column on the left, top to bottom in the order the expression names them
    (called by ``name=``; an unnamed small constant by its value, else by the argument it is),
    one node per gate labelled with its operation (``*``, ``+1``, ``exp``, ``1/x``, ``matmul``),
    the forward value on each edge and the gradient below it in red; a value used more than once
    shows its total gradient, in bold, where it fans out. Tensors show their shape and their
    values (all when small, a matrix row by row, else min/mean/max).

    Args:
        output: a tensor (walked now: before ``backward()``, or after it where backward kept a
            small graph; see ``trace``) or a ``Graph`` from ``trace``.
        values: write the forward values.
        grads: write the gradients (for a scalar output, or when ``grad_output`` is given).
        format: "svg", "png", "pdf" or "dot"; by default the suffix of ``path``, else "svg".
        path: where to write the drawing (atomically); None to only return it.
        module: a ``cr.nn.Module``: name its parameters and, with ``collapse``, draw one box per
            layer (the gates its input flows through with the layer's parameters), with the
            gradient of each parameter only the layer uses.
        collapse: one box per layer of ``module``.
        grad_output: the gradient to start from, for an output with more than one element.
        digits: significant digits of the numbers.
        max_elements: tensors of at most this many values are shown in full (a matrix row by
            row); larger ones as min/mean/max.
        dpi: a PNG's resolution (dots per inch); the default suits slides.

    Returns:
        The drawing: text for "svg" and "dot", bytes for "png" and "pdf".

    Raises:
        GraphvizNotFoundError: rendering needs Graphviz's ``dot``, which is missing.

    Example:
        >>> svg = cr.viz.draw_graph(f, path="neuron.svg")
    """
    if isinstance(output, Graph):
        if module is not None or grad_output is not None:
            raise ValueError(
                "draw_graph: module= and grad_output= apply when tracing; pass them to "
                "cr.viz.trace(output, ...) instead"
            )
        graph = output
    else:
        graph = trace(output, grad_output, module=module)
    if not isinstance(digits, int) or not 1 <= digits <= 17:
        raise ValueError(f"draw_graph: digits must be an integer from 1 to 17; got {digits!r}")
    if not isinstance(max_elements, int) or max_elements < 0:
        raise ValueError(
            f"draw_graph: max_elements must be a whole number >= 0; got {max_elements!r}"
        )
    if not isinstance(dpi, int) or not 10 <= dpi <= 2400:
        raise ValueError(f"draw_graph: dpi must be an integer from 10 to 2400; got {dpi!r}")
    fmt_ = _format(format, path)
    data = render(graph.to_dot(values, grads, collapse, digits, max_elements), fmt_, dpi)
    if path is not None:
        atomic_write_bytes(path, data)
    return data.decode("utf-8") if fmt_ in ("svg", "dot") else data


def repr_svg(t: Tensor, max_gates: int = 300) -> str | None:
    """SVG of the graph that made ``t``, for ``Tensor._repr_svg_`` in Jupyter; None for a leaf,
    a graph already freed, a graph of more than ``max_gates`` gates, or without Graphviz.

    Installed on Tensor as ``_repr_svg_`` when this module is imported (``import chainrule``
    imports ``chainrule.viz``): the engine draws nothing and imports nothing from viz, so the
    layer that draws registers the picture.
    """
    if t.grad_fn is None:
        return None
    try:
        if len(_walk(t.grad_fn)[0]) > max_gates:
            return None
        return trace(t)._repr_svg_()
    except RuntimeError:
        return None


# Jupyter looks up _repr_svg_ on the class: installed here, from above, so that autograd needs
# no import of viz (the layering test checks that it has none)
Tensor._repr_svg_ = repr_svg  # type: ignore[attr-defined]
