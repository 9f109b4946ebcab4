"""Regenerate every figure of the guide and the README from the code: docs/figures/.

    python tools/make_figures.py [--only NAME ...]

Each figure is a file an example script writes (``python examples/NN_name.py --out DIR``) or a
file a training run writes into its folder (``chainrule train ...``); this runs them into a
temporary folder and copies the figures the pages show into docs/figures/, under the names the
pages use. Figures docs/figures holds that nothing here makes any more are removed, except
those made elsewhere: performance-ratios.png, which ``python benchmarks/run.py --write-docs``
makes (see benchmarks/README.md), and playground.png, ``python tools/playground_screenshot.py``.
tests/test_docs.py checks that this table, the folder and the pages agree. Graphs need
Graphviz's ``dot``; without it the run stops before copying anything.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"

# example script -> the files it writes that the guide shows (same name in docs/figures)
EXAMPLES: dict[str, tuple[str, ...]] = {
    "01_scalar_graphs": ("add_mul.svg", "neuron.svg"),
    "02_gate_patterns": ("gate_add.svg", "gate_mul.svg", "gate_copy.svg", "gate_max.svg"),
    "03_tensor_backward": ("relu.svg", "matmul.svg", "jacobians.png"),
    "04_softmax_templates": ("templates.png", "linear_regions.png"),
    "05_nonlinearity": ("nonlinearity.png", "architectures.png"),
    "06_size_vs_regularization": ("size_vs_reg.png",),
    "07_activation_functions": ("activations.png",),
    "08_linear_collapse": ("linear_collapse.png",),
    "09_universal_approximation": ("universal_approximation.png",),
    "10_initialization": ("init_scale.png",),
    "11_flat_vs_engine": ("flat_vs_engine.png",),
    "12_custom_function": ("multiply.svg",),
    "13_gradient_flow": ("gradient_flow.png",),
    "14_nonconvexity": ("nonconvexity.png",),
}

# a training run (the arguments of `chainrule train`) -> {file in its folder: name in docs/figures}
RUNS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "digits-mlp": (
        (),
        {
            "curves.png": "digits-mlp-curves.png",
            "confusion.png": "digits-mlp-confusion.png",
            "first_layer.png": "digits-mlp-first-layer.png",
        },
    ),
    "digits-linear": (("--model", "linear"), {"templates.png": "digits-linear-templates.png"}),
    "spiral-mlp": (("--dataset", "spiral"), {"boundary.png": "spiral-mlp-boundary.png"}),
    "spiral-linear": (
        ("--dataset", "spiral", "--model", "linear"),
        {"boundary.png": "spiral-linear-boundary.png"},
    ),
}

MADE_ELSEWHERE = (
    "performance-ratios.png",  # python benchmarks/run.py --write-docs
    "playground.png",  # python tools/playground_screenshot.py (a browser's screenshot)
)


def made_here() -> set[str]:
    """Every file name in docs/figures this tool writes."""
    names = {name for files in EXAMPLES.values() for name in files}
    return names | {name for _, files in RUNS.values() for name in files.values()}


def _run(command: list[str]) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="only these examples or runs (e.g. 06_size_vs_regularization spiral-mlp)",
    )
    args = parser.parse_args()
    known = set(EXAMPLES) | set(RUNS)
    unknown = sorted(set(args.only or ()) - known)
    if unknown:
        parser.error(f"unknown names {unknown}; expected among {sorted(known)}")
    if shutil.which("dot") is None:
        parser.error("the graphs need Graphviz's `dot` (apt-get install graphviz)")
    chosen = set(args.only) if args.only else known
    with tempfile.TemporaryDirectory() as tmp:
        made: dict[str, Path] = {}
        for script, files in EXAMPLES.items():
            if script not in chosen:
                continue
            out = Path(tmp) / script
            _run([sys.executable, f"examples/{script}.py", "--out", str(out)])
            made.update({name: out / name for name in files})
        for run, (options, files) in RUNS.items():
            if run not in chosen:
                continue
            out = Path(tmp) / run
            _run([sys.executable, "-m", "chainrule", "train", *options, "--out", str(out)])
            made.update({name: out / source for source, name in files.items()})
        missing = [str(p) for p in made.values() if not p.is_file()]
        if missing:
            print(f"error: not written: {missing}", file=sys.stderr)
            return 1
        for name, source in sorted(made.items()):
            shutil.copyfile(source, FIGURES / name)
            print(f"wrote docs/figures/{name} ({(FIGURES / name).stat().st_size} bytes)")
    if not args.only:
        keep = made_here() | set(MADE_ELSEWHERE)
        for stale in sorted(p for p in FIGURES.iterdir() if p.name not in keep):
            stale.unlink()
            print(f"removed docs/figures/{stale.name}: nothing makes it any more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
