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
SMALL = 8  # tensors with at most this many values show them all; larger ones min/mean/max


class GraphvizNotFoundError(RuntimeError):
    """Rendering was asked for, but Graphviz's ``dot`` program is not installed."""


def summary(a: Any, digits: int = 4) -> str:
    """A short text for a value: the number itself, a small tensor's shape and values, or a large
    one's shape with min/mean/max."""
    a = np.asarray(a)
    if a.ndim == 0:
        return fmt(a, digits)
    shape = shape_str(a.shape)
    if a.size <= SMALL:
        return f"{shape} {_nested(a.astype(np.float64).tolist(), digits)}"
    if a.size == 0:
        return f"{shape} empty"
    f = a.astype(np.float64)
    return (
        f"{shape} min {fmt(f.min(), digits)} mean {fmt(f.mean(), digits)} "
        f"max {fmt(f.max(), digits)}"
    )


def shape_str(shape: tuple) -> str:
    """A shape as Python writes it: (4,), (2, 3)."""
    return str(tuple(int(n) for n in shape))


def _nested(x: Any, digits: int) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(_nested(v, digits) for v in x) + "]"
    return fmt(x, digits)


# ----- DOT -----
class _Dot:
    """Writes a Graph as DOT: leaves left, one node per gate (or per layer), output right."""

    def __init__(self, g: Graph, values: bool, grads: bool, collapse: bool, digits: int) -> None:
        self.g, self.values, self.grads, self.digits = g, values, grads, digits
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

    def node_of_gate(self, gi: int) -> str:
        return self.box_ids[self.box[gi]] if gi in self.box else f"g{gi}"

    def node_of_value(self, vi: int) -> str:
        v = self.g.values[vi]
        return self.node_of_gate(v.gate) if v.kind == "gate" else f"v{vi}"

    def label(self, data: Any, grad: Any, name: str | None = None) -> str:
        parts = []
        if self.values:
            text = summary(data, self.digits)
            if name:  # an intermediate with a name of its own: q = 3, as on the slides
                text = f"{name} = {text}"
            parts.append(f'<FONT COLOR="{VALUE_COLOR}">{_esc(text)}</FONT>')
        if self.grads and grad is not None:
            parts.append(f'<FONT COLOR="{GRAD_COLOR}">{_esc(summary(grad, self.digits))}</FONT>')
        return f"label=<{'<BR/>'.join(parts)}>" if parts else ""

    def source(self) -> str:
        g = self.g
        out = [
            "digraph chainrule {",
            '  graph [rankdir=LR, fontname="Helvetica", fontsize=10, nodesep=0.35, ranksep=0.6,'
            " labelloc=b];",
            '  node [fontname="Helvetica", fontsize=12];',
            '  edge [fontname="Helvetica", fontsize=10, arrowsize=0.6];',
        ]
        for vi, v in enumerate(g.values):
            if v.kind == "gate" or vi in self.hidden:
                continue
            text = f"<B>{_esc(v.name)}</B>"
            if np.ndim(v.data) > 0:
                text += f"<BR/>{_esc(_shape(v.data))}"
            color = VALUE_COLOR if v.requires_grad else "#888888"
            out.append(f'  v{vi} [label=<{text}>, shape=plaintext, fontcolor="{color}"];')
        for gate in g.gates:
            if gate.index in self.box:
                continue
            shape = "circle" if len(gate.label) <= 5 else "box, style=rounded"
            out.append(
                f"  g{gate.index} [label=<{_esc(gate.label)}>, shape={shape}, "
                f'tooltip="{_esc(gate.node_name)}"];'
            )
        for mod, mid in self.box_ids.items():
            params = [v for v in g.values if v.module == mod]
            text = f"<B>{_esc(mod or 'model')}</B><BR/>{_esc(g.modules.get(mod, ''))}"
            for p in params:
                text += f"<BR/>{_esc(p.name.rsplit('.', 1)[-1])} {_esc(_shape(p.data))}"
            out.append(
                f'  {mid} [label=<{text}>, shape=box, style="rounded,filled", fillcolor="#eef3fb"];'
            )
        merged: dict[tuple, Any] = {}
        order: list[tuple] = []
        for e in g.edges:
            if e.value in self.hidden:
                continue
            src, dst = self.node_of_value(e.value), self.node_of_gate(e.gate)
            if src == dst:  # inside a collapsed layer
                continue
            # two uses inside one box are one edge into it; two uses by one gate are two edges
            key = (e.value, dst) if e.gate in self.box else (e.value, dst, e.position)
            if key not in merged:
                order.append(key)
                merged[key] = e.grad
            elif e.grad is not None:
                cur = merged[key]
                merged[key] = e.grad if cur is None else cur + e.grad
        for key in order:
            vi, dst = key[0], key[1]
            v = g.values[vi]
            label = self.label(
                v.data, merged[key], v.name if v.kind == "gate" and v.named else None
            )
            out.append(f"  {self.node_of_value(vi)} -> {dst} [{label}];")
        o = g.values[g.output]
        if o.kind == "gate":
            out.append(f"  out [label=<<B>{_esc(o.name)}</B>>, shape=plaintext];")
            out.append(f"  {self.node_of_value(g.output)} -> out [{self.label(o.data, g.seed)}];")
        legend = []
        if self.grads:
            legend.append(
                f'<FONT COLOR="{VALUE_COLOR}">forward values</FONT> above, '
                f'<FONT COLOR="{GRAD_COLOR}">gradients</FONT> below'
            )
        if g.note:
            legend.append(_esc(g.note))
        if legend:
            out.append(f"  label=<{'<BR/>'.join(legend)}>;")
        out.append("}")
        return "\n".join(out) + "\n"


def _shape(a: Any) -> str:
    return shape_str(np.shape(a))


def _esc(s: str) -> str:
    return html.escape(str(s), quote=True)


# ----- rendering -----
def render(source: str, format: str) -> bytes:
    """Render DOT text with Graphviz's ``dot``; ``"dot"`` returns the text itself as bytes.

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
) -> str | bytes:
    """Draw the computational graph of ``output`` as the lecture does, left to right.

    Leaves on the left (named by ``name=``), one node per gate labelled with its operation
    (``*``, ``+1``, ``exp``, ``1/x``, ``matmul``), the forward value on each edge and the gradient
    below it in red. Tensors show their shape and their values (all when small, else min/mean/max).

    Args:
        output: a tensor (walked now; call before ``backward()``, which frees the graph) or a
            ``Graph`` from ``trace``.
        values: write the forward values.
        grads: write the gradients (for a scalar output, or when ``grad_output`` is given).
        format: "svg", "png", "pdf" or "dot"; by default the suffix of ``path``, else "svg".
        path: where to write the drawing (atomically); None to only return it.
        module: a ``cr.nn.Module``: name its parameters and, with ``collapse``, draw one box per
            layer (the gates that take the layer's parameters).
        collapse: one box per layer of ``module``.
        grad_output: the gradient to start from, for an output with more than one element.
        digits: significant digits of the numbers.

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
    fmt_ = _format(format, path)
    data = render(graph.to_dot(values, grads, collapse, digits), fmt_)
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
