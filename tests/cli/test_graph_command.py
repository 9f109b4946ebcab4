"""`chainrule graph`: an expression drawn, its gradients printed and its backward pass explained."""

import html
import json
import re
import shutil
import tracemalloc

import numpy as np
import pytest

from chainrule import cli
from chainrule.cli import graph as graph_command

NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
VALUES = ["w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]
GRADS = {"w0": -0.1966, "x0": 0.3932, "w1": -0.3932, "x1": -0.5898, "w2": 0.1966}

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's `dot` is not installed (apt-get install graphviz); .ci/run installs it",
)


def check_gradients(out):
    assert re.search(r"^f = 0\.7311$", out, re.M)
    for name, value in GRADS.items():
        m = re.search(rf"^df/d{name} = (\S+)$", out, re.M)
        assert m and float(m.group(1)) == pytest.approx(value, abs=1e-4), name


@needs_dot
def test_the_lectures_neuron_drawn_and_explained(tmp_path, capsys):
    path = tmp_path / "neuron.svg"
    status = cli.main(["graph", NEURON, "--set", *VALUES, "--out", str(path), "--explain"])
    out = capsys.readouterr().out
    assert status == 0
    check_gradients(out)
    assert f"wrote {path}" in out
    svg = html.unescape(path.read_text())
    for text in ("0.7311", "-0.5344", "-0.1966", "0.3932", "-0.5898", "1/x", "+1", "*(-1)"):
        assert f">{text}</text>" in svg
    assert "upstream 1 x local -1/x^2 = -0.5344 -> downstream -0.5344" in out
    steps = re.findall(r"^\s+(\d+)\. (\S+) \((\w+)\)", out, re.M)
    assert [s[1] for s in steps] == ["1/x", "+1", "exp", "*(-1)", "+#2", "+#1", "*#1", "*#2"]


