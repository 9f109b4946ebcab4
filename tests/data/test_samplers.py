"""The DataLoader's PyTorch arguments (sampler, batch_sampler, collate_fn, batch_size=None, the
worker options) and the samplers, against PyTorch's where the order is not random, and by what
a random order must be (a permutation, the counts a weighting asks for) where it is."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)

X = np.arange(20, dtype=np.float32).reshape(10, 2)
Y = np.arange(10)


class Items(cr.data.Dataset):
    """Items of different lengths: only a collate_fn of one's own can batch them."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.arange(i + 1, dtype=np.float32), i


def _batches(loader):
    return [tuple(np.asarray(t.numpy()).tolist() for t in b) for b in loader]


def test_fixed_orders_batch_as_pytorch_s():
    torch = pytest.importorskip("torch")
    tud = torch.utils.data
    ours_ds, theirs_ds = TensorDataset(X, Y), tud.TensorDataset(torch.tensor(X), torch.tensor(Y))
    order = [3, 1, 4, 1, 5, 9, 2, 6]
    cases = [
        ({"batch_size": 3, "sampler": order}, {"batch_size": 3, "sampler": order}),
        ({"batch_size": 3, "sampler": order, "drop_last": True},) * 2,
        ({"batch_sampler": [[0, 1], [7], [2, 2, 9]]},) * 2,
        (
            {"batch_size": 4, "sampler": SequentialSampler(ours_ds)},
            {"batch_size": 4, "sampler": tud.SequentialSampler(theirs_ds)},
        ),
        (
            {"batch_sampler": BatchSampler(order, 3, False)},
            {"batch_sampler": tud.BatchSampler(order, 3, False)},
        ),
        ({"batch_size": 4, "num_workers": 0, "pin_memory": False, "timeout": 0},) * 2,
    ]
    for ours_kw, theirs_kw in cases:
        ours, theirs = DataLoader(ours_ds, **ours_kw), tud.DataLoader(theirs_ds, **theirs_kw)
        assert _batches(ours) == _batches(theirs) and len(ours) == len(theirs)


def test_batch_size_none_yields_items_and_collate_fn_makes_batches():
    torch = pytest.importorskip("torch")
    tud = torch.utils.data
    for ours, theirs in (
        (DataLoader(Items(), batch_size=None), tud.DataLoader(Items(), batch_size=None)),
    ):
        got = [(x.tolist(), y) for x, y in ours]
        want = [(x.tolist(), y) for x, y in theirs]
        assert got == want and len(ours) == len(theirs) == 5
        assert isinstance(next(iter(ours))[0], cr.Tensor)

    def pad(items):  # variable lengths: pad each to the longest, as a collate_fn does
        n = max(len(x) for x, _ in items)
        return np.stack([np.pad(x, (0, n - len(x))) for x, _ in items]), [y for _, y in items]

    ours = list(DataLoader(Items(), batch_size=2, collate_fn=pad))
    theirs = list(tud.DataLoader(Items(), batch_size=2, collate_fn=pad))
    assert [(x.tolist(), y) for x, y in ours] == [(x.tolist(), y) for x, y in theirs]
    with pytest.raises(ValueError, match="different shapes"):
        next(iter(DataLoader(Items(), batch_size=2)))


def test_contradicting_options_are_refused_as_in_pytorch():
    ds = TensorDataset(X, Y)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(ds, collate_fn=3)


def test_random_samplers_draw_what_they_promise():
    ds = TensorDataset(X, Y)
    gen = cr.manual_seed(0)
    orders = [list(RandomSampler(ds, generator=gen)) for _ in range(2)]
    assert all(sorted(o) == list(range(10)) for o in orders) and orders[0] != orders[1]
    more = list(RandomSampler(ds, num_samples=25))
    assert len(more) == 25 and sorted(more[:10]) == sorted(more[10:20]) == list(range(10))
    assert all(0 <= i < 10 for i in RandomSampler(ds, replacement=True, num_samples=50))
    subset = list(SubsetRandomSampler([7, 3, 5]))
    assert sorted(subset) == [3, 5, 7]
    picks = np.array(list(WeightedRandomSampler([0.0, 1.0, 3.0], 4000, generator=gen)))
    assert 0 not in picks and abs((picks == 2).mean() - 0.75) < 0.03
    once = list(WeightedRandomSampler([1.0, 1.0, 0.0, 2.0], 3, replacement=False))
    assert sorted(once) == [0, 1, 3]
    with pytest.raises(ValueError, match="only 3 weights are positive"):
        WeightedRandomSampler([1.0, 1.0, 0.0, 2.0], 4, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)


def test_a_sampler_s_set_epoch_is_called_and_the_epoch_resumes():
    class Seen(SequentialSampler):
        def set_epoch(self, epoch):
            self.epoch = epoch

    sampler = Seen(TensorDataset(X, Y))
    loader = DataLoader(TensorDataset(X, Y), batch_size=5, sampler=sampler)
    for _ in range(3):
        list(loader)
    assert sampler.epoch == 2 and loader.state_dict() == {"epoch": 3}


def test_the_shuffle_seed_comes_from_the_generator_given():
    ds = TensorDataset(X, Y)
    a = _batches(DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.default_rng(5)))
    b = _batches(DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.default_rng(5)))
    assert a == b
