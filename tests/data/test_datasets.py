"""The data set loaders: digits, MNIST, Fashion-MNIST, CIFAR-10 (from local files), 2-D sets."""

from __future__ import annotations

import numpy as np
import pytest
from _data_files import CIFAR_CLASSES, write_cifar, write_cifar_tar, write_mnist

from chainrule.data import datasets
from chainrule.data.datasets import Splits


def check_splits(s: Splits, n_classes: int):
    for x in (s.x_train, s.x_val, s.x_test):
        assert x.dtype == np.float32
    for y in (s.y_train, s.y_val, s.y_test):
        assert y.dtype == np.int64 and y.min() >= 0 and y.max() < n_classes
    assert len(s.x_train) == len(s.y_train) and len(s.x_val) == len(s.y_val)
    assert len(s.x_test) == len(s.y_test)
    assert s.num_classes == len(s.classes) == n_classes


def test_digits():
    s = datasets.digits()
    check_splits(s, 10)
    assert s.name == "digits" and s.image_shape == (8, 8) and s.num_features == 64
    assert s.x_train.shape[1:] == (8, 8)
    assert len(s.x_train) + len(s.x_val) + len(s.x_test) == 1797
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (1293, 145, 359)
    assert s.x_train.min() == 0.0 and s.x_train.max() == 1.0  # 0..16 scaled by 1/16
    assert set(np.unique(s.x_train * 16)) <= set(range(17))
    assert s.classes == [str(d) for d in range(10)]
    counts = np.bincount(s.y_test, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 37  # stratified: ~20% of each ~180
    # the test split never changes with the seed; the validation split does
    t = datasets.digits(seed=1)
    np.testing.assert_array_equal(s.x_test, t.x_test)
    assert not np.array_equal(s.y_val, t.y_val) or not np.array_equal(s.x_val, t.x_val)
    u = datasets.digits(seed=0)
    np.testing.assert_array_equal(s.x_val, u.x_val)
    assert "digits" in repr(s) and "(1293, 8, 8)" in repr(s)
    assert len(datasets.digits(val_fraction=0.0).x_val) == 0


@pytest.mark.parametrize("name", ["spiral", "circles", "xor", "gaussians", "moons"])
def test_point_sets(name):
    s = datasets.load(name, n_samples=300, noise=0.1, seed=0)
    n_classes = 3 if name == "spiral" else 2
    check_splits(s, n_classes)
    assert s.image_shape is None and s.x_train.shape[1:] == (2,)
    assert len(s.x_test) == 60 and len(s.x_train) + len(s.x_val) == 240
    counts = np.bincount(np.concatenate([s.y_train, s.y_val, s.y_test]))
    assert counts.max() - counts.min() <= 1  # balanced
    again = datasets.load(name, n_samples=300, noise=0.1, seed=0)
    np.testing.assert_array_equal(s.x_train, again.x_train)
    other = datasets.load(name, n_samples=300, noise=0.1, seed=1)
    assert not np.array_equal(s.x_train, other.x_train)
    assert np.abs(s.x_train).max() < 3


def test_point_set_geometry():
    s = datasets.spiral(n_samples=300, noise=0.0, n_classes=4)
    assert s.num_classes == 4
    r = np.linalg.norm(np.concatenate([s.x_train, s.x_val, s.x_test]), axis=1)
    assert r.max() <= 1.0 + 1e-6  # CS231n: radius linspace(0, 1)
    c = datasets.circles(noise=0.0, factor=0.5)
    r = np.linalg.norm(c.x_train, axis=1)
    np.testing.assert_allclose(r[c.y_train == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[c.y_train == 1], 0.5, atol=1e-6)
    x = datasets.xor(noise=0.0)
    opposite = (x.x_train[:, 0] * x.x_train[:, 1] < 0).astype(int)
    np.testing.assert_array_equal(opposite, x.y_train)
    g = datasets.gaussians(n_classes=5, noise=0.01)
    assert g.num_classes == 5


@pytest.mark.parametrize(
    "kwargs, err",
    [
        ({"n_samples": 3}, ValueError),
        ({"noise": -1.0}, ValueError),
        ({"n_classes": 1}, ValueError),
        ({"val_fraction": 1.0}, ValueError),
        ({"test_fraction": -0.1}, ValueError),
        ({"n_samples": 10.5}, TypeError),
    ],
)
def test_point_set_errors(kwargs, err):
    with pytest.raises(err):
        datasets.spiral(**kwargs)


def test_load_names_and_aliases():
    assert set(datasets.NAMES) == {
        "digits", "mnist", "fashion-mnist", "cifar10", "spiral", "circles", "xor", "gaussians",
        "moons",
    }  # fmt: skip
    assert datasets.canonical_name("fashion_mnist") == "fashion-mnist"
    assert datasets.canonical_name("Fashion-MNIST") == "fashion-mnist"
    assert datasets.canonical_name("CIFAR-10") == "cifar10"
    assert datasets.load("digits").name == "digits"
    with pytest.raises(ValueError, match="unknown data set 'imagenet'.*digits"):
        datasets.load("imagenet")


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_from_local_files(tmp_path, gz):
    x_train, y_train, x_test, y_test = write_mnist(tmp_path, gz=gz, n_train=100, n_test=30)
    s = datasets.mnist(tmp_path, val_fraction=0.1, seed=0)
    check_splits(s, 10)
    assert s.image_shape == (28, 28) and s.num_features == 784
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (90, 10, 30)
    assert np.bincount(s.y_val).tolist() == [1] * 10  # stratified
    np.testing.assert_array_equal(s.x_test, x_test.astype(np.float32) / 255)
    np.testing.assert_array_equal(s.y_test, y_test)
    # every train/val image is a training image with its own label
    rows = {x.tobytes(): int(y) for x, y in zip(x_train, y_train)}
    for x, y in zip(np.concatenate([s.x_train, s.x_val]), np.concatenate([s.y_train, s.y_val])):
        assert rows[np.round(x * 255).astype(np.uint8).tobytes()] == y


def test_fashion_mnist_and_default_folder(isolated_data_dir):
    write_mnist(isolated_data_dir / "fashion-mnist", gz=True)
    s = datasets.load("fashion_mnist")  # root=None: $CHAINRULE_DATA/fashion-mnist
    assert s.name == "fashion-mnist" and s.classes[0] == "T-shirt/top"
    assert s.classes[9] == "Ankle boot"


def test_cifar10_from_extracted_folder(tmp_path):
    x_train, y_train, x_test, y_test = write_cifar(tmp_path / "cifar-10-batches-py", n=20)
    for root in (tmp_path, tmp_path / "cifar-10-batches-py"):
        s = datasets.cifar10(root)
        check_splits(s, 10)
        assert s.image_shape == (32, 32, 3) and s.num_features == 3072
        assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (90, 10, 20)
        assert s.classes == CIFAR_CLASSES
    # HWC layout: pixel (i, j) channel c is data[c * 1024 + i * 32 + j]
    img = x_test[3].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(s.x_test[3], img.astype(np.float32) / 255)
    assert s.x_test[3, 5, 7, 2] == np.float32(x_test[3, 2 * 1024 + 5 * 32 + 7]) / 255
    np.testing.assert_array_equal(s.y_test, y_test)


def test_cifar10_from_tarball(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    write_cifar_tar(root / "cifar-10-python.tar.gz", n=10)
    s = datasets.cifar10(root, val_fraction=0.2)
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (40, 10, 10)
    assert (root / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp folder left
