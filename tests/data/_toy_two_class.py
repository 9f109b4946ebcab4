"""circles, xor and moons as they were before they took n_classes (two classes only), kept
verbatim so that the tests can check the generalised sets give the same two-class points, bit for
bit, for every seed: the figures and numbers made with them stay valid."""

from __future__ import annotations

import numpy as np

from chainrule.data.datasets.toy import _check, _counts, _labels, _split


def circles(n_samples=300, noise=0.1, seed=0, val_fraction=0.1, test_fraction=0.2, factor=0.5):
    _check(n_samples, noise, 2)
    rng = np.random.default_rng(seed)
    counts = _counts(n_samples, 2)
    xs = []
    for radius, m in zip((1.0, float(factor)), counts):
        t = rng.uniform(0.0, 2.0 * np.pi, m)
        xs.append(radius * np.stack([np.cos(t), np.sin(t)], axis=1))
    x = np.concatenate(xs) + rng.standard_normal((n_samples, 2)) * noise
    classes = ["outer", "inner"]
    return _split("circles", x, _labels(counts), classes, seed, val_fraction, test_fraction)


def xor(n_samples=300, noise=0.05, seed=0, val_fraction=0.1, test_fraction=0.2):
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


def moons(n_samples=300, noise=0.1, seed=0, val_fraction=0.1, test_fraction=0.2):
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
