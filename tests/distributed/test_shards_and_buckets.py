"""The pieces of data parallelism that need no MPI: buckets, shards, the sharded loader."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from chainrule import cli
from chainrule.data import DataLoader, TensorDataset
from chainrule.distributed import Buckets, ShardedLoader, shard


@pytest.mark.parametrize(
    ("n", "size", "expected"),
    [
        (8, 2, [(0, 4), (4, 8)]),
        (5, 2, [(0, 3), (3, 5)]),
        (1, 2, [(0, 1), (1, 1)]),  # the last batch smaller than the ranks: an empty shard
        (7, 3, [(0, 3), (3, 5), (5, 7)]),
        (2, 4, [(0, 1), (1, 2), (2, 2), (2, 2)]),
    ],
)
def test_shards_cover_the_batch_in_order_and_differ_by_at_most_one(n, size, expected):
    got = [shard(n, r, size) for r in range(size)]
    assert got == expected
    assert [hi - lo for lo, hi in got] == [len(p) for p in np.array_split(np.arange(n), size)]


def test_the_sharded_loader_yields_each_ranks_rows_of_the_same_global_batches():
    x = np.arange(22, dtype=np.float32).reshape(11, 2)
    y = np.arange(11)
    whole = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=3)
    global_batches = [yb.numpy().copy() for _, yb in whole]
    shards = []
    for rank in range(2):
        loader = ShardedLoader(DataLoader(TensorDataset(x, y), 4, shuffle=True, seed=3), rank, 2)
        assert len(loader) == 3
        shards.append([yb.numpy().copy() for _, yb in loader])
        assert loader.state_dict() == {"epoch": 1}  # the loader's state: in the checkpoint
    for b, labels in enumerate(global_batches):
        assert np.array_equal(np.concatenate([shards[0][b], shards[1][b]]), labels)
    assert [len(s) for s in shards[1]] == [2, 2, 1]  # 11 = 4 + 4 + 3: the last split 2 + 1


def test_buckets_pack_many_arrays_into_few_buffers_by_dtype_and_size():
    shapes = [(3, 4), (4,), (10,), (2, 2)]
    dtypes = [np.float32, np.float32, np.float64, np.float32]
    b = Buckets(shapes, dtypes, bucket_bytes=64)
    # float32: 12 + 4 values = 64 bytes fill one bucket, the (2, 2) starts another
    assert [(buf.dtype, buf.size) for buf in b.buffers] == [
        (np.float32, 16),
        (np.float64, 10),
        (np.float32, 4),
    ]
    assert b.slots == [(0, 0, 12), (0, 12, 16), (1, 0, 10), (2, 0, 4)]
    arrays = [
        np.random.default_rng(i).standard_normal(s).astype(d)
        for i, (s, d) in enumerate(zip(shapes, dtypes))
    ]
    b.pack([arrays[0], None, arrays[2], arrays[3]], scale=2.0)
    out = b.unpack(0.5)
    assert np.array_equal(out[0], arrays[0]) and np.array_equal(out[1], np.zeros(4))
    assert all(o.shape == a.shape and o.dtype == a.dtype for o, a in zip(out, arrays))
    out[0][0, 0] = 99.0  # unpack gives new arrays: the buffers are reused every step
    assert b.buffers[0][0] != 99.0
    # the default size: the lecture's 3072-100-10 MLP's gradients are one float32 bucket
    mlp = [(100, 3072), (100,), (10, 100), (10,)]
    assert len(Buckets(mlp, [np.float32] * 4).buffers) == 1


def test_distributed_without_mpi4py_says_what_to_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    argv = ["train", "--distributed", "mpi", "--epochs", "1", "--out", str(tmp_path / "r")]
    assert cli.main(argv) == 2
    assert "chainrule[mpi]" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_dist_timeout_needs_distributed(capsys, tmp_path):
    argv = ["train", "--dist-timeout", "5", "--epochs", "1", "--out", str(tmp_path / "r")]
    assert cli.main(argv) == 2
    assert "--distributed" in capsys.readouterr().err
