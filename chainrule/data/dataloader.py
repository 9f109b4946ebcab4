"""DataLoader: batches of tensors from a dataset, shuffled repeatably for exact resume.

The shuffle order of epoch k is a pure function of (seed, k): ``np.random.default_rng([seed,
k]).permutation(n)``. The loader counts epochs itself (each ``iter()`` starts the next one), and
``state_dict()`` / ``load_state_dict()`` carry that count, so a run restored from a checkpoint
sees exactly the batches it would have seen without the interruption.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor, to_array
from ..random import default_generator
from .dataset import Subset


def _fast_getter(dataset: Any) -> Callable[[np.ndarray], Any] | None:
    """A function from an index array to a whole batch, when the dataset can do that directly."""
    if isinstance(dataset, Subset):
        inner = _fast_getter(dataset.dataset)
        if inner is None:
            return None
        indices = dataset.indices
        return lambda idx: inner(indices[idx])
    getter = getattr(dataset, "_get_batch", None)
    return getter if callable(getter) else None


def _stack(values: list, field: int) -> Tensor:
    first = values[0]
    if isinstance(first, (Tensor, np.ndarray, np.generic)):
        arrays = [v._data if isinstance(v, Tensor) else np.asarray(v) for v in values]
        try:
            return Tensor._make(np.stack(arrays))
        except ValueError as e:
            shapes = sorted({a.shape for a in arrays}, key=str)
            raise ValueError(
                f"DataLoader: field {field} of the items has different shapes in one batch "
                f"({shapes}); expected equal shapes so they can be stacked"
            ) from e
    return Tensor._make(to_array(values))  # Python numbers: floats become the default dtype


def default_convert(data: Any) -> Any:
    """An item as ``batch_size=None`` yields it: arrays (and NumPy numbers) made Tensors,
    inside tuples, lists and dicts too; Python numbers and other values as they are."""
    if isinstance(data, (np.ndarray, np.generic)):
        return Tensor._make(to_array(data))
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a named tuple keeps its type
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (tuple, list)):
        return type(data)(default_convert(v) for v in data)
    if isinstance(data, dict):
        return {k: default_convert(v) for k, v in data.items()}
    return data


def default_collate(batch: list) -> Any:
    """Stack a list of items into a batch: a tuple of Tensors, one per field.

    Args:
        batch: the dataset items of a batch, each a tuple/list of fields (arrays, Tensors or
            numbers) or a single field.

    Returns:
        A tuple of Tensors of shape (B, ...) for tuple items; one Tensor for single-field items.

    Example:
        >>> b = cr.data.dataloader.default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
        >>> b[0].shape, b[1].tolist()
        ((2, 3), [1, 0])
    """
    first = batch[0]
    if isinstance(first, (tuple, list)):
        return tuple(_stack([it[f] for it in batch], f) for f in range(len(first)))
    return _stack(batch, 0)


class DataLoader:
    """Iterate over a dataset in batches of Tensors, optionally shuffled, repeatably.

    Args:
        dataset: a Dataset (anything with ``__len__`` and ``__getitem__``) of N examples.
        batch_size: examples per batch, at least 1; None turns batching off (each item comes
            as it is, its arrays made Tensors, or through ``collate_fn``).
        shuffle: draw a new order every epoch; epoch k's order is
            ``np.random.default_rng([seed, k]).permutation(N)``.
        sampler: the order instead (an iterable of indices, e.g. ``WeightedRandomSampler``);
            not with ``shuffle``.
        batch_sampler: whole batches of indices instead (e.g. ``BatchSampler``); not with
            ``batch_size``, ``shuffle``, ``sampler`` or ``drop_last``.
        num_workers: PyTorch's, taken so that its calls run, as are ``pin_memory``,
            ``timeout``, ``worker_init_fn``, ``multiprocessing_context``, ``prefetch_factor``,
            ``persistent_workers``, ``pin_memory_device`` and ``in_order``: the items are
            loaded in this process, as PyTorch's ``num_workers=0`` does.
        collate_fn: makes a batch from the list of items (by default ``default_collate``:
            each field stacked into a Tensor).
        drop_last: drop the last batch when it has fewer than ``batch_size`` examples.
        generator: a NumPy Generator (chainrule's) that draws the shuffle seed when ``seed``
            is None.
        seed: the shuffle seed; None draws one from ``generator`` or chainrule's generator
            once, here (so ``cr.manual_seed`` before construction makes the run repeat).

    Returns:
        Iterating yields tuples of Tensors of shape (B, ...), one per field of the items (for a
        ``TensorDataset``: one per array, fetched with one fancy-index per batch). ``len(loader)``
        is the number of batches per epoch.

    Example:
        >>> ds = cr.data.TensorDataset(np.zeros((10, 3), np.float32), np.arange(10))
        >>> loader = cr.data.DataLoader(ds, batch_size=4, shuffle=True, seed=0)
        >>> [tuple(x.shape) for x, y in loader], len(loader)
        ([(4, 3), (4, 3), (2, 3)], 3)
        >>> loader.state_dict()   # the next iter() runs epoch 1
        {'epoch': 1}
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: dataset must have __len__ and __getitem__; got a "
                f"{type(dataset).__name__}. Wrap arrays in cr.data.TensorDataset(x, y)"
            )
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                    "shuffle, sampler, and drop_last"
                )
            batch_size = None
        elif batch_size is None:
            if drop_last:
                raise ValueError(
                    "DataLoader: batch_size=None option disables auto-batching and is mutually "
                    "exclusive with drop_last"
                )
        elif isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an integer; got {batch_size!r}")
        elif batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1; got {batch_size}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                f"DataLoader: num_workers option should be non-negative; got {num_workers!r}"
            )
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable; got {collate_fn!r}")
        if seed is None:
            source = default_generator() if generator is None else generator
            seed = int(source.integers(0, 2**63 - 1))
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"DataLoader: seed must be a non-negative integer; got {seed!r}")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = shuffle
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = collate_fn
        self.drop_last = bool(drop_last)
        self.num_workers, self.pin_memory, self.generator = num_workers, pin_memory, generator
        self.seed = int(seed)
        self._epoch = 0
        self._fetch = _fast_getter(dataset) if collate_fn is None else None

    @property
    def epoch(self) -> int:
        """The epoch the next ``iter()`` will run (0 before the first)."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` run epoch ``epoch`` (its shuffle order depends on it)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(
                f"DataLoader.set_epoch: expected a non-negative integer; got {epoch!r}"
            )
        self._epoch = int(epoch)

    def state_dict(self) -> dict:
        """``{"epoch": k}``: the epoch the next ``iter()`` will run."""
        return {"epoch": self._epoch}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``; the next ``iter()`` repeats that epoch's exact order.

        A ``"seed"`` entry, if present, replaces the shuffle seed as well.
        """
        if not isinstance(state_dict, dict) or "epoch" not in state_dict:
            raise ValueError(
                f"DataLoader.load_state_dict: expected a dict with an 'epoch' entry, as "
                f"state_dict() returns; got {state_dict!r}"
            )
        self.set_epoch(state_dict["epoch"])
        if "seed" in state_dict:
            self.seed = int(state_dict["seed"])

    def order(self, epoch: int) -> np.ndarray:
        """The example order of epoch ``epoch``: the sampler's (asked anew, after its
        ``set_epoch`` where it has one), a permutation when shuffling, else 0..N-1."""
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(int(epoch))
            return np.asarray([int(i) for i in self.sampler], dtype=np.int64)
        n = len(self.dataset)
        if self.shuffle:
            return np.random.default_rng([self.seed, int(epoch)]).permutation(n)
        return np.arange(n)

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return n if self.batch_size is None else self._batch_count(n)

    def _batch_count(self, n: int) -> int:
        """How many batches ``n`` examples make (the last one short, unless drop_last)."""
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        # the order is fixed and the epoch counted when iter() is called, not at the first next()
        epoch = self._epoch
        self._epoch += 1
        if self.batch_sampler is not None:
            if hasattr(self.batch_sampler, "set_epoch"):
                self.batch_sampler.set_epoch(epoch)
            return self._batches(np.asarray(b, dtype=np.int64) for b in self.batch_sampler)
        order = self.order(epoch)
        if self.batch_size is None:
            return self._items(order)
        bs = self.batch_size
        count = self._batch_count(len(order))
        return self._batches(order[b * bs : (b + 1) * bs] for b in range(count))

    def _batches(self, batches: Iterable[np.ndarray]) -> Iterator[Any]:
        for idx in batches:
            if self._fetch is not None:
                yield self._fetch(idx)
            else:
                collate = self.collate_fn or default_collate
                yield collate([self.dataset[int(i)] for i in idx])

    def _items(self, order: np.ndarray) -> Iterator[Any]:
        convert = self.collate_fn or default_convert
        for i in order:
            yield convert(self.dataset[int(i)])

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"seed={self.seed}, epoch={self._epoch})"
        )
