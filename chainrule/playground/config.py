"""The playground's settings: what a page may ask for, checked at the boundary.

A ``Config`` is the whole state of the page's controls (data, model, training). The page sends
changes as a JSON object of field -> value; ``Config.update`` checks every field against
``FIELDS`` and the server's ``Limits`` and raises ``SettingError`` with a sentence the page shows
as it is ("lr must be a number > 0 and at most 10; got -1"). Nothing outside this file decides
what a valid setting is.

Example:
    >>> c = Config().update({"hidden": [6], "l2": 0.01})
    >>> c.hidden, c.l2
    ([6], 0.01)
    >>> Config().update({"lr": -1})
    Traceback (most recent call last):
    SettingError: lr must be a number > 0 and at most 10; got -1
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

#: The lecture's 2-D sets, each with 2 to 5 classes (``classes``).
DATASETS = ("spiral", "circles", "moons", "xor", "gaussians")
#: Hidden-layer activations, by the names ``nn.MLP`` takes (leaky_relu has the lecture's 0.1).
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "maxout")
#: Data losses: softmax cross-entropy or the multiclass SVM (hinge) loss.
LOSSES = ("cross_entropy", "svm")
#: Optimizers: plain SGD (the lecture's), SGD with momentum 0.9, Adam, RMSprop, Adagrad.
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "adagrad")


class SettingError(ValueError):
    """A setting the playground cannot take; ``str()`` is the sentence the page shows.

    Attributes:
        field: the setting's name, or None for a message that is not about one setting.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Limits:
    """What one page may ask of the server, so that no page can exhaust the machine.

    Attributes:
        max_layers: hidden layers at most.
        max_units: units in one hidden layer at most.
        max_points: points generated at most (train and test together).
        max_added: points added by clicking at most.
        max_batch: batch size at most.
        max_steps: training steps one session may take before it pauses (reset starts again).
        max_step_request: steps one "step" message may ask for.
        max_sessions: pages (sessions) served at once.
        max_message_bytes: the largest message a page may send.
    """

    max_layers: int = 6
    max_units: int = 32
    max_points: int = 2000
    max_added: int = 500
    max_batch: int = 500
    max_steps: int = 1_000_000
    max_step_request: int = 1000
    max_sessions: int = 8
    max_message_bytes: int = 65536

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Limits: {f.name} must be a positive integer; got {v!r}")

    def to_dict(self) -> dict[str, int]:
        """The limits as a plain dict, for the page."""
        return dataclasses.asdict(self)


