"""CPU time per training step of one library tree against another, interleaved step by step.

Each side runs in a process of its own (two versions of chainrule cannot share one), set up
once and warmed up; the parent then asks each in turn for one step, rotating who goes first,
so that whatever else the machine does falls on both alike. A step's CPU time is the process's
user + system time across it (``time.process_time``): page faults and the kernel's zeroing of
fresh pages count, which an instruction count (``instructions.py``) does not see. Reported: the
median over the steps, the wall-clock median, the minor page faults per step and the loss after
the last step (the same model and data on every side). BLAS runs on one thread on every side.

    python benchmarks/interleaved.py --base main --new conv-pool --only i,j --steps 40
    python benchmarks/interleaved.py --base main --torch --only i
    python benchmarks/interleaved.py --base main --torch --only i --keep-memory

``--keep-memory`` is a diagnostic, not a setting to quote as a result: it tells glibc's malloc,
in every side's process alike, to serve arrays up to 32 MiB from its heap and never to give the
heap back (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_), so that a step touches no fresh
pages. The difference to a plain run is what the page faults cost: by default glibc returns
the top of its heap once more than twice its largest freed mmap-ed block lies free there, and a
step whose arrays at their peak outgrow that pays the kernel for every page again each step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from instructions import LIBRARY_CHECK, checkout

ROOT = Path(__file__).resolve().parents[1]

WORKER = """
import json, resource, sys, time
sys.path.insert(0, {bench!r})
from convnet_step import ChainruleConvNet, make_problem
if {torch}:
    import torch
    from convnet_step import TorchConvNet as ChainruleConvNet
    torch.set_num_threads(1)
model = ChainruleConvNet(make_problem({key!r}))
for _ in range(3):
    model.step()
print("ready", flush=True)
for line in sys.stdin:
    r0, c0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time(), time.perf_counter()
    model.step()
    c1, w1, r1 = time.process_time(), time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    row = dict(cpu=c1 - c0, wall=w1 - w0, faults=r1.ru_minflt - r0.ru_minflt,
               loss=model.loss_value())
    print(json.dumps(row), flush=True)
"""


KEEP_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def start(tree: Path, key: str, torch: bool, keep_memory: bool = False) -> subprocess.Popen:
    code = LIBRARY_CHECK.format(tree=str(tree))
    code += WORKER.format(bench=str(ROOT / "benchmarks"), key=key, torch=torch)
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    if keep_memory:
        env.update(KEEP_MEMORY)
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=tree,  # python -c puts the working folder first on sys.path
        text=True,
    )
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the worker for {tree} did not start")
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="HEAD", help="the commit to compare with (default HEAD)")
    parser.add_argument("--new", help="a commit to measure instead of this tree")
    parser.add_argument("--torch", action="store_true", help="add PyTorch's step as a side")
    parser.add_argument("--only", default="i,j", help="workloads of convnet_step (default i,j)")
    parser.add_argument("--steps", type=int, default=40, help="steps timed per side")
    parser.add_argument(
        "--keep-memory",
        action="store_true",
        help="diagnostic: glibc keeps its heap on every side (no page faults; see the docstring)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = checkout(args.base, Path(tmp) / "base")
        tree = checkout(args.new, Path(tmp) / "new") if args.new else ROOT
        new = args.new or "this tree"
        sides = [(args.base, base, False), (new, tree, False)]
        if args.torch:
            sides.append(("PyTorch", tree, True))
        print("| workload | side | CPU ms/step (median) | wall ms | faults/step | final loss |")
        print("|---|---|---|---|---|---|")
        for key in args.only.split(","):
            procs = [start(path, key, torch, args.keep_memory) for _, path, torch in sides]
            rows: list[list[dict]] = [[] for _ in sides]
            for s in range(args.steps):
                for k in range(len(sides)):
                    i = (s + k) % len(sides)  # rotate who goes first
                    procs[i].stdin.write("step\n")
                    procs[i].stdin.flush()
                    rows[i].append(json.loads(procs[i].stdout.readline()))
            for p in procs:
                p.stdin.close()
                p.wait()
            for (label, _, _), r in zip(sides, rows):
                cpu = statistics.median(x["cpu"] for x in r) * 1e3
                wall = statistics.median(x["wall"] for x in r) * 1e3
                faults = statistics.mean(x["faults"] for x in r)
                print(
                    f"| ({key}) | {label} | {cpu:.1f} | {wall:.1f} | {faults:,.0f} | "
                    f"{r[-1]['loss']:.6f} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
