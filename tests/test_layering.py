"""Each layer of chainrule imports only from the layers below it (ARCHITECTURE.md's picture).

Every ``import`` of every module is read with ``ast`` (those inside functions and under
``TYPE_CHECKING`` too: a lazy import is still a dependency) and resolved to the layer it reaches.
A layer may import itself and the layers listed before it in ``LAYERS``, nothing above: the
engine draws nothing and knows no training loop, the figures know no training loop, the ops know
no networks. A new top-level module or package must be placed in ``LAYERS`` before it can pass.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chainrule"

#: Bottom to top: the order of ARCHITECTURE.md's picture. A layer is a top-level module or
#: package of chainrule; viz sits below train, which draws a run's figures with viz.plots (a
#: drawing knows no training loop).
LAYERS = [
    "backend",  # the array module a tensor lives on
    "_arith",  # in-place arithmetic written once for every array module (optim, _fused)
    "_fused",  # fused updates (Adam, the cross-entropy backward): generic code, CUDA kernels
    "_backends",  # CuPy and array-api-strict behind backend, imported when a device asks
    "dtypes",
    "_memory",  # glibc malloc's thresholds (ctypes): imports no other layer
    "threads",  # BLAS threads (threadpoolctl): chainrule.threads imports no other layer
    "autograd",  # Tensor, Function, backward
    "ops",  # one Function per op
    "random",  # chainrule's generator and the random tensors
    "creation",  # tensor(), zeros(), arange(), ...
    "serialization",  # save/load of state dicts
    "metrics",  # accuracy and the confusion matrix, on labels
    "nn",
    "optim",
    "compiler",  # cr.compile: records a step's ops, backward and optimizer calls; replays them
    "data",
    "viz",
    "train",
    "distributed",  # data-parallel training plugs into train's pieces; the CLI launches it
    "playground",  # trains with nn, optim, data and viz; `chainrule playground` serves it
    "cli",
]

#: Imports that go up, each with its reason. Tensor's operators and methods delegate to the ops
#: (``x + y`` is ``ops.add``): the one edge between the engine's two halves that points upward.
#: The backend loads CuPy's and array-api-strict's backends (built on its own classes) only
#: when a device of theirs is first asked for, so that importing chainrule never imports them.
#: NumPy's namespace, made in the backend, offers ``_fused``'s generic updates, which compute
#: through the namespaces (and ``_arith``) only when called.
ALLOWED_UP = {("autograd", "ops"), ("backend", "_backends"), ("backend", "_fused")}

#: ``python -m chainrule`` is the CLI's entry point. The public face (chainrule/__init__.py,
#: ``import chainrule as cr``) sits just above the highest layer it imports: the CLI may use it,
#: the layers it is made of may not.
FACES = {"chainrule", "chainrule.__main__"}
FACE = "chainrule (the public face)"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path, name: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) of every chainrule import in the file of module ``name``;
    ``from X import name`` gives ``X.name`` (a submodule or a name of X's: layer_of tells)."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
    return [(line, m) for line, m in found if m == "chainrule" or m.startswith("chainrule.")]


def layer_of(module: str) -> str:
    """The layer a chainrule module belongs to (FACE for chainrule itself and its names)."""
    parts = module.split(".")
    if len(parts) > 1 and ((PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file()):
        return parts[1]
    return FACE  # chainrule, or a name its __init__.py defines (e.g. __version__)


def ranks() -> dict[str, float]:
    rank: dict[str, float] = {layer: i for i, layer in enumerate(LAYERS)}
    face_imports = [layer_of(m) for _, m in imported(PACKAGE / "__init__.py")]
    rank[FACE] = max(rank[layer] for layer in face_imports if layer in rank) + 0.5
    return rank


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_layer_is_in_the_table():
    tops = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
    }
    unplaced = sorted(tops - set(LAYERS) - {"__init__", "__main__"})
    assert not unplaced, (
        f"chainrule/{unplaced[0]} is in no layer: add it to LAYERS in tests/test_layering.py, "
        "where ARCHITECTURE.md's picture puts it"
    )


def test_each_layer_imports_only_from_the_layers_below_it():
    rank = ranks()
    assert rank[FACE] < rank["cli"]
    bad = []
    for path in modules():
        name = module_name(path)
        if name in FACES:
            continue
        own = layer_of(name)
        for line, target in imported(path):
            to = layer_of(target)
            if to != own and rank[to] > rank[own] and (own, to) not in ALLOWED_UP:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {own} imports {target} ({to})")
    assert not bad, "imports that go up a layer:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("chainrule/autograd", ["viz", "train", "cli", "nn", "optim", "data"]),
        ("chainrule/ops", ["nn", "optim", "data", "train", "viz", "cli"]),
        ("chainrule/nn", ["optim", "data", "train", "viz", "cli"]),
        ("chainrule/metrics.py", ["nn", "train", "viz", "cli"]),
        ("chainrule/viz", ["train", "cli"]),
        ("chainrule/train", ["cli"]),
        ("chainrule/playground", ["train", "cli"]),
    ],
)
def test_the_issues_named_rules(source, forbidden):
    # the rules of issue 12, spelled out: the engine draws nothing and knows no training loop,
    # the figures (viz/plots included) know no training loop, the ops know no networks
    target = ROOT / source
    paths = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    assert paths
    for path in paths:
        for line, module in imported(path):
            assert layer_of(module) not in forbidden, f"{path.relative_to(ROOT)}:{line}: {module}"


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    # the check must fail on what it is for: an import inside a function, two levels up
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from ..viz.graph import repr_svg\n    from .. import train\n",
        encoding="utf-8",
    )
    found = imported(probe, "chainrule.autograd.probe")
    assert found == [(2, "chainrule.viz.graph.repr_svg"), (3, "chainrule.train")]
    assert [layer_of(m) for _, m in found] == ["viz", "train"]


def test_the_engine_draws_nothing_but_jupyter_still_shows_the_graph():
    import chainrule as cr
    from chainrule.autograd.tensor import Tensor
    from chainrule.viz import graph

    assert Tensor._repr_svg_ is graph.repr_svg  # installed from above, by chainrule.viz
    assert cr.tensor(1.0)._repr_svg_() is None  # a leaf: Jupyter shows the text repr
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    svg = (x * 2).sum()._repr_svg_()
    assert svg is None or "<svg" in svg  # None only without Graphviz


#: The only modules of the engine, the ops, nn and optim that may import NumPy, each with its
#: reason; everything else there computes through ``backend.namespace`` (issue 12, item 3). The
#: backend (backend.py, _backends.py) owns NumPy and sits outside these layers.
NUMPY_ALLOWED = {
    # NumPy's dispatch protocol: np.exp(tensor) lands here; the keys are NumPy's functions,
    # the values chainrule ops
    "chainrule.autograd.dispatch": "the table of NumPy functions that Tensor intercepts",
    # a testing tool: Jacobians compared on the CPU in float64, as torch.autograd.gradcheck
    "chainrule.autograd.gradcheck": "finite differences checked on the CPU",
}
COMPUTING_LAYERS = ("autograd", "ops", "nn", "optim")


def numpy_imports(path: Path) -> list[int]:
    """The lines of ``path`` that import NumPy (or a submodule of it), lazy imports included."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        if any(n == "numpy" or n.startswith("numpy.") for n in names):
            lines.append(node.lineno)
    return lines


def test_the_engine_ops_nn_and_optim_import_numpy_only_where_listed():
    found = {}
    for layer in COMPUTING_LAYERS:
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            lines = numpy_imports(path)
            if lines:
                found[module_name(path)] = f"{path.relative_to(ROOT)}:{lines[0]}"
    unlisted = sorted(set(found) - set(NUMPY_ALLOWED))
    assert not unlisted, (
        "these modules import NumPy; compute through backend.namespace(array) instead (or list "
        "the module, with its reason, in NUMPY_ALLOWED): " + ", ".join(found[m] for m in unlisted)
    )
    stale = sorted(set(NUMPY_ALLOWED) - set(found))
    assert not stale, f"NUMPY_ALLOWED lists modules that no longer import NumPy: {stale}"


def test_the_numpy_scan_sees_every_form_of_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import numpy as np\nfrom numpy.lib import stride_tricks\nimport os\n"
        "from . import numpy\ndef f():\n    import numpy.linalg\n",
        encoding="utf-8",
    )
    assert numpy_imports(probe) == [1, 2, 6]  # a relative ``numpy`` is chainrule's, not NumPy
