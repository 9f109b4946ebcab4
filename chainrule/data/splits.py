"""Stratified splits: hold out the same fraction of every class, repeatably."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor


def stratified_split(labels: Any, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split example indices so that each class keeps its share in both parts.

    Per class with ``count`` examples, ``round(fraction * count)`` of them (chosen at random)
    go to the holdout part and the rest to the train part, so class proportions match in both.
    Halves round up (0.5 -> 1), so a class of 5 with fraction 0.1 still gives one holdout.

    Args:
        labels: class labels, shape (N,), integers (a NumPy array, list or Tensor).
        fraction: the share to hold out, in [0, 1].
        seed: the split is a pure function of (labels, fraction, seed).

    Returns:
        ``(train_idx, holdout_idx)``: int64 arrays of positions into ``labels``, each sorted
        ascending, disjoint, together covering 0..N-1.

    Example:
        >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
        >>> train, val = cr.data.stratified_split(y, 0.5, seed=0)
        >>> np.bincount(y[val]).tolist()
        [2, 3]
    """
    y = labels.numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(
            f"stratified_split: labels must be 1-D (one class per example); got shape {y.shape}"
        )
    if y.size and y.dtype.kind not in "iub":
        raise TypeError(
            f"stratified_split: labels must be integers; got dtype {y.dtype}. Map class names "
            "to 0..C-1 first"
        )
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)):
        raise TypeError(f"stratified_split: fraction must be a number; got {fraction!r}")
    if not 0.0 <= float(fraction) <= 1.0:
        raise ValueError(f"stratified_split: fraction must lie in [0, 1]; got {fraction}")
    rng = np.random.default_rng(seed)
    holdout = []
    for c in np.unique(y):  # sorted, so the draws happen in a fixed order
        members = np.flatnonzero(y == c)
        k = math.floor(float(fraction) * members.size + 0.5)
        holdout.append(rng.permutation(members)[:k])
    hold = np.sort(np.concatenate(holdout)) if holdout else np.zeros(0, np.int64)
    mask = np.ones(y.shape[0], dtype=bool)
    mask[hold] = False
    return np.flatnonzero(mask).astype(np.int64), hold.astype(np.int64)
