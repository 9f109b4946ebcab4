"""Data sets, each returned as train/validation/test ``Splits`` with class names.

- ``digits()``: the embedded default, 1,797 8x8 handwritten digits (no network needed).
- ``mnist(root)``, ``fashion_mnist(root)``: the published IDX files (gzipped or not).
- ``cifar10(root)``: the official python-version archive or its extracted folder.
- ``spiral``, ``circles``, ``xor``, ``gaussians``, ``moons``: seeded 2-D point sets, each
  with ``n_classes`` classes (2 or more).

``load(name, **kwargs)`` picks one by name; ``NAMES`` lists the names. The files of MNIST,
Fashion-MNIST and CIFAR-10 are looked for in ``root`` (default: ``$CHAINRULE_DATA/<name>`` or
``~/.cache/chainrule/<name>``) and, with ``download=True``, fetched, verified and cached there;
``MIRRORS`` and ``RESOURCES`` list where from, with the published MD5 sums.

Example:
    >>> s = cr.data.datasets.load("digits")
    >>> s.name, s.num_classes, s.image_shape
    ('digits', 10, (8, 8))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import Resource, Splits
from .cifar10 import cifar10
from .digits import digits
from .mnist import fashion_mnist, mnist
from .sources import MIRRORS, RESOURCES
from .toy import circles, gaussians, moons, spiral, xor

_LOADERS: dict[str, Callable[..., Splits]] = {
    "digits": digits,
    "mnist": mnist,
    "fashion-mnist": fashion_mnist,
    "cifar10": cifar10,
    "spiral": spiral,
    "circles": circles,
    "xor": xor,
    "gaussians": gaussians,
    "moons": moons,
}

#: The data set names ``load`` accepts (``fashion_mnist`` and ``cifar-10`` are accepted too).
NAMES: tuple[str, ...] = tuple(_LOADERS)

#: Data sets read from files (they take root= and download=); the others are built in.
FILE_BASED: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10")

_ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar-10": "cifar10",
}


def canonical_name(name: str) -> str:
    """The name as listed in ``NAMES`` ("Fashion_MNIST" -> "fashion-mnist"), or a ValueError."""
    if not isinstance(name, str):
        raise TypeError(f"data set name must be a string; got {name!r}")
    key = name.strip().lower().replace(" ", "-")
    key = _ALIASES.get(key, key.replace("_", "-"))
    key = _ALIASES.get(key, key)
    if key not in _LOADERS:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(NAMES)}")
    return key


def load(name: str, **kwargs: Any) -> Splits:
    """Load the data set ``name`` with the loader's keyword arguments.

    Args:
        name: one of ``NAMES`` (case-insensitive; "fashion_mnist" and "fashion-mnist" both work).
        **kwargs: passed to the loader, e.g. ``root``, ``download``, ``val_fraction``, ``seed``
            for files; ``n_samples``, ``noise``, ``n_classes`` for point sets.

    Returns:
        The loader's ``Splits``.

    Example:
        >>> cr.data.datasets.load("spiral", n_samples=150, seed=1).x_train.shape[1]
        2
    """
    return _LOADERS[canonical_name(name)](**kwargs)


__all__ = [
    "NAMES",
    "FILE_BASED",
    "MIRRORS",
    "RESOURCES",
    "Resource",
    "Splits",
    "canonical_name",
    "cifar10",
    "circles",
    "digits",
    "fashion_mnist",
    "gaussians",
    "load",
    "mnist",
    "moons",
    "spiral",
    "xor",
]