@needs_dot
def test_png_out(tmp_path, capsys):
    path = tmp_path / "relu.png"
    args = ["graph", "sum(relu(x) * [4, -1, 5, 9])", "--set", "x=[1,-2,3,-1]", "--out", str(path)]
    assert cli.main(args) == 0
    assert "df/dx = (4,) [4, 0, 5, 0]" in capsys.readouterr().out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dot_out_and_markdown_need_no_graphviz(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    path = tmp_path / "f.dot"
    args = ["graph", "(x+y)*z", "--set", "x=-2", "y=5", "--set", "z=-4", "--out", str(path)]
    assert cli.main([*args, "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "f = -12" in out and "df/dx = -4" in out and "df/dy = -4" in out and "df/dz = 3" in out
    assert "| 1 | `*` | + = 3 | 1 | z = -4 | -4 | mul gate swaps |" in out
    assert "digraph" in path.read_text()


def test_a_missing_dot_exits_2_with_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    status = cli.main(["graph", NEURON, "--set", *VALUES, "--out", str(tmp_path / "n.svg")])
    assert status == 2
    assert "apt-get install graphviz" in capsys.readouterr().err
    assert not (tmp_path / "n.svg").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["x.__class__", "--set", "x=1"], "attribute access"),
        (["__import__('os')"], "starts with '_'"),
        (["import os"], "Python keyword"),
        (["system(x)", "--set", "x=1"], "unknown function 'system'"),
        (["x + y", "--set", "x=1"], "'y' at position 4 has no value"),
        (["x", "--set", "x"], "--set expects NAME=VALUE"),
        (["x", "--set", "x=y"], "must be a constant"),
        (["x", "--set", "x=1", "exp=2"], "is a function"),
        (["x*2", "--set", "x=[1,2]", "--explain"], "grad_output"),
        (["2*3", "--explain"], "no name given with --set"),
        (["x", "--set", "x=1", "--out", "f.bmp"], "cannot tell the format"),
        (["matmul(x,2)", "--set", "x=[1,2]"], "operand is the number 2"),
        (["matmul(2,x)", "--set", "x=[1,2]"], "operand is the number 2"),
    ],
)
def test_bad_input_exits_2_with_the_parsers_message(args, message, capsys):
    assert cli.main(["graph", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule graph: error:") and message in err


def nested(n: int, axis: int) -> str:
    """A --set value of n numbers along ``axis`` of a 3-d tensor (the others of size 1)."""
    shape = [1, 1, 1]
    shape[axis] = n
    return json.dumps((np.arange(n) % 7).reshape(shape).tolist()).replace(" ", "")


@pytest.mark.parametrize(
    "expression, values, size",
    [
        (
            "sum(max(max(a,b),c))",
            [f"a={nested(300, 2)}", f"b={nested(300, 1)}", f"c={nested(300, 0)}"],
            300**3,
        ),
        (
            "matmul(a,b)",
            ["a=[" + ",".join(["[1]"] * 2000) + "]", "b=[[" + ",".join(["1"] * 2000) + "]]"],
            2000**2,
        ),
    ],
    ids=["27M values by broadcasting", "2000x1 by 1x2000"],
)
def test_functions_cannot_build_tensors_past_the_limit(expression, values, size, capsys):
    tracemalloc.start()
    try:
        status = cli.main(["graph", expression, "--set", *values])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("chainrule graph: error:")
    assert f"would make a tensor of {size} values" in err and "Traceback" not in err
    assert peak < 50_000_000


def test_the_error_points_at_the_fault(capsys):
    assert cli.main(["graph", "1 + x.y"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[1] == "  1 + x.y" and err[2] == "       ^"


def test_constants_and_tensors_without_a_gradient(capsys):
    assert cli.main(["graph", "2*3"]) == 0
    assert capsys.readouterr().out == "f = 6\n"
    assert cli.main(["graph", "x*2", "--set", "x=[1,2]", "y=1"]) == 0
    captured = capsys.readouterr()
    assert "f = (2,) [2, 4]" in captured.out and "grad_output" in captured.out
    assert "y set but not used" in captured.err


def test_help_shows_the_example(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["graph", "--help"])
    assert e.value.code == 0
    assert "--set w0=2 x0=-1" in capsys.readouterr().out


def test_a_program_names_intermediates_and_an_expression_may_start_with_a_minus(capsys):
    args = ["graph", "q = x + y; f = q * z", "--set", "x=-2", "y=5", "z=-4", "--explain"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"^q = 3$", out, re.M) and re.search(r"^f = -12$", out, re.M)
    assert "2. q = x + y (AddBackward)" in out and "to q = 3: upstream 1 x local z = -4" in out
    assert cli.main(["graph", "-log(p)", "--set", "p=0.13", "--explain"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^f = 2\.04$", out, re.M) and re.search(r"^df/dp = -7\.692$", out, re.M)
    assert cli.main(["graph", "--explain", "-x*y", "--set", "x=2", "y=3"]) == 0
    assert "df/dx = -3" in capsys.readouterr().out
    # only the expression is protected: an option's value is the option's
    assert graph_command.prepare_argv(["graph", "--digits", "-3", "-x", "--set", "x=1"]) == [
        "graph", " -x", "--digits", "-3", "--set", "x=1"
    ]  # fmt: skip
    assert cli.main(["graph", "--set", "p=0.13", "-log(p)"]) == 0  # after --set's values too
    assert re.search(r"^df/dp = -7\.692$", capsys.readouterr().out, re.M)
    assert cli.main(["graph", "--set", "x=2", "y=3", "x*y"]) == 2  # --set took it for a value
    err = capsys.readouterr().err
    assert "expected an expression" in err and "'x*y' came after --set" in err
    assert graph_command.prepare_argv(["train", "-x"]) == ["train", "-x"]
    # the usual --: the word after it is the expression, wherever the options are
    for args in (["--", "-log(p)", "--set", "p=0.13"], ["--set", "p=0.13", "--", "-log(p)"]):
        assert cli.main(["graph", *args]) == 0
        assert re.search(r"^df/dp = -7\.692$", capsys.readouterr().out, re.M)


def test_a_program_s_mistakes_are_pointed_at(capsys):
    assert cli.main(["graph", "x + y; q = x", "--set", "x=1", "y=2"]) == 2
    err = capsys.readouterr().err
    assert "computes a value nobody uses" in err and "\n  ^" in err
    assert cli.main(["graph", "q = x; q * 2", "--set", "q=1", "x=2"]) == 2
    assert "both given a value and assigned" in capsys.readouterr().err


def test_matrices_in_full_up_to_a_limit_and_the_png_resolution(tmp_path, capsys):
    args = ["graph", "sum((x @ w) * g)", "--set", "x=[[2,1,-3],[-3,4,2]]"]
    args += ["w=[[3,2,1,-1],[2,1,3,2],[3,2,1,-2]]", "g=[[2,3,-3,9],[-8,1,4,6]]"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "df/dw = (3, 4) [[28, 3, -18, 0], [-30, 7, 13, 33], [-22, -7, 17, -15]]" in out
    assert cli.main([*args, "--max-elements", "4"]) == 0
    assert "df/dw = (3, 4) min -30 mean 0.75 max 33" in capsys.readouterr().out
    assert cli.main([*args, "--max-elements", "-1"]) == 2
    assert "--max-elements" in capsys.readouterr().err
    if shutil.which("dot") is None:
        return
    small, large = tmp_path / "small.png", tmp_path / "large.png"
    assert cli.main([*args, "--out", str(small), "--dpi", "96"]) == 0
    assert cli.main([*args, "--out", str(large)]) == 0  # the default: 192 dpi
    width = [int.from_bytes(p.read_bytes()[16:20], "big") for p in (small, large)]
    assert width[1] >= 2 * width[0] - 2
