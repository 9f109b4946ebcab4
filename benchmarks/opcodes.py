"""Python bytecodes per step of the small workloads, function by function: where eager time goes.

At the sizes of (c), (d) and (e) a step's time is the interpreter's: each op's ``apply``, its
saved-value tags, its graph node and Tensor, and the backward loop's bookkeeping. This counts
the bytecodes each Python function executes in one step (``sys.settrace`` with opcode events:
the same count on every run and every machine, unlike time), after two warm-up steps, and prints
the functions with the most. A call into C (a NumPy function) counts as the one bytecode that
calls it, so the count is the Python overhead alone; ``instructions.py`` counts everything.

    python benchmarks/opcodes.py                 # (c), (d) and (e), the top 25 functions
    python benchmarks/opcodes.py --only d --top 40
    python benchmarks/opcodes.py --op "a * b"    # one expression on two 0-d tensors

A change to the engine shows here as bytecodes added or saved per op; ``instructions.py
--base`` then says what that costs in instructions, NumPy included.
"""

from __future__ import annotations

import argparse
import collections
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def count(step: Callable[[], Any]) -> collections.Counter:
    """Bytecodes executed by ``step()``, per function (``file:function``)."""
    counts: collections.Counter = collections.Counter()

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        if event == "opcode":
            code = frame.f_code
            counts[f"{Path(code.co_filename).name}:{code.co_name}"] += 1
        return tracer

    sys.settrace(tracer)
    try:
        step()
    finally:
        sys.settrace(None)
    return counts


def _steps(only: list[str]) -> dict[str, Callable[[], Any]]:
    steps = {}
    if "c" in only:
        from mlp_step import ChainruleMLP, make_problem

        steps["(c) 2-16-16-2 MLP step"] = ChainruleMLP(make_problem("c")).step
    if "d" in only:
        from neuron import chainrule_neuron

        steps["(d) the lecture's neuron, forward + backward"] = chainrule_neuron()[0]
    if "e" in only:
        from micrograd_demo import Chainrule, Micrograd, moons

        x, y = moons()
        steps["(e) micrograd's demo step"] = Chainrule(x, y, Micrograd(x, y).layers()).step
    return steps


def _op(expression: str) -> Callable[[], Any]:
    import chainrule as cr

    scope = {
        "cr": cr,
        "a": cr.tensor(2.0, requires_grad=True),
        "b": cr.tensor(3.0, requires_grad=True),
    }
    code = compile(expression, "<op>", "eval")
    return lambda: eval(code, scope)  # noqa: S307 (the command line's own expression)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="c,d,e", help="workloads among c, d, e")
    parser.add_argument("--top", type=int, default=25, help="functions to list per workload")
    parser.add_argument("--op", help="an expression on 0-d tensors a and b instead")
    args = parser.parse_args()
    steps = {args.op: _op(args.op)} if args.op else _steps(args.only.split(","))
    for title, step in steps.items():
        step()
        step()  # warm: first calls fill caches (dtypes, lazily built tables)
        counts = count(step)
        print(f"{title}: {sum(counts.values()):,} bytecodes")
        for name, n in counts.most_common(args.top):
            print(f"  {n:7,d}  {name}")


if __name__ == "__main__":
    main()
