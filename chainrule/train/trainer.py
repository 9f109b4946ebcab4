"""Training runs: data in, a trained model and a run folder out.

``fit(config, out)`` is the loop users expect: epochs of shuffled mini-batches, the data loss plus
lambda R(W), an optimizer step, training and validation loss and accuracy per epoch, an optional
learning-rate schedule and early stopping, the best model kept by validation accuracy, and a
checkpoint after every epoch from which ``resume=True`` continues exactly as if never stopped
(model, optimizer, schedule, data order and random state are all in it). At the end the best
model is evaluated once on the test split.

``fit`` owns the run folder, the lock and the stops (Ctrl-C, SIGTERM); the work is done by the
pieces it calls, each in its own module, and each the one place where later work plugs in:

- ``models.py``: the model families (``register_model``: a new ``--model``, e.g. a ConvNet),
  their spec and preprocessing;
- ``batches.py``: the data set's splits and the loaders that make them Tensors, once;
- ``device.py``: ``to_device``, the placement of the model and of every batch (``--device``);
- ``step.py``: ``TrainStep``, forward + loss + backward + update on one batch (a compiled step),
  and its ``grad_hooks`` between backward and the update (gradient allreduce);
- ``training.py``: ``build_training``, every object of a run, and its checkpoint state;
- ``loop.py``: the epochs (train, validate, keep the best, save);
- ``evaluation.py``: the test summary and the figures at the end (``finish``), ``evaluate``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..random import manual_seed
from ..serialization import _safetensors, save
from .batches import load_data
from .config import TrainConfig
from .evaluation import finish
from .loop import run_epochs
from .run import RunFolder, versions
from .stops import Stage, TrainingInterrupted, stop_on_sigterm
from .training import Training, build_training, restore


def fit(
    config: TrainConfig | None,
    out: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    report: Callable[[dict[str, Any]], None] | None = None,
    figures: bool = True,
    setup: Callable[[Training], None] | None = None,
    compile: bool = True,
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
        setup: called with the run's objects once they are built (and restored, with
            ``resume``), before the first epoch. Where data parallelism plugs in
            (``chainrule.distributed``: the other ranks join here).
        compile: run the training step through ``cr.compile`` (recorded, then replayed on
            arrays: faster for small models, the same numbers); False runs it eagerly.

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
                config = _resumed_config(run, config)
            config.validate()
            manual_seed(config.seed)
            splits = load_data(config)  # before touching the folder: a data error leaves nothing
            if not resume:
                made = run.create(overwrite)
            t = build_training(config, splits, compile)
            _start(t, run, splits, resume, stage)
            if setup is not None:
                setup(t)
            run_epochs(t, run, stage, progress, report)
            stage.name = "finishing"
            return finish(run, figures=figures, splits=splits)
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


def _resumed_config(run: RunFolder, config: TrainConfig | None) -> TrainConfig:
    """The options of the run in ``run``, locked for this process; a ``config`` with more
    epochs extends the run, and config.json records the new limit."""
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
    return saved


def _start(t: Training, run: RunFolder, splits: Any, resume: bool, stage: Stage) -> None:
    """Before the first epoch: a new run writes config.json; a resumed one restores its
    checkpoint (if it saved one) and rewrites the files that repeat it."""
    if resume and run.checkpoint.is_file():
        restore(t, run.checkpoint, run.path)
        stage.epoch = t.state["epoch"]
        # the files that repeat the checkpoint agree with it, whatever came after it (and whatever
        # a crash of the machine lost: see the crash safety of run.py)
        run.write_metrics(t.state["history"])
        if t.state["best_epoch"] == t.state["epoch"]:
            save(t.model.state_dict(), run.model, metadata=t.model_meta, durable=False)
    elif not resume:
        run.write_json(run.config, _config_record(t, splits))


def _config_record(t: Training, splits: Any) -> dict[str, Any]:
    """config.json: the options, what they resolved to, the data's classes and sizes, and the
    versions of chainrule, NumPy and Python."""
    config, spec = t.config, t.spec
    return {
        "options": config.to_dict(),
        "resolved": {"lr": config.resolved_lr, **{k: spec[k] for k in spec if k != "classes"}},
        "data": {"classes": list(splits.classes), **t.sizes},
        "versions": versions(),
    }
