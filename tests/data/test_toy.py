"""The 2-D point sets with K classes: every set takes n_classes, and two classes are unchanged."""

from __future__ import annotations

import itertools

import _toy_two_class as before
import numpy as np
import pytest

from chainrule.data import datasets

NAMES = ["spiral", "circles", "xor", "gaussians", "moons"]
SPLITS = ["x_train", "y_train", "x_val", "y_val", "x_test", "y_test"]


def _all(s):
    return np.concatenate([s.x_train, s.x_val, s.x_test]), np.concatenate(
        [s.y_train, s.y_val, s.y_test]
    )


@pytest.mark.parametrize("name, k", list(itertools.product(NAMES, [2, 3, 4, 5])))
def test_every_set_takes_2_to_5_classes(name, k):
    s = datasets.load(name, n_samples=301, noise=0.1, n_classes=k, seed=3)
    assert s.num_classes == len(s.classes) == k and len(set(s.classes)) == k
    x, y = _all(s)
    assert x.shape == (301, 2) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.isfinite(x).all()
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k and counts.max() - counts.min() <= 1  # all of 0..k-1, balanced
    for split in (s.y_train, s.y_test):  # stratified: every class in both
        assert set(split.tolist()) == set(range(k))
    again = datasets.load(name, n_samples=301, noise=0.1, n_classes=k, seed=3)
    for f in SPLITS:
        np.testing.assert_array_equal(getattr(s, f), getattr(again, f))
    other = datasets.load(name, n_samples=301, noise=0.1, n_classes=k, seed=4)
    assert not np.array_equal(s.x_train, other.x_train)


@pytest.mark.parametrize("name", ["circles", "xor", "moons"])
@pytest.mark.parametrize("seed, n_samples, noise", [(0, 300, 0.1), (1, 9, 0.0), (7, 101, 0.4)])
def test_two_classes_are_the_same_points_as_before(name, seed, n_samples, noise):
    kw = {"n_samples": n_samples, "noise": noise, "seed": seed}
    old = getattr(before, name)(**kw)
    for new in (getattr(datasets, name)(**kw), getattr(datasets, name)(n_classes=2, **kw)):
        assert new.classes == old.classes
        for f in SPLITS:
            a, b = getattr(new, f), getattr(old, f)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f


@pytest.mark.parametrize("k", [2, 3, 5])
def test_circles_are_evenly_spaced_rings_from_the_outside_in(k):
    x, y = _all(datasets.circles(n_samples=50 * k, noise=0.0, n_classes=k))
    r = np.linalg.norm(x, axis=1)
    for c, radius in enumerate(np.arange(k, 0, -1) / k):  # 1, (k-1)/k, ..., 1/k
        np.testing.assert_allclose(r[y == c], radius, atol=1e-6)


def test_circles_factor_sets_the_innermost_radius():
    x, y = _all(datasets.circles(n_samples=30, noise=0.0, n_classes=3, factor=0.4))
    r = np.linalg.norm(x, axis=1)
    for c, radius in enumerate([1.0, 0.7, 0.4]):
        np.testing.assert_allclose(r[y == c], radius, atol=1e-6)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_xor_is_a_checkerboard_coloured_by_i_plus_j_mod_k(k):
    x, y = _all(datasets.xor(n_samples=400, noise=0.0, n_classes=k))
    assert np.abs(x).max() <= 1.0
    cell = np.floor((x + 1) * k / 2).astype(int)  # column i, row j
    np.testing.assert_array_equal((cell[:, 0] + cell[:, 1]) % k, y)
    lines = np.linspace(-1, 1, k + 1)[1:-1]  # the lines between cells
    gap = np.abs(x[:, :, None] - lines).min(axis=2)
    assert gap.min() >= 0.05 - 1e-6  # the Playground's margin
    used = {tuple(c) for c in cell}
    assert len(used) == k * k  # every cell holds points
    if k == 2:  # XOR: class 1 where the signs differ
        np.testing.assert_array_equal((x[:, 0] * x[:, 1] < 0).astype(int), y)


def test_xor_keeps_a_margin_it_can_afford_with_many_classes():
    x, y = _all(datasets.xor(n_samples=1200, noise=0.0, n_classes=20))
    cell = np.floor((x + 1) * 20 / 2).astype(int)
    np.testing.assert_array_equal((cell[:, 0] + cell[:, 1]) % 20, y)
    assert np.bincount(y).min() == 60


@pytest.mark.parametrize("k", [2, 3, 5])
def test_moons_are_a_chain_of_alternating_half_circles(k):
    x, y = _all(datasets.moons(n_samples=60 * k, noise=0.0, n_classes=k))
    for c in range(k):
        centre = np.array([c, c / 2])
        p = x[y == c] - centre
        np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-6)
        s = 1 if c % 2 == 0 else -1  # an arch, then a bowl
        assert (s * p[:, 1] >= -1e-6).all()
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    other = y[:, None] != y[None]
    assert d[other].min() > 0.35  # no two moons touch: sqrt(2) - 1 apart at least


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "k, err, message",
    [
        (1, ValueError, "n_classes must be at least 2; got 1"),
        (0, ValueError, "n_classes must be at least 2; got 0"),
        (-3, ValueError, "n_classes must be at least 2; got -3"),
        (2.5, TypeError, "n_classes must be an integer; got 2.5"),
        (True, TypeError, "n_classes must be an integer; got True"),
        ("3", TypeError, "n_classes must be an integer; got '3'"),
    ],
)
def test_a_bad_class_count_is_refused_saying_what_was_expected(name, k, err, message):
    with pytest.raises(err, match=message):
        datasets.load(name, n_classes=k)


@pytest.mark.parametrize("name", NAMES)
def test_more_than_five_classes_is_the_playground_s_limit_not_the_sets(name):
    s = datasets.load(name, n_samples=70, n_classes=7)
    assert s.num_classes == 7 and set(_all(s)[1].tolist()) == set(range(7))
    with pytest.raises(ValueError, match=r"at least 2 per class \(14 for 7 classes\); got 13"):
        datasets.load(name, n_samples=13, n_classes=7)


@pytest.mark.parametrize("factor, err", [(1.0, ValueError), (0.0, ValueError), ("a", TypeError)])
def test_circles_factor_is_checked(factor, err):
    with pytest.raises(err, match="factor \\(the innermost radius\\)"):
        datasets.circles(n_classes=3, factor=factor)
