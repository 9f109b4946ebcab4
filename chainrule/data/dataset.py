"""Datasets: anything with a length and items, plus views, splits and the in-memory TensorDataset.

The design is PyTorch's: a ``Dataset`` has ``__len__`` and ``__getitem__``; ``TensorDataset`` holds
arrays that share their first dimension and returns one tuple of rows per index; ``Subset`` is a
view through a list of indices; ``random_split`` cuts a dataset into non-overlapping subsets.
``TensorDataset`` also answers ``_get_batch(indices)`` with one fancy-index per array, which the
``DataLoader`` uses (through any ``Subset`` around it) instead of a Python loop over items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor, to_array
from ..random import default_generator


class Dataset:
    """A collection of examples: subclasses define ``__len__`` and ``__getitem__``.

    ``__getitem__(i)`` returns one example, conventionally a tuple ``(x, y)`` of arrays, tensors
    or numbers; the ``DataLoader`` stacks each field over a batch.

    Example:
        >>> class Squares(cr.data.Dataset):
        ...     def __len__(self):
        ...         return 10
        ...     def __getitem__(self, i):
        ...         return np.float32(i), np.float32(i * i)
        >>> len(Squares())
        10
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


def _as_array(t: Any, position: int) -> np.ndarray:
    if isinstance(t, Tensor):
        if t.requires_grad:
            return t.detach().numpy()
        return t.numpy()
    if isinstance(t, np.ndarray):
        return to_array(t, copy=False)
    raise TypeError(
        f"TensorDataset: argument {position} is a {type(t).__name__}; expected a Tensor or a "
        "NumPy array (use np.asarray(...) or cr.tensor(...) first)"
    )


class TensorDataset(Dataset):
    """Examples made of rows of tensors (or arrays) that share their first dimension.

    Args:
        *tensors: Tensors or NumPy arrays of shapes (N, ...), (N, ...), ...; they are kept as
            arrays without copying.

    Returns:
        ``dataset[i]`` is a tuple of Tensors, one row of each input; ``len(dataset)`` is N.

    Example:
        >>> ds = cr.data.TensorDataset(np.zeros((5, 3), np.float32), np.arange(5))
        >>> len(ds), ds[2][0].shape, ds[2][1].item()
        (5, (3,), 2)
    """

    def __init__(self, *tensors: Tensor | np.ndarray) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor or array; got none")
        arrays = tuple(_as_array(t, i) for i, t in enumerate(tensors))
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(
                    f"TensorDataset: argument {i} is a 0-d value; expected arrays of shape (N, ...)"
                )
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(
                f"TensorDataset: all tensors must have the same first dimension (the number of "
                f"examples); got shapes {shapes}"
            )
        self.arrays = arrays

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The data as Tensors sharing memory with the stored arrays."""
        return tuple(Tensor._make(a) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor._make(np.array(a[index])) for a in self.arrays)

    def _get_batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """Rows ``indices`` of every array: one fancy-index per array, no per-item loop."""
        return tuple(Tensor._make(a[indices]) for a in self.arrays)


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order (a view, nothing is copied).

    Args:
        dataset: any Dataset.
        indices: positions into ``dataset``, a sequence or 1-D integer array of length M.

    Returns:
        A Dataset of length M with ``subset[i] == dataset[indices[i]]``.

    Example:
        >>> ds = cr.data.TensorDataset(np.arange(10))
        >>> cr.data.Subset(ds, [7, 2])[0][0].item()
        7
    """

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        idx = np.asarray(indices)
        if idx.size == 0:
            idx = idx.astype(np.int64)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise TypeError(
                f"Subset: indices must be a 1-D sequence of integers; got an array of shape "
                f"{idx.shape} and dtype {idx.dtype}"
            )
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(
                f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} examples; got "
                f"values from {idx.min()} to {idx.max()}"
            )
        self.dataset = dataset
        self.indices = idx.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]


def _lengths(lengths: Sequence[int | float], n: int) -> list[int]:
    """Integer lengths from ints summing to n, or fractions summing to 1 (PyTorch's rule)."""
    values = list(lengths)
    if not values:
        raise ValueError("random_split: expected at least one length; got none")
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        if any(v < 0 for v in values) or sum(values) != n:
            raise ValueError(
                f"random_split: integer lengths must be non-negative and sum to the dataset's "
                f"length {n}; got {values} (sum {sum(values)})"
            )
        return [int(v) for v in values]
    if not all(isinstance(v, (int, float, np.floating, np.integer)) for v in values):
        raise TypeError(f"random_split: lengths must be ints or floats; got {values!r}")
    if any(v < 0 or v > 1 for v in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ValueError(
            f"random_split: fractions must lie in [0, 1] and sum to 1; got {values} "
            f"(sum {sum(values)}). Pass integers summing to {n} for exact sizes"
        )
    out = [int(math.floor(n * v)) for v in values]
    for i in range(n - sum(out)):  # hand out the remainder round-robin, as PyTorch does
        out[i % len(out)] += 1
    return out


def random_split(
    dataset: Any,
    lengths: Sequence[int | float],
    generator: np.random.Generator | None = None,
    *,
    seed: int | None = None,
) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping subsets of the given lengths.

    Args:
        dataset: any Dataset of length N.
        lengths: integers summing to N, or fractions summing to 1 (floors, with the remainder
            handed out one by one from the first subset, as PyTorch does).
        generator: the NumPy Generator to draw the split from (PyTorch's argument; chainrule's
            generators are NumPy's).
        seed: or a seed that makes the split repeatable; with neither, chainrule's generator
            draws it (``cr.manual_seed``).

    Returns:
        A list of ``Subset`` s, one per length.

    Example:
        >>> ds = cr.data.TensorDataset(np.arange(10))
        >>> train, val = cr.data.random_split(ds, [0.8, 0.2], seed=0)
        >>> len(train), len(val)
        (8, 2)
    """
    n = len(dataset)
    sizes = _lengths(lengths, n)
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"random_split: generator must be a NumPy Generator; got {type(generator).__name__}"
            " (a seed goes as seed=...)"
        )
    if seed is not None:
        rng = np.random.default_rng(seed)
    else:
        rng = generator if generator is not None else default_generator()
    perm = rng.permutation(n)
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, perm[start : start + size]))
        start += size
    return out
