"""Every script in examples/ runs, prints the numbers it demonstrates and writes valid figures.

Each example runs in a subprocess, as a reader would run it (``python examples/NN_name.py --out
DIR``); the test checks the exit status, the files it wrote (valid PNG/SVG/DOT of a reasonable
size) and the key numbers in its output: the lecture's worked examples, and the effect each
example exists to show (the collapse of linear layers, the error shrinking with more units, ...).
Graph drawings need Graphviz's ``dot``; without it the examples write only the DOT text.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
HAS_DOT = shutil.which("dot") is not None
#: a hang guard only (each example takes seconds): a busy machine must not fail a test by the
#: clock; how fast the examples run is not a test's business
HANG_SECONDS = 600


def numbers(pattern: str, text: str) -> list[float]:
    """Every match of ``pattern`` (one group: a number, maybe with a %) as floats."""
    found = re.findall(pattern, text)
    assert found, f"expected output matching {pattern!r}; got:\n{text}"
    return [float(v.rstrip("%")) for v in found]


def has(text: str, *lines: str) -> None:
    for line in lines:
        assert line in text, f"expected {line!r} in the output; got:\n{text}"


# ----- what each example must print -----
def check_scalar_graphs(out: str) -> None:
    has(out, "forward: q = x + y = 3, f = q z = -12", "df/dx = -4", "df/dy = -4", "df/dz = 3")
    has(out, "f = 0.7311", "df/dw0 = -0.1966", "df/dx0 = 0.3932", "df/dw1 = -0.3932")
    has(out, "df/dx1 = -0.5898", "df/dw2 = 0.1966", "(1 - s) s = 0.1966")
    has(out, "upstream -0.5344 x local e^x = 0.3679 -> downstream -0.1966")  # explain's steps


def check_gate_patterns(out: str) -> None:
    has(out, "grad x = 2, grad y = 2", "grad x = 15, grad y = 10", "grad x = 6")
    has(out, "grad x = 0, grad y = 9", "4 + 2 = 6")


def check_tensor_backward(out: str) -> None:
    has(out, "dL/dx = [4.0, 0.0, 5.0, 0.0]", "dL/dx = [[0, 16, -9], [-24, 9, -30]]")
    has(out, "dL/dw = [[28, 3, -18, 0], [-30, 7, 13, 33], [-22, -7, 17, -15]]")
    has(out, "dL/dy w^T equals dL/dx: True | x^T dL/dy equals dL/dw: True")
    has(out, "J_x^T dL/dy equals dL/dx: True", "= 256 GiB")


def check_softmax_templates(out: str) -> None:
    has(out, "probabilities = [0.13, 0.869, 0.001]", "-log 0.130 = 2.0404")
    has(out, "sum of max(0, s_j - s_cat + 1) = 2.9", "R(w1) = 1, R(w2) = 0.25")
    match = re.search(
        r"H\(P, Q\) = ([\d.]+) = H\(P\) \+ KL\(P \|\| Q\) = ([\d.]+) \+ ([\d.]+) = ([\d.]+)", out
    )
    assert match, out
    h_pq, h_p, kl, total = (float(v) for v in match.groups())
    assert h_pq == pytest.approx(h_p + kl, abs=2e-4)
    assert total == pytest.approx(h_pq, abs=2e-4)
    (digits,) = numbers(r"64 -> 10: test accuracy ([\d.]+)%", out)
    assert digits > 90
    (blobs,) = numbers(r"on Gaussian blobs: test accuracy ([\d.]+)%", out)
    assert blobs > 85


def check_nonlinearity(out: str) -> None:
    (linear,) = numbers(r"linear: W x \+ b\s+train accuracy [\d.]+%, test accuracy ([\d.]+)%", out)
    (mlp,) = numbers(
        r"MLP: W2 max\(0, W1 x\)\s+train accuracy [\d.]+%, test accuracy ([\d.]+)%", out
    )
    assert linear < 70 < 90 < mlp


def check_size_vs_regularization(out: str) -> None:
    rows = re.findall(r"hidden\s+(\d+), lambda ([\d.e-]+)\s*: train ([\d.]+)%, test ([\d.]+)%", out)
    train = {(int(h), float(lam)): float(tr) for h, lam, tr, _ in rows}
    assert len(train) == 9, out  # sizes 3, 6, 20; lambdas 0.0003, 0.003, 0.03; the lecture's 3
    assert train[20, 0] >= train[6, 0] > train[3, 0]  # a bigger network fits more
    assert train[20, 0] == 100  # ... every training point, outliers included
    assert train[20, 0.0003] > train[20, 0.003] > train[20, 0.03]  # a larger lambda smooths
    chance = 100 / 2
    for lam in (0.03, 0.001, 0.01, 0.1):
        assert train[20, lam] > chance + 25, lam  # ... without collapsing to chance
    assert train[20, 0.001] > train[20, 0.01] >= train[20, 0.1]  # the lecture's lambdas


def check_activation_functions(out: str) -> None:
    has(out, "sigmoid    f'(x) on [-5, 5]: max 0.2500", "tanh       f'(x) on [-5, 5]: max 1.0000")
    has(out, "leaky_relu f'(x) on [-5, 5]: max 1.0000, at x = -5: 0.1000")
    accs = dict(
        re.findall(r"^\s+(\w+)\s+final training loss [\d.]+, test accuracy ([\d.]+)%", out, re.M)
    )
    assert set(accs) == {"sigmoid", "tanh", "relu", "leaky_relu", "elu", "maxout"}, out
    assert float(accs["relu"]) > 90


def check_linear_collapse(out: str) -> None:
    (err,) = numbers(r"max \|f\(x\) - \(W3 x \+ b3\)\| over the data: ([\d.e+-]+)", out)
    assert err < 1e-5
    has(out, "W3 = W2 W1 (3, 2)", "same predicted class at 100.00% of 10,000 random points")
    (acc,) = numbers(r"test accuracy of the 2-layer linear network: ([\d.]+)%", out)
    assert acc < 70


def check_universal_approximation(out: str) -> None:
    rows = re.findall(r"hidden units h =\s+(\d+): mean squared error ([\d.]+)", out)
    units = [int(h) for h, _ in rows]
    errors = [float(e) for _, e in rows]
    assert units == [1, 2, 4, 8, 16, 32], out
    assert all(a > b for a, b in zip(errors, errors[1:])), errors  # shrinks with every step
    assert errors[-1] < errors[0] / 100


def check_initialization(out: str) -> None:
    has(out, "max |unit i - unit 0| over the 10 hidden units: W1 0.0e+00, W2 0.0e+00")
    (zero,) = numbers(r"zero init ([\d.]+)%", out)
    (rand,) = numbers(r"random init ([\d.]+)%", out)
    assert zero + 20 < rand
    rows = re.findall(
        r"scale ([\d.]+)\s*: saturated units\s+([\d.]+)%, mean \|dL/dW1\| ([\d.e+-]+)", out
    )
    sat = {float(s): float(f) for s, f, _ in rows}
    grad = {float(s): float(g) for s, _, g in rows}
    assert sat[0.01] < 5 and sat[10.0] > 80, sat
    assert grad[10.0] < grad[0.01] / 10, grad  # saturated units pass little gradient


def check_flat_vs_engine(out: str) -> None:
    has(out, "d/dw0    -0.1966   -0.1966", "d/dx0     0.3932    0.3932")
    (neuron,) = numbers(r"neuron: max \|flat - engine\| = ([\d.e+-]+)", out)
    assert neuron < 1e-12
    match = re.search(r"over \d+ losses ([\d.e+-]+), over the final weights ([\d.e+-]+)", out)
    assert match, out
    loss_err, weight_err = (float(v) for v in match.groups())
    assert loss_err < 1e-10 and weight_err < 1e-10


def check_custom_function(out: str) -> None:
    has(out, "mul gate, upstream 5: grad x = 15, grad y = 10")
    has(out, "(x + y) z with Multiply: df/dx = -4, df/dy = -4, df/dz = 3")
    has(out, "gradcheck(Multiply.apply): True", "gradgradcheck(Multiply.apply): True")


def check_gradient_flow(out: str) -> None:
    ratio = dict(re.findall(r"^(\w+)\s+mean \|grad\|.*last / first = ([\d.]+)", out, re.M))
    assert set(ratio) == {"sigmoid", "relu"}, out
    assert float(ratio["sigmoid"]) > 50  # vanishing: the first layer gets far less
    assert float(ratio["relu"]) < 10
    assert float(ratio["sigmoid"]) > 10 * float(ratio["relu"])


def check_nonconvexity(out: str) -> None:
    finals = numbers(r"seed \d: final training loss ([\d.]+)", out)
    assert len(finals) == 5 and max(finals) > 1.2 * min(finals)  # different local minima
    for what in ("between the two best seeds", "between A and A with hidden units 1 and 2"):
        m = re.search(
            rf"{what}.*?L(?:\(A\))? = ([\d.]+).*?L\(midpoint\) = ([\d.]+).*?"
            r"barrier above the chord ([\d.]+)",
            out,
        )
        assert m, (what, out)
        end, midpoint, rise = (float(v) for v in m.groups())
        assert midpoint > 10 * end and rise > 1  # far above the chord: no convex function does
    has(out, "swapped: L = ")


GRAPH = "graph"  # a stem drawn with Graphviz: .dot always, .svg and .png when dot is installed

# script -> (the files it writes, the check of its output)
CASES: dict[str, tuple[list[str], Callable[[str], None]]] = {
    "01_scalar_graphs": ([f"add_mul.{GRAPH}", f"neuron.{GRAPH}"], check_scalar_graphs),
    "02_gate_patterns": (
        [f"gate_{g}.{GRAPH}" for g in ("add", "mul", "copy", "max")],
        check_gate_patterns,
    ),
    "03_tensor_backward": (
        [f"relu.{GRAPH}", f"matmul.{GRAPH}", "jacobians.png"],
        check_tensor_backward,
    ),
    "04_softmax_templates": (["templates.png", "linear_regions.png"], check_softmax_templates),
    "05_nonlinearity": (["nonlinearity.png", "architectures.png"], check_nonlinearity),
    "06_size_vs_regularization": (["size_vs_reg.png"], check_size_vs_regularization),
    "07_activation_functions": (["activations.png"], check_activation_functions),
    "08_linear_collapse": (["linear_collapse.png"], check_linear_collapse),
    "09_universal_approximation": (
        ["universal_approximation.png"],
        check_universal_approximation,
    ),
    "10_initialization": (["init_scale.png"], check_initialization),
    "11_flat_vs_engine": (["flat_vs_engine.png"], check_flat_vs_engine),
    "12_custom_function": ([f"multiply.{GRAPH}"], check_custom_function),
    "13_gradient_flow": (
        ["gradient_flow.png"],
        check_gradient_flow,
    ),
    "14_nonconvexity": (["nonconvexity.png"], check_nonconvexity),
}


def expected_files(names: list[str]) -> list[str]:
    files = []
    for name in names:
        if name.endswith(f".{GRAPH}"):
            stem = name[: -len(GRAPH) - 1]
            files += [f"{stem}.dot"] + ([f"{stem}.svg", f"{stem}.png"] if HAS_DOT else [])
        else:
            files.append(name)
    return files


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR", f"{path.name}: no IHDR chunk"
    width, height = struct.unpack(">II", data[16:24])
    assert 50 <= width <= 4000 and 50 <= height <= 4000, (path.name, width, height)
    assert 2_000 < len(data) < 1_000_000, (path.name, len(data))


def check_svg(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg"), (path.name, root.tag)
    assert 500 < path.stat().st_size < 1_000_000, (path.name, path.stat().st_size)
    assert root.findall(".//{http://www.w3.org/2000/svg}text"), f"{path.name} has no text"


def check_dot(path: Path) -> None:
    text = path.read_text()
    assert text.lstrip().startswith("digraph") and "->" in text, path.name


CHECK_FILE = {".png": check_png, ".svg": check_svg, ".dot": check_dot}


def run_example(name: str, out_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0")
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--out", str(out_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
    )


def test_every_example_is_tested_and_says_how_to_run_it():
    scripts = sorted(p.stem for p in EXAMPLES.glob("[0-9][0-9]_*.py"))
    assert scripts == sorted(CASES), "each example needs a row in CASES, and each row a script"
    for name in scripts:
        doc = (EXAMPLES / f"{name}.py").read_text()
        assert f"python examples/{name}.py [--out DIR]" in doc, (
            f"{name}: no command in its docstring"
        )


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs_prints_its_numbers_and_writes_its_figures(name, tmp_path):
    names, check_output = CASES[name]
    proc = run_example(name, tmp_path)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    check_output(proc.stdout)
    written = sorted(p.name for p in tmp_path.iterdir())
    for file in expected_files(names):
        assert file in written, f"{name} did not write {file}; it wrote {written}"
        CHECK_FILE[Path(file).suffix](tmp_path / file)
        assert f"wrote {tmp_path / file}" in proc.stdout  # it says where each file went


def test_an_example_writes_to_its_default_folder_without_out(tmp_path):
    # --help documents --out and its default; nothing is written by asking
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "02_gate_patterns.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--out" in proc.stdout and "examples/output" in proc.stdout.replace(os.sep, "/")
    assert list(tmp_path.iterdir()) == []
