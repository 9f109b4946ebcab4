"""The options of a training run: one dataclass, checked before any work starts.

The same options come from the command line (``chainrule train --lr 0.01``), from a TOML or JSON
file (``--config run.toml``), or from Python (``TrainConfig(lr=0.01)``). Every resolved option is
written to the run folder's ``config.json``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.features import KINDS as FEATURES
from .convnet import POOLS
from .device import check_device, run_device
from .models import MODELS, Preprocess  # the registry of model families: --model names one

DATASETS = (
    "digits",
    "mnist",
    "fashion-mnist",
    "cifar10",
    "spiral",
    "circles",
    "xor",
    "gaussians",
    "moons",
)
POINT_DATASETS = ("spiral", "circles", "xor", "gaussians", "moons")
FILE_DATASETS = ("mnist", "fashion-mnist", "cifar10")
LOSSES = ("softmax", "svm")
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "elu", "maxout")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
SCHEDULES = ("none", "step", "cosine", "plateau")

#: Defaults per data set, used for the options not given (on the command line or in a file):
#: the 2-D sets are small, so they train for more epochs at a smaller learning rate.
PRESETS: dict[str, dict[str, Any]] = {name: {"epochs": 200, "lr": 0.01} for name in POINT_DATASETS}

#: The learning rate each optimizer starts from when --lr is not given.
DEFAULT_LR = {
    "sgd": 0.1,
    "momentum": 0.05,
    "nesterov": 0.05,
    "adam": 1e-3,
    "adamw": 1e-3,
    "rmsprop": 1e-3,
}


@dataclass
class TrainConfig:
    """Every option of ``chainrule train``; see ``chainrule train --help`` for each one's meaning.

    ``lr=None`` takes the optimizer's default (``DEFAULT_LR``); ``hidden`` is the width of each
    hidden layer of the MLP (ignored by the linear model; the ConvNet's one linear layer between
    its features and the classes). ``channels``, ``kernel_size`` (None: 3 on the 8x8 digits, 5
    elsewhere) and ``pool`` shape the ConvNet; ``augment`` adds random crops (and flips, on
    CIFAR-10) to its training batches. ``features`` (linear and MLP models) replaces the
    pixels by hand-crafted features: "hog", "color-hist" or "hog+color". ``from_dict`` (the
    command line and config files) also applies the data set's ``PRESETS`` to the options
    not given.
    """

    dataset: str = "digits"
    data_dir: str | None = None
    download: bool = False
    model: str = "mlp"
    loss: str = "softmax"
    hidden: list[int] = field(default_factory=lambda: [100])
    activation: str = "relu"
    channels: list[int] = field(default_factory=lambda: [16, 32])
    kernel_size: int | None = None
    pool: str = "max"
    augment: bool = False
    features: str = "pixels"
    optimizer: str = "adam"
    lr: float | None = None
    reg: float = 0.0
    weight_decay: float = 0.0
    momentum: float = 0.9
    epochs: int = 30
    batch_size: int = 32
    val_fraction: float = 0.1
    schedule: str = "none"
    warmup: int = 0
    early_stopping: int | None = None
    clip_grad: float | None = None
    seed: int = 0
    device: str = "auto"
    out: str | None = None

    def validate(self) -> TrainConfig:
        """Check every option; raise ValueError naming the option, the value and what is allowed.

        Returns self, with ``dataset`` normalised ("fashion_mnist" -> "fashion-mnist").
        """
        if isinstance(self.dataset, str):
            self.dataset = self.dataset.replace("_", "-")
        for name, allowed in (
            ("dataset", DATASETS),
            ("model", MODELS),
            ("loss", LOSSES),
            ("activation", ACTIVATIONS),
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
        ):
            value = getattr(self, name)
            if not isinstance(value, str) or value not in allowed:
                raise ValueError(f"--{name}: {_show(value)} is not one of {', '.join(allowed)}")
        for name in ("data_dir", "out"):
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                setattr(self, name, os.fspath(value))
            elif value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(
                    f"--{name.replace('_', '-')}: expected a folder name (a string); got "
                    f"{_show(value)}"
                )
        if not isinstance(self.download, bool):  # "no" or 0 would read as true
            raise ValueError(
                f"--download: expected true or false (a boolean, not a string or a number); "
                f"got {_show(self.download)}"
            )
        if isinstance(self.hidden, int):
            self.hidden = [self.hidden]
        if not self.hidden or any(
            not isinstance(h, int) or isinstance(h, bool) or h <= 0 for h in self.hidden
        ):
            raise ValueError(
                f"--hidden: expected positive layer widths such as 100,100; got "
                f"{_show(self.hidden)}"
            )
        if isinstance(self.channels, int):
            self.channels = [self.channels]
        if (
            not isinstance(self.channels, list)
            or not 1 <= len(self.channels) <= 4
            or any(not isinstance(c, int) or isinstance(c, bool) or c <= 0 for c in self.channels)
        ):
            raise ValueError(
                f"--channels: expected 1 to 4 positive channel counts such as 16,32; got "
                f"{_show(self.channels)}"
            )
        _integer("kernel_size", self.kernel_size, low=1, optional=True)
        if self.pool not in POOLS:
            raise ValueError(f"--pool: {_show(self.pool)} is not one of {', '.join(POOLS)}")
        if not isinstance(self.augment, bool):
            raise ValueError(f"--augment: expected true or false; got {_show(self.augment)}")
        if self.model == "convnet":
            if self.dataset in POINT_DATASETS:
                raise ValueError(
                    f"--model convnet: needs an image data set (digits, mnist, fashion-mnist, "
                    f"cifar10); {self.dataset} is a set of 2-D points (use --model mlp)"
                )
            if self.activation == "maxout":
                raise ValueError("--activation maxout: not for --model convnet; use relu")
        elif self.augment:
            raise ValueError(
                f"--augment: shifts and flips images for --model convnet; --model {self.model} "
                "reads them as flat vectors"
            )
        if self.features not in FEATURES:
            raise ValueError(
                f"--features: {_show(self.features)} is not one of {', '.join(FEATURES)}"
            )
        if self.features != "pixels":
            if not issubclass(MODELS[self.model].preprocess, Preprocess):
                raise ValueError(
                    f"--features {self.features}: hand-crafted features are for the linear, SVM "
                    f"and MLP models; --model {self.model} learns its own from the pixels"
                )
            if self.dataset in POINT_DATASETS:
                raise ValueError(
                    f"--features {self.features}: needs an image data set; {self.dataset} is a "
                    "set of 2-D points"
                )
        _number("lr", self.lr, low=0, strict=True, optional=True)
        _number("reg", self.reg, low=0)
        _number("weight_decay", self.weight_decay, low=0)
        _number("momentum", self.momentum, low=0, high=1, high_open=True)
        _integer("epochs", self.epochs, low=1)
        _integer("batch_size", self.batch_size, low=1)
        _number("val_fraction", self.val_fraction, low=0, high=1, high_open=True, strict=True)
        _integer("warmup", self.warmup, low=0)
        _integer("early_stopping", self.early_stopping, low=1, optional=True)
        _number("clip_grad", self.clip_grad, low=0, strict=True, optional=True)
        _integer("seed", self.seed, low=0)
        run_device(check_device(self.device))  # a device this machine lacks: an error now
        if self.warmup and self.schedule == "plateau":
            raise ValueError(
                "--warmup: a warm-up cannot be combined with --schedule plateau (which follows "
                "the validation accuracy); use --schedule cosine or step, or drop --warmup"
            )
        return self

    @property
    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> TrainConfig:
        """Options from a mapping (a parsed config file); unknown keys are an error."""
        values = {k.replace("-", "_"): v for k, v in values.items()}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"{source}: unknown option(s) {', '.join(unknown)}; known options are "
                f"{', '.join(sorted(known))}"
            )
        dataset = str(values.get("dataset", cls.dataset)).replace("_", "-")
        optimizer_given = "optimizer" in values
        for k, v in PRESETS.get(dataset, {}).items():
            if k == "lr" and optimizer_given:
                continue  # another optimizer: its own default rate
            values.setdefault(k, v)
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> dict[str, Any]:
        """Read the options of a TOML (.toml) or JSON (.json) file as a dict."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"--config: no such file {str(path)!r}")
        text = path.read_bytes()
        try:
            if path.suffix.lower() == ".toml":
                if sys.version_info >= (3, 11):
                    import tomllib
                else:  # pragma: no cover
                    import tomli as tomllib
                values = tomllib.loads(text.decode("utf-8"))
            elif path.suffix.lower() == ".json":
                values = json.loads(text.decode("utf-8"))
            else:
                raise ValueError(
                    f"expected a .toml or .json file; got {path.suffix or 'no suffix'!r}"
                )
        except (ValueError, UnicodeDecodeError) as e:
            raise ValueError(f"--config {str(path)!r}: {e}") from None
        except RecursionError:  # the parsers recurse once per level of [ or {
            raise ValueError(
                f"--config {str(path)!r}: expected a flat table of options; found lists or "
                "tables nested too deep to read"
            ) from None
        if not isinstance(values, dict):
            raise ValueError(
                f"--config {str(path)!r}: expected a table of options at the top level"
            )
        return {k.replace("-", "_"): v for k, v in values.items()}


def _number(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    strict: bool = False,
    high_open: bool = False,
    optional: bool = False,
) -> None:
    if value is None and optional:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if strict else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else (f"> {low}" if strict else f">= {low}")
        hi = "" if high is None else (f"< {high}" if high_open else f"<= {high}")
        rng = " and ".join(p for p in (lo, hi) if p)
        raise ValueError(f"--{name.replace('_', '-')}: expected a number {rng}; got {_show(value)}")


def _integer(name: str, value: Any, low: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(
            f"--{name.replace('_', '-')}: expected an integer >= {low}; got {_show(value)}"
        )


def _show(value: Any, limit: int = 80) -> str:
    """A value as it appears in an error: its repr, cut short (a config file can hold anything)."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"a {type(value).__name__} nested too deep to show"
    return text if len(text) <= limit else text[: limit - 4] + " ..."
