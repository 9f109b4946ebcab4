"""Images as N x C x H x W (``cr.data.images``) and their augmentation: layouts, the crop's
shift, the flip, and that a seeded generator repeats them."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data.images import (
    Augment,
    image_layout,
    random_crop,
    random_horizontal_flip,
    to_images,
)


def test_every_image_data_set_reaches_nchw() -> None:
    digits = cr.data.datasets.digits()
    assert to_images(digits.x_train).shape == (len(digits.x_train), 1, 8, 8)
    rng = np.random.default_rng(0)
    mnist_like = rng.random((5, 28, 28), dtype=np.float32)  # MNIST and Fashion-MNIST
    assert to_images(mnist_like).shape == (5, 1, 28, 28)
    cifar_like = rng.random((5, 32, 32, 3), dtype=np.float32)  # channels last, as loaded
    images = to_images(cifar_like)
    assert images.shape == (5, 3, 32, 32) and images.flags.c_contiguous
    assert images.dtype == np.float32
    # pixel (n, h, w) of channel c is where it was
    np.testing.assert_array_equal(images[2, 1, 7, 30], cifar_like[2, 7, 30, 1])
    np.testing.assert_array_equal(images, cifar_like.transpose(0, 3, 1, 2))


def test_flattened_images_come_back_with_their_shape() -> None:
    x = np.arange(2 * 32 * 32 * 3, dtype=np.float32).reshape(2, 32, 32, 3)
    np.testing.assert_array_equal(to_images(x.reshape(2, -1), (32, 32, 3)), to_images(x))
    assert image_layout((32, 32, 3)) == (3, 32, 32) and image_layout((8, 8)) == (1, 8, 8)
    with pytest.raises(ValueError, match=r"expected images of shape \(8, 8\)"):
        to_images(np.zeros((2, 63)), (8, 8))
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, H, W, C\)"):
        to_images(np.zeros((2, 64)))


def test_random_crop_shifts_each_image_within_the_padding() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 2, 6, 5)).astype(np.float32)
    out = random_crop(x, 2, np.random.default_rng(7))
    assert out.shape == x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    shifts = set()
    for n in range(len(x)):  # each output is the padded image at one offset in [0, 4]^2
        found = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if np.array_equal(out[n], padded[n, :, dy : dy + 6, dx : dx + 5])
        ]
        assert found, f"image {n} is no crop of its padded self"
        shifts.add(found[0])
    assert len(shifts) > 10  # the offsets vary from image to image
    np.testing.assert_array_equal(out, random_crop(x, 2, np.random.default_rng(7)))  # seeded
    assert random_crop(x, 0, rng) is x


def test_random_flip_mirrors_whole_images_only() -> None:
    x = np.arange(40 * 3 * 2 * 4, dtype=np.float64).reshape(40, 3, 2, 4)
    out = random_horizontal_flip(x, np.random.default_rng(0))
    flipped = [n for n in range(40) if np.array_equal(out[n], x[n, :, :, ::-1])]
    kept = [n for n in range(40) if np.array_equal(out[n], x[n])]
    assert len(flipped) + len(kept) == 40 and 10 < len(flipped) < 30
    np.testing.assert_array_equal(random_horizontal_flip(x, np.random.default_rng(0), 0.0), x)
    with pytest.raises(ValueError, match="p must be in"):
        random_horizontal_flip(x, np.random.default_rng(0), 2.0)


def test_augment_for_each_data_set() -> None:
    assert Augment.for_dataset("cifar10") == Augment(padding=4, flip=True)
    assert Augment.for_dataset("mnist") == Augment(padding=3, flip=False)
    assert Augment.for_dataset("digits") == Augment(padding=1, flip=False)
    with pytest.raises(ValueError, match="not an image data set"):
        Augment.for_dataset("spiral")
    x = np.ones((4, 3, 32, 32), np.float32)
    out = Augment.for_dataset("cifar10")(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.float32
