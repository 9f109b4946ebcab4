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
    factor: float | None = None,
    n_classes: int = 2,
) -> Splits:
    """Concentric circles, one per class: class 0 on the outer one (radius 1), the last innermost.

    The radii are evenly spaced from 1 down to ``factor``, which defaults to 1 / n_classes, so
    the rings are as far from each other as the innermost is from the centre: 1 and 0.5 for two
    classes (the Playground's and scikit-learn's set), 1, 2/3 and 1/3 for three.

    Args:
        n_samples: points in all, at least 2 per class.
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed: seeds the points and the splits.
        val_fraction: the share of the non-test points held out for validation.
        test_fraction: the share of all points held out for testing.
        factor: radius of the innermost circle, in (0, 1); None: 1 / n_classes.
        n_classes: number of circles (classes).

    Returns:
        ``Splits`` with x float32 (N, 2), y int64, classes ["outer", "inner"] for two classes,
        else "0".."K-1" from the outside in.

    Example:
        >>> cr.data.datasets.circles(noise=0.05).classes
        ['outer', 'inner']
        >>> cr.data.datasets.circles(n_classes=4).num_classes
        4
    """
    _check(n_samples, noise, n_classes)
    if factor is None:
        factor = 1.0 / n_classes
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.floating)):
        raise TypeError(f"factor (the innermost radius) must be a number; got {factor!r}")
    if not 0 < factor < 1:
        raise ValueError(f"factor (the innermost radius) must lie in (0, 1); got {factor}")
    rng = np.random.default_rng(seed)
    counts = _counts(n_samples, n_classes)
    xs = []
    for radius, m in zip(np.linspace(1.0, float(factor), n_classes), counts):
        t = rng.uniform(0.0, 2.0 * np.pi, m)
        xs.append(radius * np.stack([np.cos(t), np.sin(t)], axis=1))
    x = np.concatenate(xs) + rng.standard_normal((n_samples, 2)) * noise
    classes = ["outer", "inner"] if n_classes == 2 else [str(k) for k in range(n_classes)]
    return _split("circles", x, _labels(counts), classes, seed, val_fraction, test_fraction)


def xor(
    n_samples: int = 300,
    noise: float = 0.05,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    n_classes: int = 2,
) -> Splits:
    """The Playground's XOR, and its K-colour checkerboard: cell (i, j) has class (i + j) mod K.

    [-1, 1]^2 is cut into K x K square cells, i counting columns from the left and j rows from
    the bottom. XOR is addition mod 2: with two classes the cells are the quadrants, class 0
    where x and y have the same sign, class 1 where they differ. With K classes each class owns
    K cells along a (wrapped) diagonal, and no two cells that share a side share a class.
    Points are uniform in their cell and keep a small margin (0.05, less past 10 classes) from
    the lines between cells, as the Playground keeps them from the axes; the noise is added after
    labelling, so with large noise some points cross into a neighbouring cell.

    Args:
        n_samples: points in all, at least 2 per class.
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed: seeds the points and the splits.
        val_fraction: the share of the non-test points held out for validation.
        test_fraction: the share of all points held out for testing.
        n_classes: K, the number of classes; the board has K x K cells.

    Returns:
        ``Splits`` with x float32 (N, 2), y int64, classes ["same sign", "opposite signs"] for
        two classes, else "0".."K-1".

    Example:
        >>> cr.data.datasets.xor().num_classes
        2
        >>> cr.data.datasets.xor(n_classes=3).classes
        ['0', '1', '2']
    """
    _check(n_samples, noise, n_classes)
    rng = np.random.default_rng(seed)
    counts = _counts(n_samples, n_classes)
    margin = min(0.05, 0.5 / n_classes)  # a cell is 2 / K wide: keep a half of it at least
    xs = []
    for k, m in enumerate(counts):
        r = rng.random((m, 2))
        i = rng.integers(0, n_classes, m)  # the cell's column, uniform over the class's K cells
        j = (k - i) % n_classes  # and its row: (i + j) mod K = k
        cols = _in_cell(i, r[:, 0], n_classes, margin)
        rows = _in_cell(j, r[:, 1], n_classes, margin)
        xs.append(np.stack([cols, rows], axis=1))
    x = np.concatenate(xs) + rng.standard_normal((n_samples, 2)) * noise
    classes = (
        ["same sign", "opposite signs"] if n_classes == 2 else [str(k) for k in range(n_classes)]
    )
    return _split("xor", x, _labels(counts), classes, seed, val_fraction, test_fraction)


def _in_cell(cell: np.ndarray, r: np.ndarray, n_cells: int, margin: float) -> np.ndarray:
    """Coordinates uniform in cell ``cell`` of ``n_cells`` cutting [-1, 1], one per r in [0, 1).

    The cell is shrunk by ``margin`` at its inner edges (not at -1 and 1). A cell left of the
    centre is filled from its right edge outwards, x = -(a + (b - a) r), so that two cells
    reproduce the Playground's draw, sign times a magnitude uniform in [margin, 1], bit for bit.
    """
    width = 2.0 / n_cells
    lo = -1.0 + cell * width
    hi = -1.0 + (cell + 1) * width
    inner_lo = np.where(cell > 0, margin, 0.0)
    inner_hi = np.where(cell < n_cells - 1, margin, 0.0)
    left = 2 * cell + 1 < n_cells  # the cell's centre lies left of 0
    near = np.where(left, -hi + inner_hi, lo + inner_lo)  # the edge the draw starts from
    far = np.where(left, -lo - inner_lo, hi - inner_hi)
    return np.where(left, -1.0, 1.0) * (near + (far - near) * r)


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
    n_classes: int = 2,
) -> Splits:
    """Interleaving half circles (scikit-learn's make_moons layout), a chain of them for K > 2.

    Moon k is the half circle (k + s cos t, k / 2 + s sin t), t uniform in [0, pi], with
    s = +1 for even k (an arch) and -1 for odd k (a bowl). Class 0 is (cos t, sin t) and class 1
    (1 - cos t, 0.5 - sin t), the two moons. Each moon is the one before it turned 180 degrees
    about a point, so every neighbouring pair interlocks exactly as the two moons do, and the
    chain climbs to the upper right (moons k and k + 2 come no closer than sqrt(2) - 1).

    Args:
        n_samples: points in all, at least 2 per class.
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed: seeds the points and the splits.
        val_fraction: the share of the non-test points held out for validation.
        test_fraction: the share of all points held out for testing.
        n_classes: number of moons (classes).

    Returns:
        ``Splits`` with x float32 (N, 2), y int64, classes ["upper", "lower"] for two classes,
        else "0".."K-1" along the chain.

    Example:
        >>> cr.data.datasets.moons(n_samples=100).x_test.shape
        (20, 2)
        >>> cr.data.datasets.moons(n_classes=3).num_classes
        3
    """
    _check(n_samples, noise, n_classes)
    rng = np.random.default_rng(seed)
    counts = _counts(n_samples, n_classes)
    ts = [rng.uniform(0.0, np.pi, m) for m in counts]
    xs = []
    for k, t in enumerate(ts):
        s = 1.0 if k % 2 == 0 else -1.0
        xs.append(np.stack([k + s * np.cos(t), k / 2 + s * np.sin(t)], axis=1))
    x = np.concatenate(xs) + rng.standard_normal((n_samples, 2)) * noise
    classes = ["upper", "lower"] if n_classes == 2 else [str(k) for k in range(n_classes)]
    return _split("moons", x, _labels(counts), classes, seed, val_fraction, test_fraction)
