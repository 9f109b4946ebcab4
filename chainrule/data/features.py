"""Hand-crafted image features, the lecture's "image features" before ConvNets.

A fixed feature extractor turns each image into a vector that a linear classifier (or an MLP)
then learns from; only the classifier is trained. Two classic extractors, and their pair:

- ``hog``: histograms of oriented gradients (Dalal and Triggs), from scikit-image, a well-kept
  library (``pip install scikit-image``, the ``features`` extra). The image is cut into 4 x 4
  cells (cells of side/4 pixels: 2 on the 8x8 digits, 7 on MNIST, 8 on CIFAR-10); each cell
  histograms its gradients' orientations in 9 bins, normalized over blocks of 2 x 2 cells:
  3 * 3 * 2 * 2 * 9 = 324 numbers. Colour images use, per pixel, the channel with the largest
  gradient. It sees edges and shapes, not colour.
- ``color-hist``: colour without position. For colour images, a joint histogram of hue (12
  bins) and saturation (4 bins) over all pixels; for grey ones an intensity histogram (16
  bins). Each sums to 1.
- ``hog+color``: both, side by side.

``pixels`` is the identity (the flattened image). ``extract`` computes features; ``features``
does so through a cache in the data set's folder: a file named by a checksum of the images and
of every option that shapes the result (the extractor, its parameters, scikit-image's version),
so a second run reads what the first computed and a change of any of them computes anew.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: the --features choices
KINDS = ("pixels", "hog", "color-hist", "hog+color")

#: HOG's parameters: orientation bins, cells per side (cells are side/4 pixels), block size
HOG = {"orientations": 9, "cells": 4, "cells_per_block": 2, "block_norm": "L2-Hys"}
#: colour histogram bins: hue x saturation for colour images, intensity for grey ones
HUE_BINS, SATURATION_BINS, GREY_BINS = 12, 4, 16
#: bumped when the features computed for the same options change
VERSION = 1

INSTALL_HINT = 'pip install scikit-image (or pip install "chainrule[features]")'


def _skimage() -> Any:
    try:
        import skimage
        import skimage.color
        import skimage.feature
    except ImportError:
        raise ImportError(f"HOG features need scikit-image: {INSTALL_HINT}") from None
    return skimage


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"features: {kind!r} is not one of {', '.join(KINDS)}")


def _images(x: np.ndarray, fn: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 4 and a.shape[-1] == 3:
        return a
    if a.ndim == 3:
        return a
    raise ValueError(
        f"{fn}: expected images (N, H, W) (grey) or (N, H, W, 3) (colour) with values in [0, 1]; "
        f"got an array of shape {a.shape}"
    )


def hog(x: np.ndarray) -> np.ndarray:
    """HOG descriptors of a batch of images, (N, H, W) or (N, H, W, 3) in [0, 1] -> (N, 324).

    scikit-image's ``hog`` per image, with ``HOG``'s parameters and cells of side/4 pixels.

    Example:
        >>> cr.data.features.hog(np.random.rand(2, 28, 28)).shape
        (2, 324)
    """
    images = _images(x, "hog")
    skimage = _skimage()
    h, w = images.shape[1:3]
    cell = (max(1, h // HOG["cells"]), max(1, w // HOG["cells"]))
    colour = images.ndim == 4
    out = [
        skimage.feature.hog(
            image,
            orientations=HOG["orientations"],
            pixels_per_cell=cell,
            cells_per_block=(HOG["cells_per_block"],) * 2,
            block_norm=HOG["block_norm"],
            channel_axis=-1 if colour else None,
            feature_vector=True,
        )
        for image in images
    ]
    return np.asarray(out, dtype=np.float32).reshape(len(images), -1)


def color_histogram(x: np.ndarray) -> np.ndarray:
    """Colour histograms of a batch of images, each summing to 1.

    Colour (N, H, W, 3) in [0, 1]: a joint hue x saturation histogram, (N, 12 * 4); grey
    (N, H, W): an intensity histogram, (N, 16). All images at once (one ``bincount``).

    Example:
        >>> cr.data.features.color_histogram(np.zeros((2, 8, 8))).sum(axis=1)
        array([1., 1.], dtype=float32)
    """
    images = _images(x, "color_histogram")
    n = len(images)
    if images.ndim == 4:
        hsv = _skimage().color.rgb2hsv(images)
        hue = np.minimum((hsv[..., 0] * HUE_BINS).astype(np.int64), HUE_BINS - 1)
        sat = np.minimum((hsv[..., 1] * SATURATION_BINS).astype(np.int64), SATURATION_BINS - 1)
        bins = HUE_BINS * SATURATION_BINS
        index = hue * SATURATION_BINS + sat
    else:
        bins = GREY_BINS
        index = np.clip((images * GREY_BINS).astype(np.int64), 0, GREY_BINS - 1)
    flat = (np.arange(n)[:, None] * bins + index.reshape(n, -1)).reshape(-1)
    counts = np.bincount(flat, minlength=n * bins).reshape(n, bins).astype(np.float32)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)


def extract(x: np.ndarray, kind: str) -> np.ndarray:
    """The features ``kind`` of a batch of images, (N, D) float32 (no cache).

    Example:
        >>> cr.data.features.extract(np.random.rand(3, 8, 8), "hog+color").shape
        (3, 340)
    """
    _check(kind)
    if kind == "pixels":
        a = np.asarray(x, dtype=np.float32)
        return a.reshape(len(a), -1)
    parts = []
    if kind in ("hog", "hog+color"):
        parts.append(hog(x))
    if kind in ("color-hist", "hog+color"):
        parts.append(color_histogram(x))
    return np.concatenate(parts, axis=1)


def checksum(x: np.ndarray, kind: str) -> str:
    """The cache key of ``extract(x, kind)``: a SHA-256 of the images (shape, dtype, values) and
    of every option that shapes the features (the kind, HOG's parameters, the bins, this
    module's VERSION, scikit-image's version)."""
    a = np.ascontiguousarray(x)
    h = hashlib.sha256()
    skimage_version = _skimage().__version__ if kind != "pixels" else "-"
    options = (
        f"{kind};{sorted(HOG.items())};{HUE_BINS},{SATURATION_BINS},{GREY_BINS};v{VERSION};"
        f"skimage {skimage_version};{a.shape};{a.dtype.str}"
    )
    h.update(options.encode())
    h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def features(x: np.ndarray, kind: str, cache: str | os.PathLike | None = None) -> np.ndarray:
    """``extract(x, kind)``, read from (or written to) the folder ``cache`` when one is given.

    The file is ``cache/<kind>-<checksum>.npy``; a file that cannot be read (truncated, another
    shape) is computed and written again. Writing is atomic (a temporary file, then a rename),
    and a folder that cannot be written only costs the recomputation next time.

    Args:
        x: images, (N, H, W) or (N, H, W, 3), in [0, 1].
        kind: one of ``KINDS``.
        cache: the folder of the cache files (``chainrule train`` uses ``<data set
            folder>/features``), or None.

    Returns:
        (N, D) float32.
    """
    _check(kind)
    if kind == "pixels" or cache is None:
        return extract(x, kind)
    folder = Path(cache)
    path = folder / f"{kind}-{checksum(x, kind)[:32]}.npy"
    if path.is_file():
        try:
            out = np.load(path, allow_pickle=False)
            if out.ndim == 2 and len(out) == len(x) and out.dtype == np.float32:
                return out
        except (OSError, ValueError) as e:
            logger.warning("features: ignoring the unreadable cache file %s (%s)", path, e)
    out = extract(x, kind)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{path.name}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            np.save(f, out, allow_pickle=False)
        os.replace(tmp, path)
    except OSError as e:
        logger.warning("features: could not cache them in %s (%s)", folder, e)
    return out
