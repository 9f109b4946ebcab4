"""Two-dimensional point sets, as in the TensorFlow Playground and CS231n: seeded, noisy, small.

Each returns ``Splits`` with x float32 of shape (N, 2) and y int64. ``test_fraction`` of all
points (stratified) form the test split, then ``val_fraction`` of the rest form the validation
split; generation and splits both follow ``seed``. Classes are as balanced as ``n_samples``
allows (the first classes get one more point when it does not divide evenly).
"""

from __future__ import annotations

import math

import numpy as np

from ..splits import stratified_split
from .base import Splits, check_fraction, make_splits


def _check(n_samples: int, noise: float, n_classes: int) -> None:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
        raise TypeError(f"n_classes must be an integer; got {n_classes!r}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2; got {n_classes}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be an integer; got {n_samples!r}")
    if n_samples < 2 * n_classes:
        raise ValueError(
            f"n_samples must be at least 2 per class ({2 * n_classes} for {n_classes} classes); "
            f"got {n_samples}"
        )
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating)):
        raise TypeError(f"noise must be a number; got {noise!r}")
    if not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise must be a finite number >= 0; got {noise}")


def _counts(n_samples: int, n_classes: int) -> list[int]:
    base, extra = divmod(n_samples, n_classes)
    return [base + (k < extra) for k in range(n_classes)]


def _split(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    classes: list[str],
    seed: int,
    val_fraction: float,
    test_fraction: float,
) -> Splits:
    check_fraction(test_fraction, "test_fraction")
    check_fraction(val_fraction, "val_fraction")
    rest, test = stratified_split(y, test_fraction, seed=seed)
    return make_splits(
        name,
        x[rest].astype(np.float32),
        y[rest],
        x[test].astype(np.float32),
        y[test],
        classes,
        None,
        val_fraction,
        seed,
    )


def _labels(counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def spiral(
    n_samples: int = 300,
    noise: float = 0.2,
    n_classes: int = 3,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
) -> Splits:
    """CS231n's spiral: ``n_classes`` arms, radius 0..1, angle noise of std ``noise``.

    Arm k: r = linspace(0, 1, m), t = linspace(4k, 4(k + 1), m) + noise * randn(m),
    x = (r sin t, r cos t). No linear classifier separates it; a small MLP does.

    Args:
        n_samples: points in all, at least 2 per class.
        noise: standard deviation of the angle noise (radians).
        n_classes: number of arms (classes).
        seed: seeds the points and the splits.
        val_fraction: the share of the non-test points held out for validation.
        test_fraction: the share of all points held out for testing.

    Returns:
        ``Splits`` with x float32 (N, 2) in [-1, 1], y int64, classes "0".."K-1".

    Example:
        >>> s = cr.data.datasets.spiral(n_samples=300, n_classes=3)
        >>> s.x_train.shape[1], s.num_classes, len(s.y_test)
        (2, 3, 60)
    """
    _check(n_samples, noise, n_classes)
    rng = np.random.default_rng(seed)
    counts = _counts(n_samples, n_classes)
    xs = []
    for k, m in enumerate(counts):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), m) + rng.standard_normal(m) * noise
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
    classes = [str(k) for k in range(n_classes)]
    return _split(
        "spiral", np.concatenate(xs), _labels(counts), classes, seed, val_fraction, test_fraction
    )


def circles(
    n_samples: int = 300,
    noise: float = 0.1,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    factor: float = 0.5,
) -> Splits:
    """Two concentric circles: class 0 on the outer one (radius 1), class 1 on the inner one.

    Args:
        n_samples: points in all, at least 4.
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed: seeds the points and the splits.
        val_fraction: the share of the non-test points held out for validation.
        test_fraction: the share of all points held out for testing.
        factor: radius of the inner circle, in (0, 1).

    Returns:
        ``Splits`` with x float32 (N, 2), y int64, classes ["outer", "inner"].

    Example:
        >>> cr.data.datasets.circles(noise=0.05).classes
        ['outer', 'inner']
    """
    _check(n_samples, noise, 2)
    if not 0 < factor < 1:
        raise ValueError(f"factor (the inner radius) must lie in (0, 1); got {factor}")
    rng = np.random.default_rng(seed)
    counts = _counts(n_samples, 2)
    xs = []
    for radius, m in zip((1.0, float(factor)), counts):
        t = rng.uniform(0.0, 2.0 * np.pi, m)
        xs.append(radius * np.stack([np.cos(t), np.sin(t)], axis=1))
    x = np.concatenate(xs) + rng.standard_normal((n_samples, 2)) * noise
    classes = ["outer", "inner"]
    return _split("circles", x, _labels(counts), classes, seed, val_fraction, test_fraction)


