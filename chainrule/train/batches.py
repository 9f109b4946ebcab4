"""From a data set to batches of Tensors: the splits a config names and the loaders over them.

A sample is an array until it enters a loader, and a Tensor from there on: the loaders made here
turn the prepared arrays into Tensors once, batch by batch, and the model, the loss and the
metrics of the loop (``loop.py``) see nothing else. Each batch then passes ``to_device``
(``device.py``) on its way out of the loader.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..data import DataLoader, TensorDataset
from ..data.images import Augment
from .config import FILE_DATASETS, TrainConfig

#: Samples per batch when a split is only scored (validation): no gradients, so larger batches
#: cost no more memory than a training batch's graph.
EVAL_BATCH = 1024


def load_data(config: TrainConfig) -> Any:
    """The data set's splits, as ``cr.data.datasets`` gives them for these options."""
    from ..data import datasets

    kwargs: dict[str, Any] = {"val_fraction": config.val_fraction, "seed": config.seed}
    if config.dataset in FILE_DATASETS:  # digits is embedded, the 2-D sets are generated
        kwargs.update(root=config.data_dir, download=config.download)
    return datasets.load(config.dataset, **kwargs)


def feature_cache(config: TrainConfig) -> Path:
    """Where a data set's hand-crafted features are cached: ``features`` in its data folder
    (``--data-dir``, else ``$CHAINRULE_DATA/<data set>``), computed once per set of options."""
    from ..data.datasets.base import dataset_folder

    return dataset_folder(config.data_dir, config.dataset) / "features"


def train_loader(config: TrainConfig, x: np.ndarray, y: np.ndarray) -> DataLoader:
    """Shuffled batches of ``config.batch_size`` (x, y) Tensors; epoch k's order depends only on
    (``config.seed``, k), and the loader's state (k) is in every checkpoint. With
    ``config.augment`` the images of each batch are randomly shifted (and flipped on CIFAR-10),
    anew every epoch (``AugmentedLoader``)."""
    dataset = TensorDataset(x, y)
    if config.augment:
        augment = Augment.for_dataset(config.dataset, side=x.shape[-1])
        return AugmentedLoader(
            dataset, augment, batch_size=config.batch_size, shuffle=True, seed=config.seed
        )
    return DataLoader(dataset, batch_size=config.batch_size, shuffle=True, seed=config.seed)


class AugmentedLoader(DataLoader):
    """A DataLoader whose image batches (N, C, H, W) pass an ``Augment`` on their way out.

    The augmentation's random numbers of epoch k come from a generator seeded with (seed, k,
    a constant), like the shuffle order: a resumed run (the loader's state is its epoch) sees
    exactly the crops and flips it would have seen without the interruption.
    """

    def __init__(self, dataset: Any, augment: Augment, **kwargs: Any) -> None:
        super().__init__(dataset, **kwargs)
        self.augment = augment

    def __iter__(self) -> Iterator[Any]:
        rng = np.random.default_rng([self.seed, self.epoch, _AUGMENT_STREAM])
        batches = super().__iter__()  # fixes the order and counts the epoch now, as iter() does
        return ((Tensor._make(self.augment(x._data, rng)), y) for x, y in batches)


#: tells the augmentation's random stream apart from the shuffle's, which has the same seed
_AUGMENT_STREAM = 0xA06


def eval_loader(x: np.ndarray, y: np.ndarray) -> DataLoader:
    """Batches of ``EVAL_BATCH`` (x, y) Tensors in order, for scoring a split."""
    # the seed is given, although unused without shuffling: seed=None would draw one from
    # chainrule's generator, and the training run's random stream must not move
    return DataLoader(TensorDataset(x, y), batch_size=EVAL_BATCH, seed=0)
