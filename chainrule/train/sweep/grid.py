"""The grid of a sweep: one validated config per combination of the swept values."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..config import TrainConfig

#: The options a sweep can vary, in the order of a run's name and of the table's columns.
AXES = ("hidden", "reg", "lr", "activation")


def axes_of(values: dict[str, Sequence[Any]]) -> list[str]:
    """The swept options of ``values`` that have values, in ``AXES`` order."""
    return [a for a in AXES if values.get(a)]


def grid(base: TrainConfig, values: dict[str, Sequence[Any]]) -> list[TrainConfig]:
    """One validated config per combination of ``values`` (axes: hidden, reg, lr, activation).

    Args:
        base: the options every run shares.
        values: the values of each swept option, e.g. ``{"reg": [0.001, 0.1]}``.

    Returns:
        The configs, the last axis varying fastest.

    Raises:
        ValueError: an option that cannot be swept, no values at all, or a value the option
            refuses (before any run starts).

    Example:
        >>> [c.reg for c in grid(TrainConfig(), {"reg": [0.0, 0.1]})]
        [0.0, 0.1]
    """
    unknown = sorted(set(values) - set(AXES))
    if unknown:
        raise ValueError(f"sweep: cannot sweep over {', '.join(unknown)}; only {', '.join(AXES)}")
    axes = axes_of(values)
    if not axes:
        raise ValueError(
            "sweep: give at least one of --hidden, --reg, --lr, --activation with values"
        )
    configs = []
    for combo in itertools.product(*(values[a] for a in axes)):
        configs.append(replace(base, **dict(zip(axes, combo))).validate())
    return configs


def run_name(config: TrainConfig, axes: Sequence[str]) -> str:
    """The sub-folder of one grid point: its swept values, e.g. ``hidden-100x50_reg-0.01``."""
    parts = []
    for a in axes:
        v = getattr(config, a)
        parts.append(f"{a}-{'x'.join(map(str, v)) if a == 'hidden' else v}")
    return "_".join(parts) or "run"
