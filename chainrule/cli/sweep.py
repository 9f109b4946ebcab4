"""``chainrule sweep``: a grid of training runs in parallel, the best chosen on validation."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ._common import discard_if_empty, fail
from .train import add_options, resolve_config

EXAMPLES = """examples:
  chainrule sweep --dataset spiral --hidden 3,6,20 --reg 0.001,0.01,0.1
        the lecture's figure: decision boundaries for network size x regularization strength
  chainrule sweep --lr 0.01,0.001 --activation relu,tanh --epochs 20
  chainrule sweep --reg 0.001,0.01,0.1 --executor ray --address HEAD:6379
        one Ray task per grid point on a running Ray cluster
  chainrule sweep --reg 0.001,0.01,0.1 --executor dask --address tcp://SCHEDULER:8786

Swept options take comma-separated values; for --hidden each value is one network, its layer
widths joined by 'x' (--hidden 100,100x100 compares one and two hidden layers). The best run is
chosen on validation accuracy only and its test accuracy reported. Runs go to --out/NAME, in
parallel on the local cores (--workers), or one task per grid point on Ray or Dask (--executor;
without --address, a cluster of --workers processes on this machine). A failing run is reported
with its error while the others finish (exit status 1). Running the same sweep again with the
same --out skips the runs that are complete and trains the others.
"""


def _values(kind: type) -> Any:
    def parse(text: str) -> list:
        try:
            return [kind(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated values; got {text!r}"
            ) from None

    return parse


def _networks(text: str) -> list[list[int]]:
    try:
        nets = [[int(w) for w in v.split("x")] for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected widths such as 3,6,20 or 100x100,200; got {text!r}"
        ) from None
    return nets


def register(sub: argparse._SubParsersAction) -> None:
    from ..train.sweep.executors import EXECUTORS

    p = sub.add_parser(
        "sweep",
        help="train a grid of runs in parallel",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
        conflict_handler="resolve",
    )
    add_options(p)
    p.add_argument("--hidden", type=_networks, metavar="W[,W...]", help="networks to compare")
    p.add_argument("--reg", type=_values(float), metavar="L[,L...]", help="lambdas to compare")
    p.add_argument("--lr", type=_values(float), metavar="LR[,LR...]", help="learning rates")
    p.add_argument("--activation", type=_values(str), metavar="A[,A...]", help="activations")
    p.add_argument(
        "--workers",
        type=int,
        help="parallel runs on this machine (default: the number of cores)",
    )
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        help="where the runs go: local processes, a Ray or a Dask cluster (default: local)",
    )
    p.add_argument(
        "--address",
        metavar="ADDR",
        help="the Ray or Dask scheduler's address (default: start a cluster on this machine)",
    )
    p.add_argument("--out", metavar="DIR", help="sweep folder (default: runs/sweep-DATASET-TIME)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the sweep in --out (deletes only the files a sweep writes there)",
    )
    p.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    from ..train.run import new_folder
    from ..train.sweep import AXES, boundary_figure, run_sweep

    values = {a: vars(args).pop(a) for a in AXES if a in vars(args)}
    workers = vars(args).pop("workers", None)
    executor = vars(args).pop("executor", "local")
    address = vars(args).pop("address", None)
    out_arg = vars(args).pop("out", None)
    overwrite = vars(args).pop("overwrite", False)
    quiet = getattr(args, "quiet", False)
    made = None  # the default folder, made here: removed again if the sweep never starts
    try:
        base = resolve_config(args)
        if out_arg:
            out = Path(out_arg)
        else:  # a new folder, even for two sweeps started in the same second
            out = made = new_folder(f"runs/sweep-{base.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
        if not quiet:
            n = 1
            for v in values.values():
                n *= len(v)
            print(
                f"chainrule sweep: {n} runs of {base.model} on {base.dataset} -> {out}", flush=True
            )
        result = run_sweep(
            base, values, out, workers, overwrite, None if quiet else _row, executor, address
        )
    except (ValueError, OSError, ImportError) as e:
        discard_if_empty(made)
        return fail("sweep", str(e))
    axes = result["axes"]
    print("\n" + "  ".join(f"{a:>10}" for a in axes) + "   val acc")
    for r in result["runs"]:
        acc = f"{r['val_acc']:7.2%}" if r["error"] is None else f"failed: {_short(r['error'])}"
        print("  ".join(f"{_fmt(r[a]):>10}" for a in axes) + f"   {acc}")
    failed = sum(r["error"] is not None for r in result["runs"])
    best = result["best"]
    if best is None:
        return fail("sweep", f"every run failed; see the table above and {out / 'sweep.json'}")
    chosen = ", ".join(f"{a} {_fmt(best[a])}" for a in axes)
    print(f"\nbest on validation: {chosen}: val {best['val_acc']:.2%}, test {best['test_acc']:.2%}")
    print(f"run folder: {best['out']}")
    if set(axes) >= {"hidden", "reg"} and len(axes) == 2 and not failed:
        try:
            from ..viz.plots import save_figure

            save_figure(boundary_figure(result), out / "boundaries.png")
            print(f"decision boundaries: {out / 'boundaries.png'}")
        except (ImportError, ValueError):
            pass
    if failed:
        print(f"\n{failed} of {len(result['runs'])} runs failed; run the same sweep again to retry")
        return 1
    return 0


def _fmt(v: Any) -> str:
    return "x".join(map(str, v)) if isinstance(v, list) else str(v)


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _row(row: dict[str, Any]) -> None:
    name = Path(row["out"]).name
    if row["status"] == "failed":
        print(f"  failed: {name}: {row['error']}", flush=True)
    elif row["status"] == "skipped":
        print(f"  complete already: {name}  val acc {row['val_acc']:.2%}", flush=True)
    else:
        print(f"  done: {name}  val acc {row['val_acc']:.2%}", flush=True)
