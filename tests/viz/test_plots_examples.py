"""Figures that an example draws itself (not with a cr.viz function), read back as matplotlib
objects: the example runs in this process with save_figure capturing what it writes."""

import runpy
import sys
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import chainrule as cr  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name, out, monkeypatch):
    """Run examples/NAME.py --out OUT here; return {file name: Figure} of what it saved."""
    figures = {}
    real = cr.viz.save_figure

    def keep(fig, path, *args, **kwargs):
        figures[Path(path).name] = fig
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(cr.viz, "save_figure", keep)
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--out", str(out)])
    monkeypatch.syspath_prepend(str(EXAMPLES))
    runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    return figures


def test_nonconvexity_figure_seeds_line_and_plane(tmp_path, monkeypatch, capsys):
    fig = run_example("14_nonconvexity", tmp_path, monkeypatch)["nonconvexity.png"]
    assert (tmp_path / "nonconvexity.png").is_file()
    curves, line, plane, bar = fig.axes
    assert bar.get_label() == "<colorbar>" and bar.get_ylabel() == "log10 training loss"
    # one network from several seeds: one training curve each, its final loss in the legend
    labels = [t.get_text() for t in curves.get_legend().get_texts()]
    assert [s.split(":")[0] for s in labels] == [f"seed {k}" for k in range(5)]
    assert curves.get_yscale() == "log" and curves.get_ylabel() == "training loss"
    finals = [float(s.split(": ")[1]) for s in labels]
    assert max(finals) > 1.2 * min(finals)  # different minima
    # the loss along lines between solutions, each above its chord in the middle
    assert line.get_xlabel().startswith("a: theta = (1 - a) theta_A + a theta_B")
    solid = [ln for ln in line.lines if ln.get_linestyle() == "-" and len(ln.get_xdata()) > 2]
    chords = [ln for ln in line.lines if ln.get_linestyle() == "--" and len(ln.get_xdata()) == 2]
    assert len(solid) == 2 and len(chords) == 2
    for losses, chord in zip(solid, chords):
        a, y = losses.get_xdata(), losses.get_ydata()
        mid = abs(a - 0.5).argmin()
        assert y[mid] > chord.get_ydata().mean() + 1  # a barrier: no convex loss does this
    # the plane through three solutions, each marked
    assert [t.get_text() for t in plane.texts] == ["A", "B", "C"]
    assert plane.get_xlabel() == "along B - A"
    assert "three solutions" in plane.get_title()
