"""What every data set loader returns (``Splits``), and the helpers the loaders share.

A loader returns train/validation/test splits as NumPy arrays plus the class names. The
validation split is a stratified, seeded share of the official training part, so the test
split never depends on the seed.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..download import data_dir, download_url
from ..errors import DataFormatError, DownloadError
from ..splits import stratified_split

logger = logging.getLogger(__name__)


@dataclass(repr=False)
class Splits:
    """A data set's train, validation and test splits and its class names.

    Attributes:
        name: the data set, e.g. ``"mnist"``.
        x_train, x_val, x_test: float32 arrays. Images keep their natural shape, scaled to
            [0, 1]: digits (N, 8, 8), MNIST (N, 28, 28), CIFAR-10 (N, 32, 32, 3) (height, width,
            channel); 2-D point sets are (N, 2).
        y_train, y_val, y_test: int64 class labels in [0, num_classes), shape (N,).
        classes: the class names; label k means ``classes[k]``.
        image_shape: the shape of one image, or None for point sets.

    Example:
        >>> s = cr.data.datasets.digits()
        >>> s.x_train.shape, s.num_classes, s.classes[3]
        ((1293, 8, 8), 10, '3')
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str] = field(default_factory=list)
    image_shape: tuple[int, ...] | None = None

    @property
    def num_classes(self) -> int:
        """The number of classes, ``len(classes)``."""
        return len(self.classes)

    @property
    def num_features(self) -> int:
        """The length of one flattened example (64 for digits, 784 for MNIST, 3072 for CIFAR)."""
        return int(math.prod(self.x_train.shape[1:]))

    def __repr__(self) -> str:
        return (
            f"Splits(name={self.name!r}, train={self.x_train.shape}, val={self.x_val.shape}, "
            f"test={self.x_test.shape}, classes={self.num_classes}, "
            f"image_shape={self.image_shape})"
        )


def make_splits(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classes: Sequence[str],
    image_shape: tuple[int, ...] | None,
    val_fraction: float,
    seed: int,
    max_value: float | None = None,
) -> Splits:
    """Cut a stratified, seeded validation split off the training part and assemble ``Splits``.

    With ``max_value``, integer images are scaled to float32 in [0, 1] after the split, so the
    float copy is made once per split and never for the whole training part at once.
    """
    check_fraction(val_fraction, "val_fraction")
    train_idx, val_idx = stratified_split(y_train, val_fraction, seed=seed)

    def convert(x: np.ndarray) -> np.ndarray:
        return to_float01(x, max_value) if max_value is not None else x

    return Splits(
        name=name,
        x_train=convert(x_train[train_idx]),
        y_train=y_train[train_idx].astype(np.int64),
        x_val=convert(x_train[val_idx]),
        y_val=y_train[val_idx].astype(np.int64),
        x_test=convert(x_test),
        y_test=y_test.astype(np.int64),
        classes=list(classes),
        image_shape=image_shape,
    )


def check_fraction(value: float, name: str) -> float:
    """``value`` as a float in [0, 1), or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise TypeError(f"{name} must be a number in [0, 1); got {value!r}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must lie in [0, 1); got {value}")
    return float(value)


def to_float01(images: np.ndarray, max_value: float) -> np.ndarray:
    """uint8 images as float32 in [0, 1], with one float32 buffer (no float64 copy)."""
    out = images.astype(np.float32)
    np.divide(out, np.float32(max_value), out=out)
    return out


def dataset_folder(root: str | os.PathLike | None, subfolder: str) -> Path:
    """``root`` itself, or ``data_dir() / subfolder`` when root is None."""
    if root is None:
        return data_dir() / subfolder
    return Path(root).expanduser()


class Resource(NamedTuple):
    """One published file: its name, MD5 and size in bytes."""

    filename: str
    md5: str
    size: int


def missing_files_error(
    dataset: str,
    folder: Path,
    files: Sequence[str],
    mirrors: Sequence[str],
    hint: str = "",
    offline: bool = False,
) -> FileNotFoundError:
    """The error for data files that are not there: which files, where to put them, from where."""
    urls = "\n".join(f"  {mirrors[0]}{f}" for f in files) if mirrors else "  (no mirror known)"
    others = f"\n(or from {', '.join(mirrors[1:])})" if len(mirrors) > 1 else ""
    if offline:
        then = "; the next run finds them there without downloading."
    else:
        then = (
            ", or pass download=True (on the command line: --download) to fetch and verify "
            "them automatically."
        )
    return FileNotFoundError(
        f"{dataset}: missing data file(s) {', '.join(files)} in the folder {folder}{hint}.\n"
        f"Download them from:\n{urls}{others}\nand put them in {folder}{then}"
    )


def fetch_all(
    dataset: str,
    folder: Path,
    resources: Sequence[Resource],
    mirrors: Sequence[str],
    progress: bool,
) -> None:
    """Download each resource into ``folder`` from the first mirror that serves it intact.

    Raises:
        DataFormatError: every mirror that answered served a file of the wrong size or checksum.
        DownloadError: no mirror could be reached (offline): the message lists every file
            still missing, where to put it and where to get it (a ConnectionError and a
            FileNotFoundError, so the command line shows it as one message).
    """
    for i, resource in enumerate(resources):
        target = folder / resource.filename
        errors: list[Exception] = []
        for mirror in mirrors:
            url = f"{mirror}{resource.filename}"
            try:
                logger.info("downloading %s", url)
                download_url(url, target, resource.md5, resource.size, progress=progress)
                break
            except (ConnectionError, DataFormatError) as e:
                logger.info("%s; trying the next mirror, if any", e)
                errors.append(e)
        else:
            bad = [e for e in errors if isinstance(e, DataFormatError)]
            if bad:
                raise bad[0]
            still = [r.filename for r in resources[i:]]
            reason = errors[-1] if errors else "no mirror configured"
            text = str(missing_files_error(dataset, folder, still, mirrors, offline=True))
            raise DownloadError(f"download failed ({reason}). Offline? {text}") from (
                errors[-1] if errors else None
            )