def xor(
    n_samples: int = 300,
    noise: float = 0.05,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
) -> Splits:
    """The Playground's XOR: points in [-1, 1]^2, class 1 where x and y have opposite signs.

    Points keep a small margin (0.05) from the axes, as in the Playground; the noise is added
    after labelling, so with large noise some points cross into the other quadrant.

    Args:
        n_samples: points in all, at least 4 (two classes, balanced).
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed: seeds the points and the splits.
        val_fraction: the share of the non-test points held out for validation.
        test_fraction: the share of all points held out for testing.

    Returns:
        ``Splits`` with x float32 (N, 2), y int64, classes ["same sign", "opposite signs"].

    Example:
        >>> cr.data.datasets.xor().num_classes
        2
    """
    _check(n_samples, noise, 2)
    rng = np.random.default_rng(seed)
    counts = _counts(n_samples, 2)
    margin = 0.05
    xs = []
    for k, m in enumerate(counts):
        mag = rng.uniform(margin, 1.0, (m, 2))
        sx = rng.choice([-1.0, 1.0], m)
        sy = sx if k == 0 else -sx  # class 0: same sign; class 1: opposite signs
        xs.append(mag * np.stack([sx, sy], axis=1))
    x = np.concatenate(xs) + rng.standard_normal((n_samples, 2)) * noise
    classes = ["same sign", "opposite signs"]
    return _split("xor", x, _labels(counts), classes, seed, val_fraction, test_fraction)


def gaussians(
    n_samples: int = 300,
    noise: float = 0.3,
    n_classes: int = 2,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
) -> Splits:
    """Gaussian blobs: class k around (cos a_k, sin a_k), a_k = pi/4 + 2 pi k / n_classes.

    With two classes the centres sit on the diagonal, as in the Playground's Gaussian set.

    Args:
        n_samples: points in all, at least 2 per class.
        noise: the standard deviation of each blob.
        n_classes: number of blobs (classes).
        seed: seeds the points and the splits.
        val_fraction: the share of the non-test points held out for validation.
        test_fraction: the share of all points held out for testing.

    Returns:
        ``Splits`` with x float32 (N, 2), y int64, classes "0".."K-1".

    Example:
        >>> cr.data.datasets.gaussians(n_classes=4).num_classes
        4
    """
    _check(n_samples, noise, n_classes)
    rng = np.random.default_rng(seed)
    counts = _counts(n_samples, n_classes)
    angles = np.pi / 4 + 2 * np.pi * np.arange(n_classes) / n_classes
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    y = _labels(counts)
    x = centres[y] + rng.standard_normal((n_samples, 2)) * noise
    classes = [str(k) for k in range(n_classes)]
    return _split("gaussians", x, y, classes, seed, val_fraction, test_fraction)


def moons(
    n_samples: int = 300,
    noise: float = 0.1,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
) -> Splits:
    """Two interleaving half circles (scikit-learn's make_moons layout).

    Class 0: (cos t, sin t), class 1: (1 - cos t, 0.5 - sin t), t uniform in [0, pi].

    Args:
        n_samples: points in all, at least 4.
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed: seeds the points and the splits.
        val_fraction: the share of the non-test points held out for validation.
        test_fraction: the share of all points held out for testing.

    Returns:
        ``Splits`` with x float32 (N, 2), y int64, classes ["upper", "lower"].

    Example:
        >>> cr.data.datasets.moons(n_samples=100).x_test.shape
        (20, 2)
    """
    _check(n_samples, noise, 2)
    rng = np.random.default_rng(seed)
    counts = _counts(n_samples, 2)
    t0 = rng.uniform(0.0, np.pi, counts[0])
    t1 = rng.uniform(0.0, np.pi, counts[1])
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([upper, lower]) + rng.standard_normal((n_samples, 2)) * noise
    classes = ["upper", "lower"]
    return _split("moons", x, _labels(counts), classes, seed, val_fraction, test_fraction)
