"""Images as a convolutional network reads them, N x C x H x W, and their augmentation.

The loaders keep each image in its natural shape: digits (N, 8, 8), MNIST and Fashion-MNIST
(N, 28, 28), CIFAR-10 (N, 32, 32, 3) with the channels last. ``to_images`` turns any of them
into PyTorch's layout, channels first: (N, 1, 8, 8), (N, 1, 28, 28), (N, 3, 32, 32).

Augmentation makes new training images from old ones, drawn anew each epoch: a random crop of
the image padded with zeros (the image shifted by up to ``padding`` pixels), and a horizontal
flip (a mirrored car is still a car; a mirrored digit may not be a digit: flips are for
CIFAR-10). Both work on a whole batch at once, with a NumPy generator the caller seeds, so a run
repeats them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def image_layout(image_shape: Any) -> tuple[int, int, int]:
    """(C, H, W) of one image of a data set's ``image_shape``: (H, W) is grey, (H, W, C) is
    channels last (CIFAR-10's (32, 32, 3)).

    Example:
        >>> cr.data.images.image_layout((32, 32, 3))
        (3, 32, 32)
    """
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) == 3:
        return (shape[2], shape[0], shape[1])
    raise ValueError(
        f"image_layout: expected an image shape (H, W) or (H, W, C); got {tuple(image_shape)}"
    )


def to_images(x: np.ndarray, image_shape: Any = None) -> np.ndarray:
    """A batch of images in N x C x H x W, float32, from the loaders' natural shapes.

    Args:
        x: (N, H, W) grey images, (N, H, W, C) colour images (channels last), or (N, D)
            flattened ones with ``image_shape`` saying how to unflatten them.
        image_shape: one image's shape as the data set gives it ((8, 8), (32, 32, 3)); needed
            for flattened input, checked otherwise.

    Returns:
        (N, C, H, W) float32, C-contiguous.

    Example:
        >>> cr.data.images.to_images(np.zeros((5, 32, 32, 3))).shape
        (5, 3, 32, 32)
    """
    a = np.asarray(x)
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if a.ndim == 2 and a.shape[1] == int(np.prod(shape)):
            a = a.reshape(a.shape[0], *shape)
        if a.shape[1:] != shape:
            raise ValueError(
                f"to_images: expected images of shape {shape} (or flattened, {int(np.prod(shape))} "
                f"values each); got an array of shape {a.shape}"
            )
    if a.ndim == 3:
        out = a[:, None]
    elif a.ndim == 4:
        out = a.transpose(0, 3, 1, 2)
    else:
        raise ValueError(
            f"to_images: expected (N, H, W) or (N, H, W, C) images; got an array of shape {a.shape}"
        )
    return np.ascontiguousarray(out, dtype=np.float32)


def random_crop(x: np.ndarray, padding: int, rng: np.random.Generator) -> np.ndarray:
    """Each image of an (N, C, H, W) batch padded with ``padding`` zeros on every side, then cut
    back to H x W at a random place: the image shifted by up to ``padding`` pixels each way.

    One gather for the whole batch (no loop over images).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> cr.data.images.random_crop(np.ones((2, 1, 4, 4)), 1, rng).shape
        (2, 1, 4, 4)
    """
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"random_crop: padding must be a non-negative integer; got {padding!r}")
    if padding == 0:
        return x
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    top = rng.integers(0, 2 * padding + 1, n)
    left = rng.integers(0, 2 * padding + 1, n)
    rows = (top[:, None] + np.arange(h))[:, None, :, None]
    cols = (left[:, None] + np.arange(w))[:, None, None, :]
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols]


def random_horizontal_flip(x: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Mirror each image of an (N, C, H, W) batch left to right with probability ``p``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> cr.data.images.random_horizontal_flip(np.arange(3.0).reshape(1, 1, 1, 3), rng, 1.0)
        array([[[[2., 1., 0.]]]])
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"random_horizontal_flip: p must be in [0, 1]; got {p}")
    flip = rng.random(x.shape[0]) < p
    return np.where(flip[:, None, None, None], x[..., ::-1], x)


@dataclass(frozen=True)
class Augment:
    """A training-time augmentation of (N, C, H, W) batches: a random crop with zero padding,
    then (optionally) a random horizontal flip.

    Attributes:
        padding: pixels of zero padding the crop may shift an image by (0: no crop).
        flip: mirror half of the images left to right (for CIFAR-10; not for digits).

    Example:
        >>> aug = cr.data.images.Augment.for_dataset("cifar10")
        >>> aug
        Augment(padding=4, flip=True)
        >>> aug(np.zeros((8, 3, 32, 32), np.float32), np.random.default_rng(0)).shape
        (8, 3, 32, 32)
    """

    padding: int = 0
    flip: bool = False

    @classmethod
    def for_dataset(cls, name: str, side: int | None = None) -> Augment:
        """The usual augmentation of a data set: crops of side/8 pixels (4 for CIFAR-10's 32,
        3 for MNIST's 28, 1 for the 8x8 digits) and, for CIFAR-10 only, flips."""
        sides = {"digits": 8, "mnist": 28, "fashion-mnist": 28, "cifar10": 32}
        side = side or sides.get(name)
        if side is None:
            raise ValueError(
                f"Augment.for_dataset: {name!r} is not an image data set; expected one of "
                f"{', '.join(sides)}"
            )
        return cls(padding=max(1, side // 8), flip=name == "cifar10")

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = random_crop(x, self.padding, rng)
        if self.flip:
            out = random_horizontal_flip(out, rng)
        return np.ascontiguousarray(out, dtype=x.dtype)