@dataclass
class Config:
    """Every control on the page. Defaults: a 3-arm spiral and a 2-16-16-3 ReLU network.

    Attributes:
        dataset: one of ``DATASETS``.
        classes: 2 to 5: spiral arms, blobs, rings, moons, or the colours of the XOR
            checkerboard (a classes x classes board; two classes are the quadrants).
        noise: the data set's noise (spiral: angle noise in radians; others: coordinate std).
        points: points generated, train and test together.
        test_fraction: the share of the points held out for testing.
        seed: seeds the points, the initial weights and the batches.
        added: points added by clicking, as [x, y, label]; they join the training set.
        hidden: the width of each hidden layer ([] is the linear classifier).
        activation: one of ``ACTIVATIONS``.
        loss: "cross_entropy" (softmax) or "svm" (multiclass hinge).
        l2: lambda, the strength of the L2 penalty lambda * sum(W^2) (biases excluded).
        lr: the learning rate.
        batch_size: examples per step (the whole training set when larger).
        optimizer: one of ``OPTIMIZERS``.
    """

    dataset: str = "spiral"
    classes: int = 3
    noise: float = 0.2
    points: int = 300
    test_fraction: float = 0.3
    seed: int = 0
    added: list[list[float]] = field(default_factory=list)
    hidden: list[int] = field(default_factory=lambda: [16, 16])
    activation: str = "relu"
    loss: str = "cross_entropy"
    l2: float = 0.001
    lr: float = 0.01
    batch_size: int = 10
    optimizer: str = "adam"

    @property
    def num_classes(self) -> int:
        """The classes the data set has: ``classes``, whichever the set."""
        return self.classes

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON values."""
        d = dataclasses.asdict(self)
        d["num_classes"] = self.num_classes
        return d

    def update(self, changes: Any, limits: Limits | None = None) -> Config:
        """A new Config with ``changes`` applied, every one checked; ``self`` is left alone.

        Args:
            changes: a dict of field name -> value, as the page sends it.
            limits: the server's limits (default ``Limits()``).

        Returns:
            The new Config.

        Raises:
            SettingError: an unknown field, a value of the wrong type or out of range; the
                message names the field, says what was expected and what was got.
        """
        limits = limits or Limits()
        if not isinstance(changes, dict):
            raise SettingError(
                f"settings must be an object of name: value; got {_show(changes)}", None
            )
        new = dataclasses.replace(self, added=list(self.added), hidden=list(self.hidden))
        for name, value in changes.items():
            check = _CHECKS.get(name)
            if check is None:
                raise SettingError(
                    f"unknown setting {_show(name)}; expected one of {', '.join(_CHECKS)}",
                    None,
                )
            setattr(new, name, check(value, limits))
        if new.points < 4 * new.num_classes:
            raise SettingError(
                f"points must be at least {4 * new.num_classes} for {new.num_classes} classes "
                f"(2 per class in each split); got {new.points}",
                "points",
            )
        for p in new.added:
            if p[2] >= new.num_classes:
                raise SettingError(
                    f"an added point has class {p[2]}, but {new.dataset} has "
                    f"{new.num_classes} classes (0 to {new.num_classes - 1}); clear the added "
                    "points or choose more classes",
                    "added",
                )
        return new


# ----- the checks, one per field -----
def _show(v: Any) -> str:
    text = repr(v) if isinstance(v, str) else str(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SettingError(f"{name} must be a number; got {_show(v)}", name)
    if not math.isfinite(v):
        raise SettingError(f"{name} must be a finite number; got {_show(v)}", name)
    return float(v)


def _integer(name: str, v: Any, low: int, high: int) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise SettingError(
            f"{name} must be a whole number from {low} to {high}; got {_show(v)}", name
        )
    if not low <= v <= high:
        raise SettingError(f"{name} must be a whole number from {low} to {high}; got {v}", name)
    return v


def _choice(name: str, choices: tuple[str, ...]):
    def check(v: Any, limits: Limits) -> str:
        if v not in choices:
            raise SettingError(f"{name} must be one of {', '.join(choices)}; got {_show(v)}", name)
        return v

    return check


def _ranged(name: str, low: float, high: float, low_open: bool = False):
    def check(v: Any, limits: Limits) -> float:
        x = _number(name, v)
        if x < low or x > high or (low_open and x == low):
            lo = f"> {low:g}" if low_open else f">= {low:g}"
            raise SettingError(f"{name} must be a number {lo} and at most {high:g}; got {v}", name)
        return x

    return check


def _hidden(v: Any, limits: Limits) -> list[int]:
    if not isinstance(v, list):
        raise SettingError(
            f"hidden must be a list of layer widths such as [16, 16]; got {_show(v)}", "hidden"
        )
    if len(v) > limits.max_layers:
        raise SettingError(
            f"hidden may have at most {limits.max_layers} layers; got {len(v)}", "hidden"
        )
    out = []
    for w in v:
        if isinstance(w, float) and w.is_integer():
            w = int(w)
        if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= limits.max_units:
            raise SettingError(
                f"each hidden layer must have from 1 to {limits.max_units} units; got {_show(w)}",
                "hidden",
            )
        out.append(w)
    return out


def _added(v: Any, limits: Limits) -> list[list[float]]:
    if not isinstance(v, list):
        raise SettingError(f"added must be a list of [x, y, class]; got {_show(v)}", "added")
    if len(v) > limits.max_added:
        raise SettingError(f"at most {limits.max_added} points may be added; got {len(v)}", "added")
    return [_point(p) for p in v]


def _point(p: Any) -> list[float]:
    """One added point [x, y, class], x and y within [-10, 10]."""
    if not isinstance(p, (list, tuple)) or len(p) != 3:
        raise SettingError(f"an added point must be [x, y, class]; got {_show(p)}", "added")
    x, y = (_number("an added point's coordinate", c) for c in p[:2])
    if abs(x) > 10 or abs(y) > 10:
        raise SettingError(
            f"an added point's coordinates must lie within [-10, 10]; got {_show(p)}", "added"
        )
    label = _integer("an added point's class", p[2], 0, 4)
    return [x, y, label]


_CHECKS = {
    "dataset": _choice("dataset", DATASETS),
    "classes": lambda v, limits: _integer("classes", v, 2, 5),
    "noise": _ranged("noise", 0.0, 1.0),
    "points": lambda v, limits: _integer("points", v, 8, limits.max_points),
    "test_fraction": _ranged("test_fraction", 0.1, 0.9),
    "seed": lambda v, limits: _integer("seed", v, 0, 2**31 - 1),
    "added": _added,
    "hidden": _hidden,
    "activation": _choice("activation", ACTIVATIONS),
    "loss": _choice("loss", LOSSES),
    "l2": _ranged("l2", 0.0, 10.0),
    "lr": _ranged("lr", 0.0, 10.0, low_open=True),
    "batch_size": lambda v, limits: _integer("batch_size", v, 1, limits.max_batch),
    "optimizer": _choice("optimizer", OPTIMIZERS),
}

#: Which changes rebuild what: data changes regenerate the points and the network (added points
#: only the points), model changes the network; training changes keep the weights and go on.
DATA_FIELDS = frozenset({"dataset", "classes", "noise", "points", "test_fraction", "seed", "added"})
MODEL_FIELDS = frozenset({"hidden", "activation"})
TRAINING_FIELDS = frozenset({"loss", "l2", "lr", "batch_size", "optimizer"})

#: The lecture's figures, as changes to apply: hidden sizes 3, 6, 20 on the three-arm spiral
#: (test accuracy after 2,500 steps: 56%, 78%, 93%: capacity grows), and lambda 0.001, 0.01,
#: 0.1 on 20 hidden units on two noisy moons (94%, 84%, 82%: the boundary smooths to almost a
#: line). On the spiral, lambda 0.01 already flattens a 20-unit network to chance, so the moons
#: show the smoothing better. Each preset names its class count, as every set takes one. Every
#: other setting is the page's default.
_FIGURE = {
    "noise": 0.2,
    "points": 300,
    "test_fraction": 0.3,
    "seed": 0,
    "added": [],
    "activation": "relu",
    "loss": "cross_entropy",
    "lr": 0.01,
    "batch_size": 10,
    "optimizer": "adam",
}
PRESETS: dict[str, dict[str, Any]] = {
    **{
        f"{h} hidden units": {
            **_FIGURE,
            "dataset": "spiral",
            "classes": 3,
            "hidden": [h],
            "l2": 0.001,
        }
        for h in (3, 6, 20)
    },
    **{
        f"lambda = {lam}": {
            **_FIGURE,
            "dataset": "moons",
            "classes": 2,
            "noise": 0.25,
            "hidden": [20],
            "l2": lam,
        }
        for lam in (0.001, 0.01, 0.1)
    },
}
