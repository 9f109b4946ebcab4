"""Where a compiled step's time goes: each function its replay calls, timed per step.

``python benchmarks/compiled_breakdown.py [a|b|c]`` (default c; a few seconds) compiles
workload (c)'s training step as ``mlp_step.ChainruleCompiledMLP`` does, lets it replay, then
wraps every op's forward and backward and the gradient-routing helpers that the replay's code
(``CompiledFunction.code``) calls in a timer, and prints the time each takes per step, beside
the whole call, the replay alone, the guard (``Program.valid``), the optimizer's step and the
hand-written NumPy step. The wrappers add a fraction of a microsecond per call: read the
numbers as shares, not as exact times.
"""

from __future__ import annotations

import collections
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mlp_step  # noqa: E402
from _harness import limit_threads  # noqa: E402

HELPERS = ("_fix", "_plus", "_sum_into", "_ones", "_outputs")


def _median_us(f: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main(key: str = "c") -> None:
    limit_threads()
    repeats = {"a": 100, "b": 10, "c": 3000}[key]
    p = mlp_step.make_problem(key)
    compiled, numpy_step = mlp_step.ChainruleCompiledMLP(p), mlp_step.NumpyMLP(p)
    for _ in range(5):
        compiled.step()
        numpy_step.step()
    program = next(v for v in compiled.compiled._cache.values() if type(v).__name__ == "Program")
    tensors = [compiled.x, compiled.y]
    print(f"({key}) per step, medians of {repeats}:")
    for name, f in (
        ("the compiled call", compiled.step),
        ("its replay alone", lambda: program.run(tensors)),
        ("the guard, Program.valid()", program.valid),
        ("optimizer.step()", compiled.opt.step),
        ("hand-written NumPy's step", numpy_step.step),
    ):
        print(f"  {name:32s} {_median_us(f, repeats):9.2f} us")
    env = program._replay.__globals__
    spent: dict[str, float] = collections.defaultdict(float)
    for name, f in list(env.items()):
        if callable(f) and ("_forward" in name or "_backward" in name or name in HELPERS):

            def timed(*args: Any, _f: Any = f, _name: str = name) -> Any:
                start = time.perf_counter()
                try:
                    return _f(*args)
                finally:
                    spent[_name] += time.perf_counter() - start

            env[name] = timed
    for _ in range(repeats):
        program.run(tensors)
    print("  inside the replay, each function its code calls (all its calls in a step, summed):")
    for name, total in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"    {name:30s} {total / repeats * 1e6:9.2f} us")


if __name__ == "__main__":
    main(*sys.argv[1:2])
