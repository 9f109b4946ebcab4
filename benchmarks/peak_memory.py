"""Workload (h): peak memory (max RSS of a fresh process) of 50 training steps of (a).

Each competitor of (a) (chainrule, hand-written NumPy, PyTorch) runs in a fresh Python process,
``python benchmarks/peak_memory.py --child NAME``, that imports NumPy and that competitor's
library only, builds the problem of (a), runs 50 steps and reports its own peak resident memory
(VmHWM, see ``_peak_kib``) at three points: after the imports, after building the model and
data, and after the 50 steps (the peak). The children run interleaved (chainrule, NumPy,
PyTorch, then reversed, ...) for several rounds; the table gives the median peak. PyTorch is
there for information: importing it alone costs some 200 MB, which dwarfs the training's own
memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from typing import Any

STEPS = 50
NAMES = ("chainrule", "numpy", "torch")
LABELS = {"chainrule": "chainrule", "numpy": "hand-written NumPy", "torch": "PyTorch"}


def _peak_kib() -> int:
    """This process's peak resident memory in KiB: VmHWM of /proc/self/status.

    Not ``ru_maxrss``: on Linux it survives fork and exec, so a child started by a process that
    had loaded PyTorch reports at least that process's size (exec keeps the larger of the old
    and new memory maps' high-water marks). VmHWM belongs to the new program's memory map
    alone. ``ru_maxrss`` is the fallback off Linux.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def child(name: str) -> None:
    """Run in the fresh process: import, build, 50 steps; print the three readings as JSON."""
    import numpy  # noqa: F401  (every competitor needs it)

    if name == "chainrule":
        import chainrule  # noqa: F401
    elif name == "torch":
        import torch  # noqa: F401
    readings = {"after_import": _peak_kib()}
    import mlp_step

    p = mlp_step.make_problem("a")
    obj = mlp_step.BUILDERS[name](p)
    readings["after_setup"] = _peak_kib()
    for _ in range(STEPS):
        obj.step()
    readings["peak"] = _peak_kib()
    print(json.dumps(readings))


def _spawn(name: str) -> dict[str, int]:
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", name],
        capture_output=True,
        text=True,
        cwd=here,
        timeout=300,
    )
    if out.returncode != 0:
        raise RuntimeError(f"peak-memory child {name} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(key: str, settings: Any, log: Any) -> dict[str, Any]:
    import statistics
    from importlib.util import find_spec

    from _harness import TARGETS, stats

    names, skips = [], {}
    for n in NAMES:  # find, not import: this process stays small (see _peak_kib)
        if find_spec(n) is None:
            skips[n] = f"skipped: {n} is not installed; pip install {n}"
        else:
            names.append(n)
    rounds = 1 if settings.quick else 5
    readings: dict[str, list[dict[str, int]]] = {n: [] for n in names}
    for r in range(rounds):
        for n in names if r % 2 == 0 else names[::-1]:
            readings[n].append(_spawn(n))
    competitors, ratios = {}, {}
    for n in names:
        peaks = [x["peak"] * 1024 for x in readings[n]]
        competitors[n] = {
            "label": LABELS[n],
            **stats(peaks),
            "samples": peaks,
            "after_import_bytes": statistics.median(x["after_import"] * 1024 for x in readings[n]),
            "after_setup_bytes": statistics.median(x["after_setup"] * 1024 for x in readings[n]),
            "note": "",
        }
        competitors[n]["training_bytes"] = (
            competitors[n]["median"] - competitors[n]["after_import_bytes"]
        )
        log(
            f"    {LABELS[n]}: peak {competitors[n]['median'] / 2**20:.1f} MiB "
            f"({competitors[n]['after_import_bytes'] / 2**20:.1f} MiB after its imports)"
        )
    if "torch" in competitors:
        competitors["torch"]["note"] = "for information: importing torch alone is most of it"
    if "chainrule" in competitors:
        ref = competitors["chainrule"]["samples"]
        for n in names:
            if n != "chainrule":
                per = [a / b for a, b in zip(ref, competitors[n]["samples"])]
                ratios[n] = {**stats(per), "per_round": per}
    return {
        "key": key,
        "title": "(h) peak memory (max RSS, fresh process) of 50 steps of (a)",
        "unit": "process",
        "quantity": "memory",
        "measurements": [
            {
                "label": "max RSS",
                "competitors": competitors,
                "ratios": ratios,
                "rounds": rounds,
                "skipped": skips,
            }
        ],
        "targets": TARGETS[key],
        "checks": {},
        "extra": {"steps": STEPS},
    }


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        child(sys.argv[2])
    else:
        sys.exit("usage: python benchmarks/peak_memory.py --child chainrule|numpy|torch")
