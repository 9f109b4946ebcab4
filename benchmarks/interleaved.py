"""CPU time per step of one library tree against another, interleaved batch by batch.

Each side runs in a process of its own (two versions of chainrule cannot share one), set up
once and warmed up; the parent then asks each in turn for a batch of steps, rotating who goes
first, so that whatever else the machine does falls on both alike. A batch holds as many steps
as take about ``--batch-ms`` (a neuron's step takes microseconds, a ConvNet's tens of
milliseconds). A step's CPU time is the process's user + system time across its batch
(``time.process_time``): page faults and the kernel's zeroing of fresh pages count, which an
instruction count (``instructions.py``) does not see. Reported per side: the median CPU time
per step, the wall-clock median, the minor page faults per step, the process's peak resident
memory at the end (VmHWM: workload (h) is (a)'s), and the workload's check value after the last
step (a loss or a gradient: the same model and data on every side). BLAS runs on one thread on
every side. The workloads are ``instructions.WORKLOADS``.

    python benchmarks/interleaved.py --base main --new conv-pool --only i,j
    python benchmarks/interleaved.py --base main --torch --only i
    python benchmarks/interleaved.py --base ba6fb6d --only a,b,c,d,e,f,g   # issue 12, item 7
    python benchmarks/interleaved.py --base main --torch --only i --keep-memory

PyTorch's side imports PyTorch alone (not chainrule), so its process runs with glibc's malloc
as a PyTorch user's does; importing chainrule sets malloc's thresholds for the whole process
(``chainrule/_memory.py``).

``--keep-memory`` is a diagnostic, not a setting to quote as a result: it tells glibc's malloc,
in every side's process alike (PyTorch's and a tree from before ``chainrule/_memory.py``
included), to serve arrays up to 32 MiB from its heap and never to give the heap back
(MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_; chainrule then leaves malloc as the
environment sets it), so that a step touches no fresh pages. The difference to a plain run is
what the page faults cost: by default glibc returns the top of its heap once more than twice its
largest freed mmap-ed block lies free there, and a step whose arrays at their peak outgrow that
pays the kernel for every page again each step.
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

from instructions import LIBRARY_CHECK, WORKLOADS, checkout

ROOT = Path(__file__).resolve().parents[1]

#: PyTorch's side of the workloads that have one here (--torch)
TORCH = {
    key: "from convnet_step import TorchConvNet, make_problem\n"
    "import torch\ntorch.set_num_threads(1)\n"
    f"model = TorchConvNet(make_problem({key!r}))\nstep, check = model.step, model.loss_value\n"
    for key in ("i", "j")
}

WORKER = """
import json, resource, sys, time
sys.path.insert(0, {bench!r})
check = None
{setup}
for _ in range(3):
    step()
print("ready", flush=True)


def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


for line in sys.stdin:
    n = int(line)
    r0, c0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time(), time.perf_counter()
    for _ in range(n):
        step()
    c1, w1, r1 = time.process_time(), time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    row = dict(cpu=(c1 - c0) / n, wall=(w1 - w0) / n, faults=(r1.ru_minflt - r0.ru_minflt) / n,
               check=None if check is None else float(check()), peak=peak_kib())
    print(json.dumps(row), flush=True)
"""


KEEP_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def start(
    tree: Path, setup: str, keep_memory: bool = False, torch: bool = False
) -> subprocess.Popen:
    """A worker running ``setup``'s step; PyTorch's (``torch``) does not import chainrule."""
    code = "" if torch else LIBRARY_CHECK.format(tree=str(tree))
    code += WORKER.format(bench=str(ROOT / "benchmarks"), setup=setup)
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


def ask(proc: subprocess.Popen, n: int) -> dict:
    proc.stdin.write(f"{n}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="HEAD", help="the commit to compare with (default HEAD)")
    parser.add_argument("--new", help="a commit to measure instead of this tree")
    parser.add_argument("--torch", action="store_true", help="add PyTorch's step (i and j)")
    parser.add_argument("--only", default="i,j", help=f"workloads among {','.join(WORKLOADS)}")
    parser.add_argument("--rounds", type=int, default=40, help="batches timed per side")
    parser.add_argument("--batch-ms", type=float, default=20.0, help="about this long a batch")
    parser.add_argument(
        "--keep-memory",
        action="store_true",
        help="diagnostic: glibc keeps its heap on every side (no page faults; see the docstring)",
    )
    args = parser.parse_args(argv)
    keys = args.only.split(",")
    unknown = [k for k in keys if k not in WORKLOADS or (args.torch and k not in TORCH)]
    if unknown:
        sys.exit(f"--only: no such workload here {unknown}; choose among {','.join(WORKLOADS)}")
    print(
        "| workload | side | CPU per step (median) | wall | faults/step | peak MiB | check "
        "| CPU / base |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        base = checkout(args.base, Path(tmp) / "base")
        tree = checkout(args.new, Path(tmp) / "new") if args.new else ROOT
        for key in keys:
            setup = WORKLOADS[key][1]
            sides = [(args.base, base, setup), (args.new or "this tree", tree, setup)]
            if args.torch:
                sides.append(("PyTorch", tree, TORCH[key]))
            procs = [
                start(path, code, args.keep_memory, torch=label == "PyTorch")
                for label, path, code in sides
            ]
            first = [ask(p, 1)["wall"] for p in procs][0]  # every side: the same steps in all
            n = max(1, round(args.batch_ms / 1e3 / max(first, 1e-7)))
            rows: list[list[dict]] = [[] for _ in sides]
            for r in range(args.rounds):
                for k in range(len(sides)):
                    i = (r + k) % len(sides)  # rotate who goes first
                    rows[i].append(ask(procs[i], n))
            for p in procs:
                p.stdin.close()
                p.wait()
            ref = statistics.median(x["cpu"] for x in rows[0])
            for (label, _, _), rs in zip(sides, rows):
                cpu = statistics.median(x["cpu"] for x in rs)
                wall = statistics.median(x["wall"] for x in rs)
                faults = statistics.mean(x["faults"] for x in rs)
                check = "-" if rs[-1]["check"] is None else f"{rs[-1]['check']:.6g}"
                print(
                    f"| ({key}) | {label} | {_time(cpu)} | {_time(wall)} | {faults:,.0f} | "
                    f"{rs[-1]['peak'] / 1024:.0f} | {check} | {cpu / ref:.3f}x |"
                )
    return 0


def _time(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


if __name__ == "__main__":
    sys.exit(main())
