"""Weight files: safetensors, atomic writes, clear errors, PyTorch interoperability."""

import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.serialization import sync_file

pytest.importorskip("safetensors")


def test_round_trip_with_metadata(tmp_path):
    m = nn.MLP(4, [3], 2)
    path = tmp_path / "m.safetensors"
    cr.save(m.state_dict(), path, metadata={"epoch": "3"})
    sd, meta = cr.load(path, with_metadata=True)
    assert meta == {"epoch": "3"}
    m2 = nn.MLP(4, [3], 2)
    m2.load_state_dict(sd)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(sd[k].numpy(), v.numpy())
        assert sd[k].dtype == v.dtype


def test_every_shape_and_dtype_comes_back_as_it_was(tmp_path):
    """0-d tensors stay 0-d (np.ascontiguousarray once made them 1-d, so a saved BatchNorm's
    num_batches_tracked no longer fit its module), and views, transposes, broadcasts and the
    batch-innermost output of a convolution come back with their values."""
    x = cr.randn(2, 3, 5, 5)
    items = {
        "scalar": cr.tensor(3.5),
        "int_scalar": cr.tensor(7),
        "transposed": cr.randn(3, 4).T,
        "strided": cr.randn(5, 6)[::2, 1::3],
        "broadcast": cr.broadcast_to(cr.randn(3), (4, 3)),
        "empty": cr.zeros(0, 3),
        "conv": cr.nn.functional.conv2d(x, cr.randn(4, 3, 3, 3)),
        "bool": cr.tensor([True, False]),
        "uint8": cr.tensor(np.array([1, 255], np.uint8)),
        "float16": cr.tensor(np.array([1.5], np.float16)),
        "float64": cr.randn(2, dtype=cr.float64),
    }
    cr.save(items, tmp_path / "a.safetensors")
    back = cr.load(tmp_path / "a.safetensors")
    for k, v in items.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
        np.testing.assert_array_equal(back[k].numpy(), v.numpy(), err_msg=k)
    bn = nn.BatchNorm2d(3)
    bn(cr.randn(4, 3, 2, 2))
    cr.save(bn.state_dict(), tmp_path / "bn.safetensors")
    other = nn.BatchNorm2d(3)
    other.load_state_dict(cr.load(tmp_path / "bn.safetensors"))
    assert other.num_batches_tracked.shape == () and int(other.num_batches_tracked.item()) == 1
    np.testing.assert_array_equal(other.running_mean.numpy(), bn.running_mean.numpy())
    # a file written before the fix, with the count as shape (1,), still loads
    old = {k: v.numpy() for k, v in bn.state_dict().items()}
    old["num_batches_tracked"] = old["num_batches_tracked"].reshape(1)
    cr.save(old, tmp_path / "old.safetensors")
    other.load_state_dict(cr.load(tmp_path / "old.safetensors"))
    assert other.num_batches_tracked.shape == () and int(other.num_batches_tracked.item()) == 1


def test_file_is_not_pickle(tmp_path):
    path = tmp_path / "w.safetensors"
    cr.save({"w": cr.ones(2)}, path)
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    assert raw[8:9] == b"{" and b'"w"' in raw[8 : 8 + header_len]


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "w.safetensors"
    cr.save({"w": cr.ones(3)}, path)
    cr.save({"w": cr.zeros(3)}, path)
    assert os.listdir(tmp_path) == ["w.safetensors"]
    np.testing.assert_array_equal(cr.load(path)["w"].numpy(), np.zeros(3))


def test_a_durable_save_is_flushed_to_disk_and_a_non_durable_one_is_not(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "w.safetensors"
    cr.save({"w": cr.ones(3)}, path)
    assert synced == [path.stat().st_ino]
    cr.save({"w": cr.zeros(3)}, path, durable=False)  # still atomic, only not flushed
    assert len(synced) == 1 and os.listdir(tmp_path) == ["w.safetensors"]
    np.testing.assert_array_equal(cr.load(path)["w"].numpy(), np.zeros(3))
    sync_file(path)
    assert synced[1:] == [path.stat().st_ino]


def test_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "w.safetensors"
    cr.save({"w": cr.ones(3)}, path)
    with pytest.raises(TypeError):
        cr.save({"w": cr.ones(3), 5: cr.ones(1)}, path)
    np.testing.assert_array_equal(cr.load(path)["w"].numpy(), np.ones(3))
    assert os.listdir(tmp_path) == ["w.safetensors"]


@pytest.mark.parametrize("cut", [3, 20, -4])
def test_truncated_file_is_refused(tmp_path, cut):
    path = tmp_path / "w.safetensors"
    cr.save({"w": cr.ones(10)}, path)
    raw = path.read_bytes()
    path.write_bytes(raw[:cut])
    with pytest.raises(ValueError, match="not a valid safetensors"):
        cr.load(path)


def test_foreign_file_is_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\x80\x04\x95" + b"pickle-like bytes" * 4)
    with pytest.raises(ValueError, match="not a valid safetensors"):
        cr.load(path)
    with pytest.raises(FileNotFoundError, match="no weight file"):
        cr.load(tmp_path / "missing.safetensors")


def test_pytorch_loads_a_chainrule_mlp(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    cr.manual_seed(0)
    m = nn.MLP(6, [5], 3)
    path = tmp_path / "mlp.safetensors"
    cr.save(m.state_dict(), path)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    net.load_state_dict(st_torch.load_file(str(path)))
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_allclose(
        net(torch.from_numpy(x)).detach().numpy(), m(cr.from_numpy(x)).detach().numpy(), rtol=1e-5
    )
