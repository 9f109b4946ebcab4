"""CIFAR-10 from the official "python version": cifar-10-python.tar.gz or its extracted folder.

The archive holds ``cifar-10-batches-py/`` with ``data_batch_1`` .. ``data_batch_5`` (10,000
training images each), ``test_batch`` (10,000) and ``batches.meta``. Each batch is a pickled dict
with ``b"data"``, a uint8 array of shape (10000, 3072) (1024 red, then 1024 green, then 1024 blue
values of a 32x32 image, row by row), and ``b"labels"``, a list of ints in 0..9; the meta file
has ``b"label_names"``. The batches are read with a restricted unpickler that runs no code from
the file (see ``chainrule.data.safe_pickle``), and the archive is extracted with every member
checked (see ``chainrule.data.archive``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..archive import safe_extract_tar
from ..errors import DataFormatError
from ..safe_pickle import load_pickle
from .base import (
    Splits,
    dataset_folder,
    fetch_all,
    make_splits,
    missing_files_error,
)
from .sources import MIRRORS, RESOURCES

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
FILES = [*TRAIN_FILES, TEST_FILE, META_FILE]

#: MD5 sums of the extracted files (as torchvision lists them), for reference and checks.
FILE_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}

CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def _key(d: dict, name: str) -> Any:
    """``d[b"name"]`` as the official (Python 2) files store it, or ``d["name"]``."""
    for k in (name.encode(), name):
        if k in d:
            return d[k]
    raise KeyError(name)


def read_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 batch file as images (N, 32, 32, 3) uint8 HWC and labels (N,) int64.

    Args:
        path: ``data_batch_1`` .. ``data_batch_5`` or ``test_batch``.

    Returns:
        ``(images, labels)``.

    Raises:
        DataFormatError: not a pickled dict with ``data`` (N x 3072 bytes) and ``labels`` (N ints
            in 0..9), truncated, or carrying anything but plain data (nothing from it is run).

    Example:
        >>> x, y = read_batch("cifar-10-batches-py/test_batch")
        >>> x.shape, y.shape
        ((10000, 32, 32, 3), (10000,))
    """
    path = Path(path)
    what = 'a pickled dict with b"data" (N x 3072 uint8) and b"labels" (N ints)'
    batch = load_pickle(path, what)
    try:
        if not isinstance(batch, dict):
            raise TypeError(f"a {type(batch).__name__}")
        data, labels = _key(batch, "data"), _key(batch, "labels")
    except (KeyError, TypeError) as e:
        raise DataFormatError(f"{path}: expected {what}; found {e} missing or a non-dict") from None
    if isinstance(data, (bytes, bytearray)):
        data = np.frombuffer(data, np.uint8)
        if data.size % 3072 == 0:
            data = data.reshape(-1, 3072)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        found = f"{type(data).__name__} {getattr(data, 'dtype', '')} {getattr(data, 'shape', '')}"
        raise DataFormatError(f"{path}: expected data as an N x 3072 uint8 array; found {found}")
    if data.shape[1] != 3072:
        raise DataFormatError(
            f"{path}: expected 3072 values (32x32x3) per image; found {data.shape[1]}"
        )
    if not isinstance(labels, (list, tuple)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in labels
    ):
        raise DataFormatError(f"{path}: expected labels as a list of ints; found {type(labels)}")
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    if y.shape[0] != data.shape[0]:
        raise DataFormatError(
            f"{path}: expected one label per image ({data.shape[0]}); found {y.shape[0]} labels"
        )
    if y.size and (y.min() < 0 or y.max() >= len(CLASSES)):
        raise DataFormatError(f"{path}: expected labels in 0..9; found {y.min()}..{y.max()}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # CHW planes -> HWC
    return np.ascontiguousarray(images), y


def read_meta(path: str | os.PathLike) -> list[str]:
    """The class names stored in ``batches.meta`` (``b"label_names"``)."""
    path = Path(path)
    what = 'a pickled dict with b"label_names" (10 names)'
    meta = load_pickle(path, what)
    try:
        names = _key(meta, "label_names") if isinstance(meta, dict) else None
    except KeyError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, (bytes, str)) for n in names):
        raise DataFormatError(f"{path}: expected {what}; found no list of names")
    names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]
    if len(names) != len(CLASSES):
        raise DataFormatError(f"{path}: expected {len(CLASSES)} class names; found {len(names)}")
    return names


def _batches_folder(folder: Path) -> Path | None:
    """The folder holding the batch files: ``folder`` or ``folder/cifar-10-batches-py``."""
    for candidate in (folder, folder / FOLDER):
        if all((candidate / f).is_file() for f in FILES):
            return candidate
    return None


def cifar10(
    root: str | os.PathLike | None = None,
    download: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> Splits:
    """CIFAR-10: 50,000 training and 10,000 test colour images of 32x32, 10 classes.

    Args:
        root: the folder holding ``cifar-10-python.tar.gz`` or the extracted
            ``cifar-10-batches-py`` (or that folder itself); None means
            ``data_dir() / "cifar10"``. An archive found there is extracted next to it, safely.
        download: fetch the archive from ``MIRRORS["cifar10"]``, verify its MD5, cache and
            extract it.
        val_fraction: the stratified share of the 50,000 training images held out for validation.
        seed: seeds the validation split (the test split is always the official 10,000).
        progress: show a progress bar while downloading.

    Returns:
        ``Splits`` with x float32 in [0, 1] of shape (N, 32, 32, 3) (height, width, channel:
        flattened, the lecture's 3072 numbers), y int64, and the names from ``batches.meta``.

    Raises:
        FileNotFoundError: nothing found and download=False (the message says what to put where).
        DownloadError: nothing found and no mirror could be reached (a FileNotFoundError too).
        DataFormatError: a file is truncated, corrupt, unsafe, or fails its checksum.

    Example:
        >>> s = cr.data.datasets.cifar10(download=True)
        >>> s.x_train.shape, s.classes[:2]
        ((45000, 32, 32, 3), ['airplane', 'automobile'])
    """
    folder = dataset_folder(root, "cifar10")
    (archive,) = RESOURCES["cifar10"]
    batches = _batches_folder(folder)
    if batches is None and not (folder / archive.filename).is_file() and download:
        fetch_all("cifar10", folder, [archive], MIRRORS["cifar10"], progress)
    if batches is None and (folder / archive.filename).is_file():
        safe_extract_tar(folder / archive.filename, folder, allowed_top={FOLDER})
        batches = _batches_folder(folder)
        if batches is None:
            missing = [f for f in FILES if not (folder / FOLDER / f).is_file()]
            raise DataFormatError(
                f"{folder / archive.filename}: expected an archive with {FOLDER}/ holding "
                f"{', '.join(FILES)}; found {', '.join(missing)} missing. Delete it and "
                "download it again"
            )
    if batches is None:
        sub = folder / FOLDER
        missing = [f for f in FILES if not (sub / f).is_file()] if sub.is_dir() else []
        if missing and len(missing) < len(FILES):
            hint = f" (the folder {sub} lacks {', '.join(missing)})"
        else:
            hint = f" (or the extracted folder {FOLDER}/ with {', '.join(FILES)})"
        raise missing_files_error(
            "cifar10", folder, [archive.filename], MIRRORS["cifar10"], hint=hint
        )
    parts = [read_batch(batches / f) for f in TRAIN_FILES]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = read_batch(batches / TEST_FILE)
    classes = read_meta(batches / META_FILE)
    return make_splits(
        "cifar10",
        x_train,
        y_train,
        x_test,
        y_test,
        classes,
        (32, 32, 3),
        val_fraction,
        seed,
        max_value=255,
    )
