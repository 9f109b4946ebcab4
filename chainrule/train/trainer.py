"""Training runs: data in, a trained model and a run folder out.

``fit(config, out)`` is the loop users expect: epochs of shuffled mini-batches, the data loss plus
lambda R(W), an optimizer step, training and validation loss and accuracy per epoch, an optional
learning-rate schedule and early stopping, the best model kept by validation accuracy, and a
checkpoint after every epoch from which ``resume=True`` continues exactly as if never stopped
(model, optimizer, schedule, data order and random state are all in it). At the end the best
model is evaluated once on the test split.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, optim
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..data.transforms import Standardize, flatten
from ..nn import functional as F
from ..random import get_rng_state, manual_seed, set_rng_state
from ..serialization import _safetensors, save, sync_file
from .checkpoint import load_checkpoint, save_checkpoint
from .config import FILE_DATASETS, TrainConfig
from .metrics import accuracy, best_row, confusion_counts, per_class_accuracy
from .model_file import read_run_model
from .run import RunFolder, versions
from .stops import (
    Stage,
    TrainingInterrupted,
    check_finite,
    check_loss,
    interrupts_held,
    stop_on_sigterm,
)

log = logging.getLogger(__name__)


# ----- preprocessing and models, stored with the weights so a run can be reloaded -----
class Preprocess:
    """Flatten each sample, then standardize it with the training split's statistics.

    The two steps of ``cr.data.transforms`` (``flatten``, ``Standardize``), kept together so that
    a run can store them next to its weights and apply them again in evaluate and predict.
    """

    def __init__(self, standardize: Standardize) -> None:
        self.standardize = standardize

    @classmethod
    def fit(cls, x_train: np.ndarray) -> Preprocess:
        return cls(Standardize().fit(flatten(x_train)))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.standardize(flatten(np.asarray(x, dtype=np.float32)))

    def to_json(self) -> dict:
        return {k: v.tolist() for k, v in self.standardize.state_dict().items()}

    @classmethod
    def from_json(cls, d: dict) -> Preprocess:
        standardize = Standardize()
        standardize.load_state_dict({k: np.asarray(d[k]) for k in ("mean", "std")})
        return cls(standardize)


def build_model(spec: dict[str, Any]) -> nn.Module:
    """The model a spec describes: {"model": "linear"|"mlp", "in_features", "hidden",
    "num_classes", "activation"}."""
    if spec["model"] == "linear":
        return nn.Linear(spec["in_features"], spec["num_classes"])
    return nn.MLP(spec["in_features"], spec["hidden"], spec["num_classes"], spec["activation"])


def load_model(run: str | Path) -> tuple[nn.Module, Preprocess, dict[str, Any]]:
    """The best model of a run folder, its preprocessing and its spec (with class names).

    The model file is checked in full first (``model_file.read_run_model``): a damaged or
    foreign file is a ``ValueError`` that names it, never a model with garbage weights.
    """
    checked = read_run_model(run)
    model = build_model(checked.spec)
    model.load_state_dict(checked.state)
    model.eval()
    return model, Preprocess.from_json(checked.preprocess), checked.spec


def predict_scores(model: nn.Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class scores for preprocessed samples, in batches, without recording a graph."""
    out = []
    with no_grad():
        for i in range(0, len(x), batch_size):
            out.append(model(Tensor._make(x[i : i + batch_size])).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


# ----- the pieces a config chooses -----
def make_optimizer(config: TrainConfig, model: nn.Module) -> optim.Optimizer:
    lr, wd, params = config.resolved_lr, config.weight_decay, model.parameters()
    name = config.optimizer
    if name in ("sgd", "momentum", "nesterov"):
        momentum = 0.0 if name == "sgd" else config.momentum
        return optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=name == "nesterov", weight_decay=wd
        )
    cls = {"adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop}[name]
    return cls(params, lr=lr, weight_decay=wd)


def make_scheduler(config: TrainConfig, opt: optim.Optimizer) -> Any:
    lrs = optim.lr_scheduler
    main: Any = None
    if config.schedule == "step":
        main = lrs.StepLR(opt, step_size=max(1, config.epochs // 3), gamma=0.1)
    elif config.schedule == "cosine":
        main = lrs.CosineAnnealingLR(opt, T_max=max(1, config.epochs - config.warmup))
    elif config.schedule == "plateau":  # validate() refuses a warm-up with it
        return lrs.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=3)
    if not config.warmup:
        return main
    warm = lrs.LinearLR(opt, start_factor=0.1, total_iters=config.warmup)
    if main is None:
        return warm
    return lrs.SequentialLR(opt, [warm, main], milestones=[config.warmup])


def load_data(config: TrainConfig) -> Any:
    """The data set's splits, as ``cr.data.datasets`` gives them for these options."""
    from ..data import datasets

    kwargs: dict[str, Any] = {"val_fraction": config.val_fraction, "seed": config.seed}
    if config.dataset in FILE_DATASETS:  # digits is embedded, the 2-D sets are generated
        kwargs.update(root=config.data_dir, download=config.download)
    return datasets.load(config.dataset, **kwargs)


# ----- the loop -----
def fit(
    config: TrainConfig | None,
    out: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    report: Callable[[dict[str, Any]], None] | None = None,
    figures: bool = True,
) -> dict[str, Any]:
    """Train a model as ``config`` says, writing the run folder ``out``.

    Args:
        config: the options (validated here, before any work); with ``resume``, None or a config
            whose ``epochs`` extends the run.
        out: the run folder: made (or an empty one used), or a run replaced with ``overwrite``
            (only the files chainrule wrote are deleted), or continued with ``resume``. It is
            locked while training: a second process writing it is refused.
        resume: continue the run in ``out`` from its last checkpoint; ``config.epochs`` may be
            raised to train longer, the other options are the run's own. A run that stopped
            early stays stopped.
        progress: show a progress bar per epoch (tqdm, when installed).
        report: called with each epoch's metrics row.
        figures: draw the figures at the end (needs matplotlib).

    Returns:
        The summary written to summary.json (test accuracy, per-class accuracy, confusion).

    Raises:
        TrainingInterrupted: after Ctrl-C or SIGTERM, once what was done is saved.
        FloatingPointError: training diverged: the loss or a weight became NaN or inf, or the
            loss grew over ``stops.DIVERGED`` times its first value.
        FileExistsError: ``out`` holds a run (and neither ``resume`` nor ``overwrite``) or
            files that chainrule did not write; ``RunFolderBusy`` (a FileExistsError) when another
            process is writing it.

    Example:
        >>> summary = fit(TrainConfig(epochs=5), "runs/digits")
        >>> summary["test_accuracy"] > 0.9
        True
    """
    _safetensors()  # the weights are saved as safetensors: fail before any work if it is missing
    run = RunFolder(out)
    stage = Stage("resuming" if resume else "setup")
    made = None  # after run.create(): whether it made the folder; any config.json is then ours
    with stop_on_sigterm():
        try:
            if resume:
                run.require()  # read only: a folder that is no run is left as it is
                run.lock()
                run.require()  # again, under the lock
                run.remove_stale_temporaries()
                recorded = run.read_json(run.config)
                saved = TrainConfig.from_dict(recorded["options"], str(run.config))
                if config is not None and config.epochs > saved.epochs:  # extend, and record it
                    saved.epochs = config.epochs
                    recorded["options"]["epochs"] = config.epochs
                    run.write_json(run.config, recorded)
                config = saved
            config.validate()
            manual_seed(config.seed)
            splits = load_data(config)  # before touching the folder: a data error leaves nothing
            if not resume:
                made = run.create(overwrite)
            return _fit(config, run, splits, resume, progress, report, figures, stage)
        except KeyboardInterrupt as e:
            name = "SIGTERM" if str(e) == "SIGTERM" else "interrupted (Ctrl-C)"
            resumable = resume or (made is not None and run.is_run())
            if made and not resumable:  # stopped before its first file: leave no folder
                run.remove_if_empty()
            raise TrainingInterrupted(run.path, stage.epoch, name, stage.name, resumable) from None
        except BaseException:
            if made and not run.is_run():
                run.remove_if_empty()
            raise
        finally:
            run.unlock()


def _fit(
    config: TrainConfig,
    run: RunFolder,
    splits: Any,
    resume: bool,
    progress: bool,
    report: Callable[[dict[str, Any]], None] | None,
    figures: bool,
    stage: Stage,
) -> dict[str, Any]:
    """fit()'s work, once the folder is ready and locked."""
    prep = Preprocess.fit(splits.x_train)
    x_train, x_val, x_test = prep(splits.x_train), prep(splits.x_val), prep(splits.x_test)
    spec = {
        "model": config.model,
        "in_features": int(x_train.shape[1]),
        "hidden": list(config.hidden),
        "num_classes": len(splits.classes),
        "activation": config.activation,
        "classes": list(splits.classes),
        "image_shape": list(splits.image_shape) if splits.image_shape else None,
        "dataset": config.dataset,
    }
    model = build_model(spec)
    opt = make_optimizer(config, model)
    sched = make_scheduler(config, opt)
    from ..data import DataLoader, TensorDataset

    loader = DataLoader(
        TensorDataset(x_train, splits.y_train),
        batch_size=config.batch_size,
        shuffle=True,
        seed=config.seed,
    )
    # one metadata entry: safetensors stores several in no fixed order, and a run's files should
    # repeat byte for byte
    model_meta = {"chainrule.model": json.dumps({"spec": spec, "preprocess": prep.to_json()})}
    state: dict[str, Any] = {
        "epoch": 0,
        "history": [],
        "best": None,
        "best_epoch": 0,
        "bad_epochs": 0,
        "first_loss": None,  # the loss of the first batch: divergence is measured against it
    }
    if resume and run.checkpoint.is_file():
        model_state, opt_state, extra = load_checkpoint(run.checkpoint)
        try:
            model.load_state_dict(model_state)
            opt.load_state_dict(opt_state)
            if sched is not None:
                sched.load_state_dict(extra["scheduler"])
            loader.load_state_dict(extra["loader"])
            set_rng_state(extra["rng"])
            state.update(extra["state"])
        except (RuntimeError, KeyError, TypeError, ValueError) as e:
            # a checkpoint from before the digest, changed by hand: it does not fit this run
            why = " ".join(str(e).split())  # load_state_dict's message has several lines
            raise ValueError(
                f"{str(run.checkpoint)!r} does not fit the run in {str(run.path)!r} ({why}); "
                "start the run again with --overwrite"
            ) from None
        stage.epoch = state["epoch"]
        # the files that repeat the checkpoint agree with it, whatever came after it (and whatever
        # a crash of the machine lost: see the crash safety of run.py)
        run.write_metrics(state["history"])
        if state["best_epoch"] == state["epoch"]:
            save(model.state_dict(), run.model, metadata=model_meta, durable=False)
    elif not resume:
        run.write_json(
            run.config,
            {
                "options": config.to_dict(),
                "resolved": {
                    "lr": config.resolved_lr,
                    **{k: spec[k] for k in spec if k != "classes"},
                },
                "data": {
                    "classes": list(splits.classes),
                    "train": len(x_train),
                    "val": len(x_val),
                    "test": len(x_test),
                },
                "versions": versions(),
            },
        )
    loss_fn = F.cross_entropy if config.loss == "softmax" else F.multi_margin_loss
    y_val = splits.y_val
    stage.name = "training"
    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        # checked before each epoch, so that a resumed run that had stopped stays stopped
        if config.early_stopping and state["bad_epochs"] >= config.early_stopping:
            log.info("early stopping after epoch %d", epoch - 1)
            break
        start = time.perf_counter()
        train_loss, train_acc = _train_epoch(
            model, opt, loader, loss_fn, config, epoch, progress, state
        )
        val_scores = predict_scores(model, x_val)
        with no_grad():
            val_loss = loss_fn(Tensor._make(val_scores), Tensor._make(y_val)).item()
        check_finite(model, val_loss, epoch, opt)
        val_acc = accuracy(y_val, val_scores.argmax(1))
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": opt.param_groups[0]["lr"],
            "seconds": round(time.perf_counter() - start, 4),
        }
        with interrupts_held():  # the epoch's files are saved together, or not at all
            state["history"].append(row)
            # the best epoch: highest validation accuracy, ties broken by the lower loss (a
            # small validation set ties often, and the first tie is often under-trained)
            better_acc = state["best"] is None or val_acc > state["best"][0]
            if state["best"] is None or [val_acc, -val_loss] > state["best"]:
                state.update(best=[val_acc, -val_loss], best_epoch=epoch)
                # not flushed: the checkpoint below holds these weights (crash safety, run.py)
                save(model.state_dict(), run.model, metadata=model_meta, durable=False)
            elif state["best_epoch"] == epoch - 1:
                sync_file(run.model)  # the checkpoint below will no longer hold these weights
            # early stopping counts epochs without a better validation accuracy
            state["bad_epochs"] = 0 if better_acc else state["bad_epochs"] + 1
            if isinstance(sched, optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(val_acc)
            elif sched is not None:
                sched.step()
            state["epoch"] = epoch
            extra = {
                "state": state,
                "scheduler": sched.state_dict() if sched is not None else None,
                "loader": loader.state_dict(),
                "rng": get_rng_state(),
            }
            save_checkpoint(run.checkpoint, model.state_dict(), opt.state_dict(), extra)
            run.write_metrics(state["history"])
            stage.epoch = epoch
        if report is not None:
            report(row)
    stage.name = "finishing"
    return finish(run, figures=figures, splits=splits)


def _train_epoch(
    model: nn.Module,
    opt: optim.Optimizer,
    loader: Any,
    loss_fn: Callable,
    config: TrainConfig,
    epoch: int,
    progress: bool,
    state: dict[str, Any],
) -> tuple[float, float]:
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    batches: Any = loader
    if progress:
        try:
            from tqdm import tqdm

            batches = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", leave=False, unit="batch")
        except ImportError:
            pass
    for b, (x, y) in enumerate(batches, start=1):
        scores = model(x)
        loss = loss_fn(scores, y)
        if config.reg:
            loss = loss + config.reg * nn.l2_penalty(model)
        value = loss.item()
        check_loss(value, state, epoch, b, opt)
        opt.zero_grad()
        loss.backward()
        if config.clip_grad:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
        opt.step()
        n = len(y)
        total_loss += value * n
        correct += int(np.count_nonzero(scores._data.argmax(1) == y._data))
        seen += n
    return total_loss / seen, correct / seen


def _splits_of(folder: RunFolder) -> Any:
    cfg = TrainConfig.from_dict(folder.read_json(folder.config)["options"], str(folder.config))
    return load_data(cfg.validate())


def _scores_summary(
    model: nn.Module,
    prep: Preprocess,
    spec: dict,
    x: np.ndarray,
    y: np.ndarray,
    split: str,
    history: list,
) -> tuple[dict[str, Any], np.ndarray]:
    pred = predict_scores(model, prep(x)).argmax(1)
    counts = confusion_counts(y, pred, len(spec["classes"]))
    best = best_row(history)
    summary = {
        f"{split}_accuracy": accuracy(y, pred),
        f"{split}_samples": int(len(pred)),
        "best_epoch": int(best.get("epoch") or 0),
        "best_val_accuracy": best.get("val_acc"),
        "epochs_run": len(history),
        "per_class_accuracy": dict(zip(spec["classes"], per_class_accuracy(counts).tolist())),
        "classes": spec["classes"],
        "confusion_matrix": counts.tolist(),
    }
    return summary, pred


def evaluate(run: str | Path, split: str = "test") -> dict[str, Any]:
    """Accuracy, per-class accuracy and confusion matrix of a run's best model on one split
    ("test", "val" or "train"); nothing is written."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train, val or test; got {split!r}")
    folder = RunFolder(run)
    model, prep, spec = load_model(folder.path)
    splits = _splits_of(folder)
    history = folder.read_metrics() if folder.metrics.is_file() else []
    x, y = getattr(splits, f"x_{split}"), getattr(splits, f"y_{split}")
    return _scores_summary(model, prep, spec, x, y, split, history)[0]


def finish(run: RunFolder, figures: bool = True, splits: Any = None) -> dict[str, Any]:
    """Evaluate a run's best model on the test split; draw the figures, then write summary.json.

    summary.json comes last: its presence means the run finished.
    """
    model, prep, spec = load_model(run.path)
    splits = splits if splits is not None else _splits_of(run)
    history = run.read_metrics()
    summary, pred = _scores_summary(
        model, prep, spec, splits.x_test, splits.y_test, "test", history
    )
    if figures:
        try:
            _draw_figures(run, model, prep, spec, splits, history, pred)
        except ImportError as e:
            log.warning("figures skipped: %s", e)
    run.sync()
    run.write_json(run.summary, summary)
    return summary


def _draw_figures(
    run: RunFolder,
    model: nn.Module,
    prep: Preprocess,
    spec: dict,
    splits: Any,
    history: list,
    pred: np.ndarray,
) -> None:
    from ..viz import plots

    plots.save_figure(plots.learning_curves(history), run.path / "curves.png")
    plots.save_figure(
        plots.confusion_matrix(splits.y_test, pred, spec["classes"]), run.path / "confusion.png"
    )
    if spec["model"] == "linear" and spec["image_shape"]:
        fig = plots.templates(
            model.weight.detach().numpy(), tuple(spec["image_shape"]), spec["classes"]
        )
        plots.save_figure(fig, run.path / "templates.png")
    if spec["image_shape"] is None and spec["in_features"] == 2:

        def scores(points: Tensor) -> Tensor:
            return model(Tensor._make(prep(points.numpy())))

        x = np.concatenate([splits.x_train, splits.x_val, splits.x_test])
        y = np.concatenate([splits.y_train, splits.y_val, splits.y_test])
        fig = plots.decision_boundary(scores, x, y, spec["classes"])
        plots.save_figure(fig, run.path / "boundary.png")
