"""What every example shares: the ``--out`` folder and writing figures and graphs.

Each example is run as ``python examples/NN_name.py [--out DIR]``; it prints the numbers it
demonstrates and writes its figures to DIR (default ``examples/output``). Figures are drawn with
matplotlib's ``Figure`` directly (never pyplot), so no window opens and no GUI is needed.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F

DEFAULT_OUT = Path(__file__).resolve().parent / "output"


def output_dir(doc: str | None) -> Path:
    """Parse ``--out DIR`` (the script's docstring is its ``--help``) and create the folder."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"folder for the figures (default {DEFAULT_OUT})",
    )
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    return out


def save(fig: Any, path: Path) -> Path:
    """Write a matplotlib figure (PNG, by the suffix) and say where."""
    cr.viz.save_figure(fig, path, dpi=100)
    print(f"wrote {path}")
    return path


def can_render() -> bool:
    """True when Graphviz can draw: its ``dot`` program and the ``graphviz`` package."""
    return shutil.which("dot") is not None and importlib.util.find_spec("graphviz") is not None


def save_graph(output: Any, out: Path, stem: str, **kwargs: Any) -> list[Path]:
    """Draw a computational graph: ``stem.dot`` always, ``stem.svg`` and ``stem.png`` with Graphviz.

    ``output`` is a tensor (drawn before its ``backward()``) or a ``cr.viz.trace`` snapshot;
    ``kwargs`` go to ``cr.viz.draw_graph`` (e.g. ``grad_output=``).
    """
    graph = output if isinstance(output, cr.viz.Graph) else cr.viz.trace(output, **kwargs)
    formats = ["dot", "svg", "png"] if can_render() else ["dot"]
    paths = []
    for fmt in formats:
        path = out / f"{stem}.{fmt}"
        cr.viz.draw_graph(graph, path=path)
        print(f"wrote {path}")
        paths.append(path)
    if len(formats) == 1:
        print("  (Graphviz's dot is not installed: only the DOT text was written)")
    return paths


def fit(
    model: cr.nn.Module, x: np.ndarray, y: np.ndarray, steps: int, lr: float, lam: float = 0.0
) -> cr.nn.Module:
    """Full-batch Adam on the cross-entropy loss plus ``lam`` times the L2 penalty R(W)."""
    opt = cr.optim.Adam(model.parameters(), lr=lr)
    xt, yt = cr.tensor(x), cr.tensor(y)
    for _ in range(steps):
        loss = F.cross_entropy(model(xt), yt)
        if lam:
            loss = loss + lam * cr.nn.l2_penalty(model)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def accuracy(model: cr.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """The fraction of ``x`` that ``model`` classifies as ``y``."""
    with cr.no_grad():
        return float((model(cr.tensor(x)).numpy().argmax(1) == y).mean())
