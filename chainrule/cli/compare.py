"""``chainrule compare``: hand-crafted features against end-to-end learning, on one data set.

Trains, with one shared seed and budget, the softmax classifier on the pixels, the softmax
classifier on HOG and colour-histogram features, the MLP on the pixels, and the ConvNet; then
writes a table (test accuracy, parameters, training time) and a bar chart into its folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ._common import fail

EXAMPLES = """examples:
  chainrule compare                                 the four models on the embedded digits
  chainrule compare --dataset mnist --download --epochs 5
  chainrule compare --dataset cifar10 --data-dir ~/data --epochs 10 --batch-size 64

The folder (--out, default runs/compare-DATASET-TIME) holds one run folder per model
(linear-pixels, linear-hog+color, mlp-pixels, convnet) and comparison.md, comparison.json and
comparison.png. Features are computed once per data set and cached in its data folder.
"""

_IMAGE_DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="hand-crafted features vs a ConvNet, trained alike",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--dataset",
        type=lambda s: s.replace("_", "-"),
        choices=_IMAGE_DATASETS,
        default="digits",
        help="default: digits",
    )
    p.add_argument("--data-dir", dest="data_dir", metavar="DIR", help="where the data files are")
    p.add_argument("--download", action="store_true", help="fetch missing data files")
    p.add_argument("--epochs", type=int, help="epochs of every model (default: 30)")
    p.add_argument("--batch-size", dest="batch_size", type=int, help="default: 32")
    p.add_argument("--seed", type=int, default=0, help="the seed every model shares (default 0)")
    p.add_argument("--out", metavar="DIR", help="default: runs/compare-DATASET-TIME")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the model runs already in --out"
    )
    p.add_argument("--quiet", action="store_true", help="print only the table")
    p.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    from ..train.compare import compare, table

    out = (
        Path(args.out)
        if args.out
        else Path("runs") / (f"compare-{args.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
    )
    options = {"seed": args.seed, "download": args.download}
    for key in ("data_dir", "epochs", "batch_size"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)

    def report(row: dict) -> None:
        if not args.quiet:
            print(
                f"{row['name']:34s} test {row['test_accuracy']:7.2%}  {row['parameters']:>9,} "
                f"parameters  {row['training_seconds']:7.1f} s training",
                flush=True,
            )

    if not args.quiet:
        print(f"chainrule compare: {args.dataset} -> {out}", flush=True)
    try:
        rows = compare(args.dataset, out, options, overwrite=args.overwrite, report=report)
    except (ValueError, FileExistsError, FloatingPointError, ImportError, OSError) as e:
        return fail("compare", str(e))
    print()
    print(table(rows))
    print(f"\ncomparison folder: {out}", file=sys.stdout)
    return 0
