"""From a data set to batches of Tensors: the splits a config names and the loaders over them.

A sample is an array until it enters a loader, and a Tensor from there on: the loaders made here
turn the prepared arrays into Tensors once, batch by batch, and the model, the loss and the
metrics of the loop (``loop.py``) see nothing else. Each batch then passes ``to_device``
(``device.py``) on its way out of the loader.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import DataLoader, TensorDataset
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


def train_loader(config: TrainConfig, x: np.ndarray, y: np.ndarray) -> DataLoader:
    """Shuffled batches of ``config.batch_size`` (x, y) Tensors; epoch k's order depends only on
    (``config.seed``, k), and the loader's state (k) is in every checkpoint."""
    return DataLoader(
        TensorDataset(x, y), batch_size=config.batch_size, shuffle=True, seed=config.seed
    )


def eval_loader(x: np.ndarray, y: np.ndarray) -> DataLoader:
    """Batches of ``EVAL_BATCH`` (x, y) Tensors in order, for scoring a split."""
    # the seed is given, although unused without shuffling: seed=None would draw one from
    # chainrule's generator, and the training run's random stream must not move
    return DataLoader(TensorDataset(x, y), batch_size=EVAL_BATCH, seed=0)
