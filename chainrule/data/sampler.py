"""Samplers: the order in which a DataLoader visits a dataset, as PyTorch's.

A sampler is an iterable of dataset indices (``BatchSampler``: of lists of them) with a length
where it knows one. ``DataLoader(sampler=...)`` takes one in place of its own shuffle, and
``DataLoader(batch_sampler=...)`` one that makes whole batches. The random ones draw from a
NumPy generator (``generator=``, chainrule's generators are NumPy's; by default a fresh one
seeded from chainrule's generator at each pass, so ``cr.manual_seed`` makes a run repeat).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..random import default_generator


class Sampler:
    """Base class: iterating yields dataset indices; ``__len__`` says how many, if known."""

    def __init__(self, data_source: Any = None) -> None:
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, in order."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _rng(generator: Any) -> np.random.Generator:
    """The generator a random sampler draws one pass from: ``generator`` itself, or a fresh
    one seeded from chainrule's generator."""
    if generator is None:
        return np.random.default_rng(int(default_generator().integers(0, 2**63 - 1)))
    if not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"generator must be a NumPy Generator (cr.manual_seed returns chainrule's); got "
            f"{type(generator).__name__}"
        )
    return generator


def _count(value: Any, name: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{who}: {name} should be a positive integer; got {value!r}")
    return int(value)


class RandomSampler(Sampler):
    """A random order of the dataset's indices at each pass (a permutation), or with
    ``replacement`` ``num_samples`` indices drawn independently."""

    def __init__(
        self,
        data_source: Any,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Any = None,
    ) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a bool; got {replacement!r}")
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = (
            None if num_samples is None else _count(num_samples, "num_samples", "RandomSampler")
        )

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, rng = len(self.data_source), _rng(self.generator)
        if self.replacement:
            return iter(rng.integers(0, n, self.num_samples).tolist())
        rounds = -(-self.num_samples // n) if n else 0  # more samples than items: permutations
        order = [i for _ in range(rounds) for i in rng.permutation(n).tolist()]
        return iter(order[: self.num_samples])

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order at each pass."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices, self.generator = indices, generator

    def __iter__(self) -> Iterator[int]:
        order = _rng(self.generator).permutation(len(self.indices))
        return iter([int(self.indices[i]) for i in order])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights`` (one per
    dataset item): oversampling rare classes. Without ``replacement``, each index at most once.
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: Any = None,
    ) -> None:
        w = weights.detach().numpy() if isinstance(weights, Tensor) else np.asarray(weights)
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 1 or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError(
                "WeightedRandomSampler: weights should be a 1-d sequence of non-negative, "
                f"finite numbers with a positive sum; got {weights!r}"
            )
        self.num_samples = _count(num_samples, "num_samples", "WeightedRandomSampler")
        if not isinstance(replacement, bool):
            raise ValueError(
                f"WeightedRandomSampler: replacement should be a bool; got {replacement!r}"
            )
        if not replacement and self.num_samples > np.count_nonzero(w):
            raise ValueError(
                f"WeightedRandomSampler: {self.num_samples} samples without replacement, but "
                f"only {np.count_nonzero(w)} weights are positive"
            )
        self.weights, self.replacement, self.generator = w, replacement, generator

    def __iter__(self) -> Iterator[int]:
        p = self.weights / self.weights.sum()
        picks = _rng(self.generator).choice(len(p), self.num_samples, replace=self.replacement, p=p)
        return iter(picks.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter, unless
    ``drop_last``)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.batch_size = _count(batch_size, "batch_size", "BatchSampler")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a bool; got {drop_last!r}")
        self.sampler, self.drop_last = sampler, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
