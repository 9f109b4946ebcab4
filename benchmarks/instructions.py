"""Instructions per training step, this tree against another commit: a comparison noise cannot move.

Wall-clock figures on a shared machine swing by tens of percent from one run to the next; the
number of instructions a step executes does not. This runs the small, Python-bound workloads
((c) the 2-16-16-2 MLP step, (d) the lecture's neuron, (e) micrograd's demo step) under
Valgrind's callgrind, once with ``--steps`` steps and once with twice as many, for this tree and
for ``--base`` (checked out into a temporary folder), and reports the instructions of one step
(the difference of the two runs over the extra steps, so imports and set-up cancel) and the
ratio new / base. The workload code is this tree's ``benchmarks/`` for both sides, so only the
library differs.

    python benchmarks/instructions.py --base HEAD~3
    python benchmarks/instructions.py --base 2afdcc4 --only d --steps 200
    python benchmarks/instructions.py --base main --new conv-pool --only i,j
    python benchmarks/instructions.py --base 92a3e03 --only cc,ec   # cr.compile against eager

Instructions are not time (a cache miss costs more than an add), but for the per-op Python
overhead these workloads measure they track time closely, and a change that adds work shows.
The ConvNet steps ((i) MNIST size, (j) CIFAR size; 5 steps in the shorter run by default, as
each takes seconds under callgrind) are array work: their count shows the copies and adds a
change makes or saves, but not the kernel's work (page faults, zeroing fresh pages), which
callgrind does not see; ``interleaved.py`` measures CPU time, user + system, for that. Needs
``valgrind`` (Debian's package).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# One step of each workload, set up once; argv[1] is the number of steps to run.
WORKLOADS = {
    "a": (
        "3072-100-10 MLP, batch 256: forward, loss, backward, SGD step",
        "from mlp_step import ChainruleMLP, make_problem\n"
        "m = ChainruleMLP(make_problem('a'))\nstep, check = m.step, m.loss_value\n",
    ),
    "b": (
        "3072-1024-1024-10 MLP, batch 256: forward, loss, backward, SGD step",
        "from mlp_step import ChainruleMLP, make_problem\n"
        "m = ChainruleMLP(make_problem('b'))\nstep, check = m.step, m.loss_value\n",
    ),
    "c": (
        "2-16-16-2 MLP, batch 32: forward, loss, backward, SGD step",
        "from mlp_step import ChainruleMLP, make_problem\n"
        "m = ChainruleMLP(make_problem('c'))\nstep, check = m.step, m.loss_value\n",
    ),
    "d": (
        "the lecture's sigmoid neuron on 0-d tensors, forward and backward",
        "from neuron import chainrule_neuron\nstep, _ = chainrule_neuron()\n",
    ),
    "e": (
        "micrograd's demo step (2-16-16-1 on 100 moons, SVM loss, L2)",
        "from micrograd_demo import Chainrule, Micrograd, moons\nx, y = moons()\n"
        "step = Chainrule(x, y, Micrograd(x, y).layers()).step\n",
    ),
    "f": (
        "the default chainrule train on digits, 30 epochs, into a temporary folder",
        "from digits_fit import ChainruleFit\nfit = ChainruleFit()\n"
        "def step():\n    fit.timed(1)\n"
        "def check():\n    return fit.results[-1]['test_accuracy']\n",
    ),
    "g": (
        "a chain of 10,000 ops on a 0-d tensor, forward and backward",
        "from long_chain import chainrule_chain\nstep, _, check = chainrule_chain()\n",
    ),
    # cr.compile's replay of the same steps; a tree without cr.compile runs the eager step, so
    # --base (a commit before it) against this tree gives compiled / eager (the two recordings
    # are made in the set-up, which cancels out)
    "cc": (
        "(c) through cr.compile (eager where the tree has no cr.compile)",
        "import chainrule as cr\n"
        "from mlp_step import ChainruleCompiledMLP, ChainruleMLP, make_problem\n"
        "build = ChainruleCompiledMLP if hasattr(cr, 'compile') else ChainruleMLP\n"
        "step = build(make_problem('c')).step\nstep()\nstep()\n",
    ),
    "ec": (
        "(e) through cr.compile (eager where the tree has no cr.compile)",
        "import chainrule as cr\n"
        "from micrograd_demo import Chainrule, ChainruleCompiled, Micrograd, moons\n"
        "x, y = moons()\nbuild = ChainruleCompiled if hasattr(cr, 'compile') else Chainrule\n"
        "step = build(x, y, Micrograd(x, y).layers()).step\nstep()\nstep()\n",
    ),
    "i": (
        "LeNet-style ConvNet step, 64 images of 1x28x28",
        "from convnet_step import ChainruleConvNet, make_problem\n"
        "model = ChainruleConvNet(make_problem('i'))\nstep, check = model.step, model.loss_value\n",
    ),
    "j": (
        "LeNet-style ConvNet step, 64 images of 3x32x32",
        "from convnet_step import ChainruleConvNet, make_problem\n"
        "model = ChainruleConvNet(make_problem('j'))\nstep, check = model.step, model.loss_value\n",
    ),
}
#: steps in the shorter run where ``--steps`` is not given (array-bound workloads: fewer)
DEFAULT_STEPS = {"a": 5, "b": 2, "c": 100, "d": 100, "e": 100, "f": 1, "g": 2}
DEFAULT_STEPS.update({"cc": 100, "ec": 100, "i": 5, "j": 5})


#: the measured process imports the tree it is given, or fails: ``python -c`` puts the working
#: folder on sys.path ahead of PYTHONPATH, so run from the repository's root every side would
#: otherwise import the root's chainrule and the comparison would compare a tree with itself
LIBRARY_CHECK = (
    "import os, chainrule\n"
    "if not os.path.samefile(os.path.dirname(os.path.dirname(chainrule.__file__)), {tree!r}):\n"
    "    raise SystemExit(f'imported {{chainrule.__file__}}, not the tree {tree}')\n"
)


def count(tree: Path, setup: str, steps: int) -> int:
    """Instructions callgrind counts for ``steps`` steps of the workload (set-up included)."""
    # the cycle collector runs when allocations cross a threshold, not once per step: off, so
    # both sides count the step's own work (chainrule's graphs hold no cycles to collect)
    script = f"import gc, sys\ngc.disable()\nsys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
    script += LIBRARY_CHECK.format(tree=str(tree))
    script += setup
    script += f"for _ in range({steps}):\n    step()\n"
    # a fixed hash seed: with a random one, set and dict layouts vary, and two runs of the same
    # tree differ by about 1%; with it, by under 0.1%
    env = dict(
        os.environ,
        PYTHONPATH=str(tree),
        PYTHONHASHSEED="0",
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
    )
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,  # python -c puts the working folder first on sys.path, before PYTHONPATH
        check=False,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return int(found.group(1))


def per_step(tree: Path, setup: str, steps: int) -> float:
    return (count(tree, setup, 2 * steps) - count(tree, setup, steps)) / steps


def checkout(rev: str, into: Path) -> Path:
    """The library of commit ``rev`` in a folder of its own (``git archive``: no work tree)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "chainrule"], capture_output=True, check=True
    ).stdout
    into.mkdir()
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="HEAD", help="the commit to compare with (default HEAD)")
    parser.add_argument("--new", help="a commit to measure instead of this tree")
    parser.add_argument(
        "--only", default="c,d,e", help="workloads, e.g. d or c,d or i,j (default c,d,e)"
    )
    parser.add_argument(
        "--steps", type=int, help="steps in the shorter run (default 100; 5 for i and j)"
    )
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print(
            "benchmarks/instructions.py needs valgrind (apt-get install valgrind)", file=sys.stderr
        )
        return 2
    print(f"| workload | {args.base} | {args.new or 'this tree'} | new / base |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        base = checkout(args.base, Path(tmp) / "base")
        tree = checkout(args.new, Path(tmp) / "new") if args.new else ROOT
        for key in args.only.split(","):
            name, setup = WORKLOADS[key]
            steps = args.steps or DEFAULT_STEPS[key]
            old, new = per_step(base, setup, steps), per_step(tree, setup, steps)
            print(f"| ({key}) {name} | {old:,.0f} | {new:,.0f} | {new / old:.3f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
