"""Dataset, TensorDataset, Subset, random_split, stratified_split and DataLoader."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    random_split,
    stratified_split,
)


def make_ds(n=10, d=3):
    x = np.arange(n * d, dtype=np.float32).reshape(n, d)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(x, y), x, y


class ItemDataset(Dataset):
    """A plain Dataset (no fast path): the loader must loop over items."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, i, np.float32), i


# ----- TensorDataset / Subset / random_split -----


def test_tensor_dataset_items_and_tensors():
    ds, x, y = make_ds()
    xt = cr.tensor(x)
    ds2 = TensorDataset(xt, y)
    assert len(ds) == len(ds2) == 10
    a, b = ds2[3]
    assert isinstance(a, cr.Tensor) and isinstance(b, cr.Tensor)
    np.testing.assert_array_equal(a.numpy(), x[3])
    assert b.item() == 3


@pytest.mark.parametrize(
    "args, err, match",
    [
        ((np.zeros((3, 2)), np.zeros(4)), ValueError, r"same first dimension.*\(3, 2\), \(4,\)"),
        ((), ValueError, "at least one"),
        (([1, 2, 3],), TypeError, "expected a Tensor or a NumPy array"),
        ((np.float32(1.0),), TypeError, "expected a Tensor"),
        ((np.array(1.0),), ValueError, "0-d"),
    ],
)
def test_tensor_dataset_errors(args, err, match):
    with pytest.raises(err, match=match):
        TensorDataset(*args)


def test_subset_and_errors():
    ds, x, _ = make_ds()
    sub = Subset(ds, [7, 2, 9])
    assert len(sub) == 3 and sub[1][1].item() == 2
    with pytest.raises(IndexError, match=r"\[-10, 10\)"):
        Subset(ds, [0, 10])
    with pytest.raises(TypeError, match="integers"):
        Subset(ds, [0.5])
    assert len(Subset(ds, [])) == 0


def test_random_split_ints_fractions_and_determinism():
    ds, _, _ = make_ds(10)
    a, b = random_split(ds, [7, 3], seed=0)
    assert (len(a), len(b)) == (7, 3)
    assert sorted(np.concatenate([a.indices, b.indices]).tolist()) == list(range(10))
    c, d = random_split(ds, [7, 3], seed=0)
    np.testing.assert_array_equal(a.indices, c.indices)
    e, _ = random_split(ds, [7, 3], seed=1)
    assert not np.array_equal(a.indices, e.indices)
    # fractions: floors, remainder handed out from the first subset (PyTorch's rule)
    assert [len(s) for s in random_split(ds, [0.33, 0.33, 0.34], seed=0)] == [4, 3, 3]
    cr.manual_seed(5)
    f = random_split(ds, [5, 5])[0].indices
    cr.manual_seed(5)
    np.testing.assert_array_equal(f, random_split(ds, [5, 5])[0].indices)


@pytest.mark.parametrize(
    "lengths, match", [([5, 4], "sum to the dataset's length 10"), ([0.5, 0.6], "sum to 1")]
)
def test_random_split_errors(lengths, match):
    ds, _, _ = make_ds(10)
    with pytest.raises(ValueError, match=match):
        random_split(ds, lengths, seed=0)


# ----- stratified_split -----


def test_stratified_split_per_class_rounding_and_determinism():
    y = np.repeat(np.arange(3), [10, 25, 7])
    train, hold = stratified_split(y, 0.2, seed=0)
    assert np.bincount(y[hold], minlength=3).tolist() == [2, 5, 1]  # round(2.0, 5.0, 1.4)
    assert train.dtype == np.int64 and hold.dtype == np.int64
    assert np.intersect1d(train, hold).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, hold])), np.arange(y.size))
    assert np.all(np.diff(hold) > 0)
    t2, h2 = stratified_split(y, 0.2, seed=0)
    np.testing.assert_array_equal(hold, h2)
    _, h3 = stratified_split(y, 0.2, seed=1)
    assert not np.array_equal(hold, h3)
    assert stratified_split(y, 0.0)[1].size == 0
    assert np.bincount(y[stratified_split(y, 0.1)[1]]).tolist() == [1, 3, 1]  # halves round up


@pytest.mark.parametrize(
    "labels, fraction, err",
    [
        (np.zeros((2, 2), int), 0.1, ValueError),
        (np.array([0.5, 1.5]), 0.1, TypeError),
        (np.array([0, 1]), 1.5, ValueError),
        (np.array([0, 1]), "0.1", TypeError),
    ],
)
def test_stratified_split_errors(labels, fraction, err):
    with pytest.raises(err):
        stratified_split(labels, fraction)


