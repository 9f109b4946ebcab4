"""``chainrule evaluate RUN``: accuracy, per-class table and confusion matrix of a run."""

from __future__ import annotations

import argparse

from ._common import fail, print_summary

EXAMPLES = """examples:
  chainrule evaluate runs/digits-mlp-20250101-120000              the best model on the test split
  chainrule evaluate runs/digits-mlp-20250101-120000 --split val  on the validation split

RUN is the folder `chainrule train` wrote (runs/DATASET-MODEL-TIME, or its --out).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a run's best model",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN", help="a run folder written by `chainrule train`")
    p.add_argument("--split", choices=("test", "val", "train"), default="test")
    p.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    from ..train import evaluate

    try:
        summary = evaluate(args.run, args.split)  # the model file checked in full first
    except (ValueError, OSError) as e:
        return fail("evaluate", str(e))
    print(f"{args.split} split of {args.run}", end="")
    print_summary(summary, split=args.split)
    return 0
