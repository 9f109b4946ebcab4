"""The embedded default: the 8x8 handwritten digits that scikit-learn ships (no network needed).

1,797 grey images of 8x8 pixels with values 0..16 (the UCI "Optical Recognition of Handwritten
Digits" test set, CC BY 4.0; see DIGITS_LICENSE.txt), 10 classes of about 180 each. The test
split is a fixed, stratified 20% drawn with its own seed, so it is the same whatever ``seed``
a run uses; ``seed`` only moves the validation split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataFormatError
from ..splits import stratified_split
from .base import Splits, make_splits

PATH = Path(__file__).with_name("digits.npz")  # stored uncompressed: 117 kB, read 7x faster
SAMPLES = Path(__file__).with_name("samples")  # digit-0.png .. digit-9.png (tools/make_samples.py)
TEST_FRACTION = 0.2
TEST_SEED = 1797  # fixed forever: the test split must not change between runs or versions
CLASSES = [str(d) for d in range(10)]


def _load() -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(PATH, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
    except (OSError, KeyError, ValueError) as e:
        raise DataFormatError(
            f"{PATH}: expected the embedded digits (an npz with 'images' and 'labels'); found "
            f"an unreadable file ({e}). Reinstall chainrule"
        ) from e
    if images.shape != (1797, 8, 8) or labels.shape != (1797,) or images.max() > 16:
        raise DataFormatError(
            f"{PATH}: expected images (1797, 8, 8) with values 0..16 and labels (1797,); found "
            f"{images.shape} and {labels.shape}. Reinstall chainrule"
        )
    return images, labels.astype(np.int64)


def digits(val_fraction: float = 0.1, seed: int = 0) -> Splits:
    """The 8x8 handwritten digits, split into train/validation/test, from the package itself.

    Args:
        val_fraction: the stratified share of the non-test images held out for validation.
        seed: seeds the validation split only.

    Returns:
        ``Splits`` with x float32 in [0, 1] (the 0..16 values divided by 16) of shape
        (N, 8, 8), y int64, classes "0".."9": 1,438 train+validation and 359 test images
        (round(20%) of each class).

    Example:
        >>> s = cr.data.datasets.digits()
        >>> s.x_train.shape, s.x_val.shape, s.x_test.shape
        ((1293, 8, 8), (145, 8, 8), (359, 8, 8))
    """
    images, labels = _load()
    rest, test = stratified_split(labels, TEST_FRACTION, seed=TEST_SEED)
    x = images.astype(np.float32) / np.float32(16)
    return make_splits(
        "digits", x[rest], labels[rest], x[test], labels[test], CLASSES, (8, 8), val_fraction, seed
    )


def sample_pixels() -> np.ndarray:
    """The pixels of the sample images: the first test image of each class, (10, 8, 8) uint8.

    The 0..16 values are scaled to 0..255 (rounded), as an 8-bit grey PNG stores them; predict
    scales 8-bit pixels back to [0, 1], the training scale.
    """
    images, labels = _load()
    _, test = stratified_split(labels, TEST_FRACTION, seed=TEST_SEED)
    first = [test[labels[test] == d][0] for d in range(len(CLASSES))]
    return np.round(images[first].astype(np.float64) * (255 / 16)).astype(np.uint8)


def sample_images() -> list[Path]:
    """The ten sample images shipped with chainrule, something to try ``chainrule predict`` on.

    Returns:
        The paths of ``digit-0.png`` .. ``digit-9.png``: 8x8 grey PNGs of ``sample_pixels()``,
        one test-split digit of each class (never seen in training).

    Example:
        >>> from chainrule.data.datasets.digits import sample_images
        >>> sample_images()[3].name   # what `chainrule predict RUN --samples` classifies
        'digit-3.png'
    """
    return [SAMPLES / f"digit-{d}.png" for d in range(len(CLASSES))]
