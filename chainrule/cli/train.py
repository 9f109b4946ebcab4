"""``chainrule train``: train a linear classifier, an MLP or a ConvNet and write a run folder."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ._common import discard_if_empty, fail, print_summary

EXAMPLES = """examples:
  chainrule train                                   an MLP on the embedded 8x8 digits (~98%),
                                                    into runs/digits-mlp-YYYYmmdd-HHMMSS
  chainrule train --out runs/digits-mlp             the same, into a folder of your choice
  chainrule train --model linear                    the softmax classifier on digits (~96%)
  chainrule train --model linear --loss svm         the multiclass SVM
  chainrule train --dataset spiral --hidden 100     the lecture's case for non-linearity
  chainrule train --model convnet                   a LeNet-style ConvNet on digits (~99%)
  chainrule train --model linear --features hog+color   the softmax classifier on HOG and
                                                    colour-histogram features
  chainrule train --model convnet --dataset cifar10 --channels 32,64 --augment
  chainrule train --dataset mnist --download --epochs 10
  chainrule train --dataset cifar10 --data-dir ~/data --hidden 100 --reg 1e-3
  chainrule train --config run.toml --lr 0.01       options from a file, overridden here
  chainrule train --resume runs/digits-mlp          continue a stopped run exactly
  mpiexec -n 2 chainrule train --distributed mpi --out runs/dp
                                                    data-parallel on 2 MPI ranks (the same
                                                    weights as one process, up to rounding)

