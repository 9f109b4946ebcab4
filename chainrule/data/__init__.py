"""Data: datasets, loaders, splits, transforms and the data sets of the lecture.

- ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split``: PyTorch's names and behaviour.
- ``DataLoader(dataset, batch_size, shuffle, ..., seed=)``: batches of Tensors, with PyTorch's
  arguments (``sampler``, ``batch_sampler``, ``collate_fn``, ``batch_size=None``, ...); the
  order of epoch k depends only on (seed, k), and ``state_dict()`` resumes it exactly.
- ``Sampler``, ``SequentialSampler``, ``RandomSampler``, ``SubsetRandomSampler``,
  ``WeightedRandomSampler``, ``BatchSampler``: PyTorch's samplers.
- ``stratified_split(labels, fraction, seed)``: per-class holdout indices.
- ``transforms``: ``flatten``, ``scale01``, ``Standardize`` (train statistics only), ``one_hot``.
- ``images``: ``to_images`` (N x C x H x W, as a ConvNet reads them) and ``Augment`` (random
  crops, horizontal flips).
- ``datasets``: ``digits`` (embedded), ``mnist``, ``fashion_mnist``, ``cifar10`` and 2-D sets.
- ``DataFormatError``: a data file is truncated, corrupt or fails its checksum.

Example:
    >>> s = cr.data.datasets.digits()
    >>> ds = cr.data.TensorDataset(cr.data.transforms.flatten(s.x_train), s.y_train)
    >>> x, y = next(iter(cr.data.DataLoader(ds, batch_size=32, shuffle=True, seed=0)))
    >>> x.shape, y.dtype
    ((32, 64), dtype('int64'))
"""

from __future__ import annotations

from . import datasets, images, transforms
from .dataloader import DataLoader, default_collate, default_convert
from .dataset import Dataset, Subset, TensorDataset, random_split
from .download import data_dir, download_url
from .errors import DataFormatError, DownloadError
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .splits import stratified_split

__all__ = [
    "BatchSampler",
    "DataFormatError",
    "DownloadError",
    "DataLoader",
    "Dataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "Subset",
    "TensorDataset",
    "WeightedRandomSampler",
    "data_dir",
    "datasets",
    "default_collate",
    "default_convert",
    "download_url",
    "images",
    "random_split",
    "stratified_split",
    "transforms",
]