# ----- DataLoader -----


def test_loader_batches_last_batch_and_drop_last():
    ds, x, y = make_ds(10)
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [tuple(b[0].shape) for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(isinstance(t, cr.Tensor) for b in batches for t in b)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    dl = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dl) == 2 and [tuple(b[0].shape) for b in dl] == [(4, 3), (4, 3)]
    assert len(DataLoader(ds, batch_size=20, drop_last=True)) == 0
    assert len(DataLoader(ds, batch_size=20)) == 1


def test_loader_shuffle_covers_everything_and_is_a_function_of_seed_and_epoch():
    ds, x, y = make_ds(50)
    a = DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    e0 = np.concatenate([b[1].numpy() for b in a])
    e1 = np.concatenate([b[1].numpy() for b in a])
    assert sorted(e0.tolist()) == list(range(50)) and not np.array_equal(e0, np.arange(50))
    assert not np.array_equal(e0, e1)  # a new order each epoch
    np.testing.assert_array_equal(e0, np.random.default_rng([3, 0]).permutation(50))
    np.testing.assert_array_equal(e1, np.random.default_rng([3, 1]).permutation(50))
    b = DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    np.testing.assert_array_equal(np.concatenate([t[1].numpy() for t in b]), e0)
    c = DataLoader(ds, batch_size=8, shuffle=True, seed=4)
    assert not np.array_equal(np.concatenate([t[1].numpy() for t in c]), e0)
    # features travel with their labels
    for xb, yb in DataLoader(ds, batch_size=8, shuffle=True, seed=3):
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])


def test_loader_exact_resume_with_state_dict():
    ds, _, _ = make_ds(30)
    full = DataLoader(ds, batch_size=7, shuffle=True, seed=11)
    epochs = [[b[1].numpy().tolist() for b in full] for _ in range(4)]
    first = DataLoader(ds, batch_size=7, shuffle=True, seed=11)
    for _ in range(2):
        list(first)
    state = first.state_dict()
    assert state == {"epoch": 2}
    resumed = DataLoader(ds, batch_size=7, shuffle=True, seed=11)
    resumed.load_state_dict(state)
    assert [[b[1].numpy().tolist() for b in resumed] for _ in range(2)] == epochs[2:]
    resumed.set_epoch(1)
    assert [b[1].numpy().tolist() for b in resumed] == epochs[1]
    assert resumed.epoch == 2
    with pytest.raises(ValueError, match="epoch"):
        resumed.load_state_dict({})


def test_loader_seed_none_draws_from_chainrule_generator():
    ds, _, _ = make_ds(40)
    cr.manual_seed(0)
    a = [b[1].numpy().tolist() for b in DataLoader(ds, batch_size=40, shuffle=True)]
    cr.manual_seed(0)
    b = [b[1].numpy().tolist() for b in DataLoader(ds, batch_size=40, shuffle=True)]
    cr.manual_seed(1)
    c = [b[1].numpy().tolist() for b in DataLoader(ds, batch_size=40, shuffle=True)]
    assert a == b and a != c


def test_loader_fast_path_is_one_fancy_index_per_batch(monkeypatch):
    ds, _, _ = make_ds(10)
    calls = []
    original = TensorDataset._get_batch
    monkeypatch.setattr(
        TensorDataset, "_get_batch", lambda self, idx: calls.append(idx) or original(self, idx)
    )
    monkeypatch.setattr(
        TensorDataset, "__getitem__", lambda self, i: pytest.fail("per-item path used")
    )
    list(DataLoader(ds, batch_size=4))
    list(DataLoader(Subset(ds, [9, 8, 7, 6, 5]), batch_size=2))
    assert len(calls) == 3 + 3
    assert calls[-1].tolist() == [5]  # Subset indices composed into one index array


def test_loader_generic_dataset_stacks_fields():
    batches = list(DataLoader(ItemDataset(5), batch_size=2, shuffle=True, seed=0))
    assert [tuple(b[0].shape) for b in batches] == [(2, 2), (2, 2), (1, 2)]
    xb, yb = batches[0]
    assert yb.dtype == np.int64 and xb.dtype == np.float32
    np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy())


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": -3}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_loader_argument_errors(kwargs, err, match):
    ds, _, _ = make_ds()
    with pytest.raises(err, match=match):
        DataLoader(ds, **kwargs)


def test_loader_rejects_non_dataset():
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(object())