Every run writes a folder (--out): config.json, metrics.csv, model.safetensors,
checkpoint.safetensors, summary.json and figures (curves.png, confusion.png, and
templates.png for linear models, first_layer.png for MLPs on images, filters.png and
feature_maps.png for ConvNets, boundary.png for 2-D data sets). --out takes a new or empty
folder, or a run folder (--overwrite replaces the run, deleting only the files chainrule
wrote); one run at a time writes a folder.
"""


def _hidden(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected widths such as 100 or 100,100; got {text!r}"
        ) from None
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"expected positive widths such as 100,100; got {text!r}")
    return sizes


def _channels(text: str) -> list[int]:
    try:
        counts = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected channel counts such as 16 or 16,32; got {text!r}"
        ) from None
    if not counts or any(c <= 0 for c in counts):
        raise argparse.ArgumentTypeError(f"expected positive counts such as 16,32; got {text!r}")
    return counts


def _threads(text: str) -> int | str:
    if text == "auto":
        return text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of threads or auto; got {text!r}"
        )
    return int(text)


def _dataset_name(text: str) -> str:
    return text.replace("_", "-")  # fashion_mnist, as Python spells it, is fashion-mnist


def add_options(p: argparse.ArgumentParser) -> None:
    """The training options, shared by ``train`` and ``sweep``."""
    from ..train.config import (
        ACTIVATIONS,
        DATASETS,
        FEATURES,
        LOSSES,
        MODELS,
        OPTIMIZERS,
        POOLS,
        SCHEDULES,
    )

    g = p.add_argument_group("data")
    g.add_argument(
        "--dataset",
        type=_dataset_name,
        choices=DATASETS,
        help="default: digits (fashion_mnist is accepted for fashion-mnist)",
    )
    g.add_argument(
        "--data-dir",
        dest="data_dir",
        metavar="DIR",
        help="where the data files are (default: $CHAINRULE_DATA or ~/.cache/chainrule)",
    )
    g.add_argument("--download", action="store_true", help="fetch missing data files")
    g.add_argument(
        "--val-fraction",
        dest="val_fraction",
        type=float,
        metavar="F",
        help="share of the training split held out for validation (default 0.1)",
    )
    g = p.add_argument_group("model")
    g.add_argument(
        "--model", choices=MODELS, help="linear classifier, MLP or ConvNet (default: mlp)"
    )
    g.add_argument(
        "--loss",
        choices=LOSSES,
        help="softmax (cross-entropy) or svm (multiclass hinge) (default: softmax)",
    )
    g.add_argument(
        "--hidden",
        type=_hidden,
        metavar="W[,W...]",
        help="hidden layer widths of the MLP, e.g. 100 or 100,100 (default: 100)",
    )
    g.add_argument("--activation", choices=ACTIVATIONS, help="default: relu")
    g.add_argument(
        "--channels",
        type=_channels,
        metavar="C[,C...]",
        help="the ConvNet's convolutions: output channels of each, e.g. 16,32 (the default)",
    )
    g.add_argument(
        "--kernel-size",
        dest="kernel_size",
        type=int,
        metavar="K",
        help="the ConvNet's filter size (default: 3 on the 8x8 digits, 5 elsewhere)",
    )
    g.add_argument(
        "--pool", choices=POOLS, help="the ConvNet's pooling after each convolution (default: max)"
    )
    g.add_argument(
        "--features",
        choices=FEATURES,
        help="what the linear, SVM and MLP models read: the pixels (default) or hand-crafted "
        "features, HOG (scikit-image) and/or colour histograms, computed once and cached",
    )
    g.add_argument(
        "--augment",
        action="store_true",
        help="ConvNet training batches randomly shifted (and flipped, on CIFAR-10)",
    )
    g = p.add_argument_group("optimization")
    g.add_argument("--optimizer", choices=OPTIMIZERS, help="default: adam")
    g.add_argument("--lr", type=float, help="learning rate (default: the optimizer's own)")
    g.add_argument(
        "--reg",
        type=float,
        metavar="LAMBDA",
        help="L2 regularization strength lambda: loss + lambda * sum(W^2) (default 0)",
    )
    g.add_argument(
        "--weight-decay",
        dest="weight_decay",
        type=float,
        metavar="WD",
        help="the optimizer's weight decay; 2 * lambda equals --reg lambda (default 0)",
    )
    g.add_argument("--momentum", type=float, help="for --optimizer momentum/nesterov (default 0.9)")
    g.add_argument("--epochs", type=int, help="default: 30")
    g.add_argument("--batch-size", dest="batch_size", type=int, help="default: 32")
    g.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (default: none)")
    g.add_argument("--warmup", type=int, metavar="EPOCHS", help="linear warm-up epochs (default 0)")
    g.add_argument(
        "--early-stopping",
        dest="early_stopping",
        type=int,
        metavar="PATIENCE",
        help="stop after this many epochs without a better validation accuracy",
    )
    g.add_argument(
        "--clip-grad",
        dest="clip_grad",
        type=float,
        metavar="NORM",
        help="clip the gradient norm to this value",
    )
    g.add_argument("--seed", type=int, help="random seed: the same seed repeats a run exactly")
    g.add_argument(
        "--device",
        metavar="DEVICE",
        help="where to train: auto (the GPU when CuPy finds one, else the CPU; the default), "
        "cpu, cuda or cuda:N (see docs/gpu.md)",
    )
    p.add_argument("--config", metavar="FILE", help="options from a TOML or JSON file")
    p.add_argument("--quiet", action="store_true", help="print only the final summary")


def register(sub: argparse._SubParsersAction) -> None:
    from ..threads import CROSSOVER_MACS

    p = sub.add_parser(
        "train",
        help="train a classifier and write a run folder",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    add_options(p)
    p.add_argument("--out", metavar="DIR", help="run folder (default: runs/DATASET-MODEL-TIME)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder")
    p.add_argument(
        "--no-compile",
        dest="compile",
        action="store_false",
        help="run the training step eagerly rather than recorded and replayed by cr.compile "
        "(the same numbers either way; see docs/compile.md)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run in --out (deletes only the files a run writes there)",
    )
    p.add_argument(
        "--threads",
        type=_threads,
        metavar="N|auto",
        help="BLAS threads for the matrix products: auto (the default) uses one for a model "
        f"whose largest product is below {CROSSOVER_MACS / 1e6:,.0f}M multiply-adds, "
        "where a second thread "
        "stalls on a busy machine, and all of them above; N fixes the count "
        "(see chainrule.threads)",
    )
    g = p.add_argument_group("distributed (mpiexec -n N chainrule train --distributed mpi ...)")
    g.add_argument(
        "--distributed",
        choices=("mpi",),
        help="data-parallel over the MPI ranks: each takes its shard of every batch, the "
        "gradients are averaged, rank 0 writes the run folder",
    )
    g.add_argument(
        "--dist-timeout",
        dest="dist_timeout",
        type=float,
        metavar="SECONDS",
        help="a rank that waits this long in one collective stops every rank (default 300)",
    )
    p.set_defaults(run_command=run)


def resolve_config(args: argparse.Namespace) -> Any:
    """A validated TrainConfig from --config FILE and the options given on the command line."""
    from ..train import TrainConfig

    values: dict[str, Any] = {}
    if getattr(args, "config", None):
        values.update(TrainConfig.from_file(args.config))
    skip = {"run_command", "command", "config", "quiet", "resume", "overwrite", "out", "compile"}
    skip |= {"distributed", "dist_timeout", "threads"}
    values.update({k: v for k, v in vars(args).items() if k not in skip})
    return TrainConfig.from_dict(values, "options").validate()


def run(args: argparse.Namespace) -> int:
    if getattr(args, "dist_timeout", None) is not None and not getattr(args, "distributed", None):
        return fail("train", "--dist-timeout is for --distributed mpi runs; drop it")
    if getattr(args, "distributed", None) == "mpi":
        return _run_mpi(args)
    return _run(args)


def _run_mpi(args: argparse.Namespace) -> int:
    """One rank of ``mpiexec -n N chainrule train --distributed mpi``: rank 0 prints and writes
    the run folder, the other ranks train in step and stay quiet (but for their own errors)."""
    from ..distributed import Comm
    from ..distributed.comm import DEFAULT_TIMEOUT

    try:
        comm = Comm(getattr(args, "dist_timeout", None) or DEFAULT_TIMEOUT)
    except (ImportError, ValueError) as e:
        return fail("train", str(e))
    from ..distributed.fit import cancel_start

    if comm.rank != 0:
        args.quiet = True
    checked: dict[str, bool] = {}  # "all": every rank passed the checks that all ranks make
    try:
        code = _run(args, comm, checked)
    except BaseException:
        if not comm.must_abort:
            raise
        traceback.print_exc()  # before the abort, which ends this process too
        code = 1
    finally:
        if checked.get("all"):  # rank 0 failed alone before the start: the others wait for it
            cancel_start(comm, "rank 0 stopped before the training began (its error above)")
    if comm.must_abort:  # this rank failed alone: the others wait in a collective
        sys.stderr.flush()
        comm.abort(code or 1)
    return code


def _run(args: argparse.Namespace, comm: Any = None, checked: dict | None = None) -> int:
    from .. import threads as blas
    from ..train import RunFolder, TrainingInterrupted, fit
    from ..train.run import new_folder

    checked = {} if checked is None else checked
    quiet = getattr(args, "quiet", False)
    lead = comm is None or comm.rank == 0  # the process that writes the run folder and prints
    made = None  # the default folder, made here: removed again if no run starts in it
    try:
        resume = getattr(args, "resume", None)
        if resume:
            if getattr(args, "out", None) and Path(args.out) != Path(resume):
                return fail("train", "--resume continues the run in its own folder; drop --out")
            allowed = {"run_command", "command", "resume", "quiet", "epochs", "out", "compile"}
            allowed |= {"distributed", "dist_timeout", "threads"}
            ignored = sorted(k for k in vars(args) if k not in allowed)
            if ignored:
                names = ", ".join("--" + k.replace("_", "-") for k in ignored)
                return fail(
                    "train",
                    f"--resume continues a run with the options it started with; only --epochs "
                    f"can change (to train longer). Drop {names}",
                )
            config = resolve_config(args) if hasattr(args, "epochs") else None
            out = Path(resume)
            checked["all"] = True  # what follows, rank 0 alone checks
            if lead:
                RunFolder(out).require()
        else:
            config = resolve_config(args)
            checked["all"] = True  # what follows, rank 0 alone checks
            if getattr(args, "out", None):
                out = Path(args.out)
            elif lead:  # a new folder, never another run's, even one started in the same second
                out = made = new_folder(_default_out(config))
            else:
                out = None  # the other ranks write nothing
        if not quiet:
            what = f"resuming {out}" if resume else f"training {config.model} on {config.dataset}"
            ranks = f" on {comm.size} MPI rank{'s' * (comm.size != 1)}" if comm else ""
            print(f"chainrule train: {what}{ranks} -> {out}", flush=True)
        options = {
            "resume": bool(resume),
            "overwrite": getattr(args, "overwrite", False),
            "progress": not quiet and sys.stderr.isatty(),
            "report": None if quiet else _print_epoch,
        }
        threads = getattr(args, "threads", "auto")
        before = blas.get_num_threads()  # restored after the run: cli.main may be called in-process
        try:
            if threads != "auto":
                blas.set_num_threads(threads)  # before any work: without threadpoolctl, an error
            elif comm is None:  # a distributed run's ranks keep their BLAS as mpiexec starts it
                options["setup"] = _fit_threads(quiet)
            if comm is None:
                summary = fit(config, out, compile=getattr(args, "compile", True), **options)
            else:
                from ..distributed import fit_distributed

                summary = fit_distributed(
                    config, out, comm, compile=getattr(args, "compile", True), **options
                )
        finally:
            with contextlib.suppress(ImportError):  # without threadpoolctl nothing was changed
                blas.set_num_threads(before)
    except TrainingInterrupted as e:
        discard_if_empty(made)
        print(f"chainrule train: {_rank(comm)}{e}", file=sys.stderr)
        return 143 if e.signal_name == "SIGTERM" else 130
    except (ValueError, FileExistsError, FloatingPointError, ImportError, RuntimeError) as e:
        discard_if_empty(made)
        if not (lead or comm.must_abort):
            # rank 0 reports what every rank met, and exits 2 as fail() does: mpiexec's status
            # combines the ranks' (MPICH's is their bitwise or)
            return 2
        if isinstance(e, RuntimeError) and comm is None:
            raise
        return fail("train", _rank(comm) + str(e))
    except OSError as e:  # FileNotFoundError, a folder that cannot be made or written, a full disk
        discard_if_empty(made)
        return fail("train", _rank(comm) + (str(e) if str(e).startswith("--out") else _os_error(e)))
    if lead:
        print_summary(summary, out)
    return 0


def _fit_threads(quiet: bool) -> Any:
    """``fit``'s setup for ``--threads auto``: the BLAS threads that fit the built model's
    largest matrix product on one batch (``chainrule.threads.num_threads_for``); left as they
    are without threadpoolctl."""
    from .. import threads

    def setup(t: Any) -> None:
        shape = (t.config.batch_size, *t.train_loader.dataset[0][0].shape)
        try:
            n = threads.num_threads_for(t.model, shape)
            threads.set_num_threads(n)
        except ImportError:
            return  # an optional speed-up: BLAS keeps its own count
        if not quiet:
            macs = threads.largest_product(t.model, shape)
            side = "below" if macs < threads.CROSSOVER_MACS else "at least"
            print(
                f"BLAS threads: {n} (auto: the largest matrix product, {macs / 1e6:.1f}M "
                f"multiply-adds, is {side} {threads.CROSSOVER_MACS / 1e6:,.0f}M)",
                flush=True,
            )

    return setup


def _rank(comm: Any) -> str:
    """``rank K of N: `` before a message of a distributed run's rank."""
    return f"rank {comm.rank} of {comm.size}: " if comm is not None and comm.size > 1 else ""


def _os_error(e: OSError) -> str:
    """An OSError in one line: what failed, on which file."""
    if e.filename and e.strerror:
        return f"{e.strerror}: {e.filename!s}"
    return str(e)


def _default_out(config: Any) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.dataset}-{config.model}-{stamp}"


def _print_epoch(row: dict[str, Any]) -> None:
    print(
        f"epoch {row['epoch']:3d}  train loss {row['train_loss']:.4f} acc {row['train_acc']:6.2%}"
        f"  val loss {row['val_loss']:.4f} acc {row['val_acc']:6.2%}  lr {row['lr']:.2g}"
        f"  {row['seconds']:.2f}s",
        flush=True,
    )
