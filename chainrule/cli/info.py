"""``chainrule info RUN``: what a run is: its options, data, progress and results."""

from __future__ import annotations

import argparse

from ._common import fail

EXAMPLES = """examples:
  chainrule info runs/digits-mlp-20250101-120000

RUN is the folder `chainrule train` wrote (runs/DATASET-MODEL-TIME, or its --out).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="describe a run folder",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN", help="a run folder written by `chainrule train`")
    p.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    from ..train import RunFolder
    from ..train.metrics import best_row

    folder = RunFolder(args.run)
    try:
        folder.require()
        config = folder.read_json(folder.config)
        history = folder.read_metrics() if folder.metrics.is_file() else []
        summary = folder.read_json(folder.summary) if folder.summary.is_file() else None
    except (ValueError, OSError) as e:
        return fail("info", str(e))
    opts, resolved, data = config["options"], config.get("resolved", {}), config.get("data", {})
    classes = len(data.get("classes", [])) or "?"
    if opts["model"] == "linear":
        model = "linear classifier"
    elif opts["model"] == "convnet":
        shape = "x".join(str(s) for s in resolved.get("image_shape") or ["?"])
        k = resolved.get("kernel_size", "?")
        model = (
            f"ConvNet {shape} -> conv {k}x{k} "
            + "-".join(str(c) for c in resolved.get("channels", opts.get("channels", [])))
            + f" ({resolved.get('pool', '?')} pool) -> {opts['hidden'][0]} -> {classes} "
            f"({opts['activation']})"
        )
    else:
        model = (
            f"MLP {resolved.get('in_features', '?')}-"
            + "-".join(str(h) for h in opts["hidden"])
            + f"-{classes} ({opts['activation']})"
        )
    print(f"run        {folder.path}")
    print(
        f"data       {opts['dataset']}: {data.get('train', '?')} train, {data.get('val', '?')} "
        f"validation, {data.get('test', '?')} test, {len(data.get('classes', []))} classes"
    )
    if opts.get("features", "pixels") != "pixels":
        model += f" on {opts['features']} features ({resolved.get('in_features', '?')})"
    print(f"model      {model}, {opts['loss']} loss")
    print(
        f"optimizer  {opts['optimizer']} lr {resolved.get('lr', opts['lr'])}, reg {opts['reg']}, "
        f"weight decay {opts['weight_decay']}, batch {opts['batch_size']}, seed {opts['seed']}"
    )
    print(f"epochs     {len(history)} of {opts['epochs']} done", end="")
    if history:
        best = best_row(history)
        last = history[-1]
        print(
            f"; last val acc {last['val_acc']:.2%}, best {best['val_acc']:.2%} "
            f"(epoch {int(best['epoch'])})"
        )
    else:
        print()
    if summary:
        print(f"test       accuracy {summary['test_accuracy']:.2%}")
    else:
        print("test       not evaluated yet (the run has not finished)")
    print(f"versions   {', '.join(f'{k} {v}' for k, v in config.get('versions', {}).items())}")
    return 0
