"""Bad input: missing, truncated, corrupt and malicious data files."""

from __future__ import annotations

import gzip
import pickle
import struct
import tarfile

import numpy as np
import pytest
from _data_files import (
    MNIST_NAMES,
    cifar_batch,
    idx_bytes,
    py2_pickle,
    tar_with,
    write_cifar,
    write_idx,
    write_mnist,
)

from chainrule.data import DataFormatError, datasets
from chainrule.data.archive import safe_extract_tar
from chainrule.data.datasets.cifar10 import read_batch
from chainrule.data.datasets.mnist import read_idx
from chainrule.data.safe_pickle import load_pickle

# ----- IDX -----


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.dtype(">i2"), np.dtype(">i4"), np.dtype(">f4"), ">f8"]
)
@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip_every_type(tmp_path, dtype, gz):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if np.dtype(dtype).kind == "u":
        a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = read_idx(write_idx(tmp_path / "a", a, gz=gz), ndim=3)
    np.testing.assert_array_equal(out, a)
    assert out.dtype.isnative


def header(n, *dims, code=0x08):
    return struct.pack(">HBB", 0, code, 1 + len(dims)) + struct.pack(f">{1 + len(dims)}I", n, *dims)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "content, match",
    [
        (
            header(2**31, 28, 28) + bytes(100 - 16),
            r"expected 1683627180032 bytes of data for an array of shape 2147483648x28x28",
        ),
        (b"\x00\x00\x08", "only 3 bytes"),
        (b"PK\x03\x04" + bytes(60), "IDX magic.*50 4b 03 04"),
        (b"\x00\x00\x07\x01" + bytes(8), "IDX magic"),
        (header(3, 2, 2)[:10], "16-byte header"),
        (header(3, 2, 2) + bytes(11), r"12 bytes of data.*found 11 bytes"),
        (header(3, 2, 2) + bytes(13), r"12 bytes of data.*(13 bytes|more data)"),
        (header(5), "with 3 dimensions.*1 dimensions"),
    ],
    ids=["2^31 images", "tiny", "zip", "bad type", "short header", "truncated", "padded", "ndim"],
)
def test_idx_bad_files_are_refused_naming_the_file(tmp_path, content, match, gz):
    path = tmp_path / ("bad-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(DataFormatError, match=match) as e:
        read_idx(path, ndim=3)
    assert str(path) in str(e.value)


def test_idx_gzip_bomb_is_refused_before_decompressing(tmp_path, monkeypatch):
    # a header declaring 2^31 images of 28x28 followed by a few zeros, gzipped: ~100 bytes
    path = tmp_path / "bomb-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header(2**31, 28, 28) + bytes(64)))
    assert path.stat().st_size < 200
    decompressed = []
    original = gzip.GzipFile.read

    def read(self, n=-1):
        out = original(self, n)
        decompressed.append(len(out))
        return out

    monkeypatch.setattr(gzip.GzipFile, "read", read)
    with pytest.raises(DataFormatError, match="cannot hold that much"):
        read_idx(path)
    assert sum(decompressed) <= 36  # the header only


def test_idx_truncated_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((50, 28, 28), np.uint8)))
    path = tmp_path / "t-idx3-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=str(path)):
        read_idx(path)


def test_mnist_missing_files_message(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as e:
        datasets.mnist(tmp_path)
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    assert "train-labels" not in msg
    assert str(tmp_path) in msg and "--download" in msg and "download=True" in msg
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in msg


def test_mnist_inconsistent_files(tmp_path):
    write_mnist(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(7, np.uint8))
    with pytest.raises(DataFormatError, match="expected 60 labels.*found 7"):
        datasets.mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(60, 12, np.uint8))
    with pytest.raises(DataFormatError, match="labels in 0..9.*12"):
        datasets.mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(60, ">i4"))
    with pytest.raises(DataFormatError, match="unsigned bytes"):
        datasets.mnist(tmp_path)
    (tmp_path / MNIST_NAMES[0]).write_bytes(b"\x00\x00\x08\x03" + bytes(4))
    with pytest.raises(DataFormatError, match=MNIST_NAMES[0]):
        datasets.mnist(tmp_path)


# ----- the restricted unpickler and CIFAR batches -----


class Evil:
    """Unpickling this with pickle.load would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_callable_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    batch, data, labels = cifar_batch(4, 1, "x")
    batch["data"] = Evil(marker)
    path = tmp_path / "data_batch_1"
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        path.write_bytes(pickle.dumps(batch, protocol=protocol))
        with pytest.raises(
            DataFormatError, match=r"refused.*global (io|builtins)\.open.*nothing was run"
        ):
            read_batch(path)
        assert not marker.exists()
    pickle.loads(path.read_bytes())  # the check is real: plain pickle would create the file
    assert marker.exists()


@pytest.mark.parametrize(
    "obj, match",
    [
        (np.array([1, "x"], dtype=object), "not a plain numeric dtype"),
        (np.array(["ab"]), "not a plain numeric dtype"),
        ({"x": {1, 2}}, "global __builtin__.set"),
        (__import__("collections").OrderedDict(a=1), "collections.OrderedDict"),
    ],
)
def test_unpickler_refuses_anything_but_plain_data(tmp_path, obj, match):
    path = tmp_path / "p"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(DataFormatError, match=match):
        load_pickle(path)


def test_unpickler_reads_numpy_arrays_of_any_protocol(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        (tmp_path / "p").write_bytes(pickle.dumps({"a": a, "f": a.T}, protocol=protocol))
        out = load_pickle(tmp_path / "p")
        np.testing.assert_array_equal(out["a"], a)
        np.testing.assert_array_equal(out["f"], a.T)


def test_official_py2_batch_layout_matches_real_pickle(tmp_path):
    batch, data, labels = cifar_batch(5, 2, "training batch 2 of 5")
    raw = py2_pickle(batch)
    ref = pickle.loads(raw, encoding="bytes")  # what torchvision-style loaders would see
    assert set(ref) == {b"batch_label", b"labels", b"data", b"filenames"}
    (tmp_path / "data_batch_2").write_bytes(raw)
    x, y = read_batch(tmp_path / "data_batch_2")
    assert x.shape == (5, 32, 32, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x.transpose(0, 3, 1, 2).reshape(5, 3072), ref[b"data"])
    assert y.tolist() == labels


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda b: b.pop("labels"), "labels"),
        (lambda b: b.update(data=b["data"][:, :100]), "3072 values"),
        (lambda b: b.update(labels=b["labels"][:-1]), "one label per image"),
        (lambda b: b.update(labels=[11] * len(b["labels"])), "0..9"),
        (lambda b: b.update(data=b["data"].astype(np.float32)), "uint8"),
    ],
)
def test_cifar_bad_batches(tmp_path, change, match):
    batch, _, _ = cifar_batch(4, 1, "x")
    change(batch)
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2_pickle(batch) if match != "uint8" else pickle.dumps(batch))
    with pytest.raises(DataFormatError, match=match) as e:
        read_batch(path)
    assert "data_batch_1" in str(e.value)


def test_cifar_truncated_batch(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py", n=10)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 500])
    with pytest.raises(DataFormatError, match="data_batch_3.*truncated or corrupt"):
        datasets.cifar10(tmp_path)
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(DataFormatError, match="data_batch_3"):
        datasets.cifar10(tmp_path)


def test_cifar_missing_message(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        datasets.cifar10(tmp_path)
    msg = str(e.value)
    assert "cifar-10-python.tar.gz" in msg and str(tmp_path) in msg and "--download" in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in msg
    write_cifar(tmp_path / "cifar-10-batches-py", n=10)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="lacks test_batch"):
        datasets.cifar10(tmp_path)


# ----- tar extraction -----


def info(name, kind=tarfile.REGTYPE, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = linkname
    return ti


@pytest.mark.parametrize(
    "member, match",
    [
        (info("../evil"), "leaves the folder"),
        (info("cifar-10-batches-py/../../evil"), "leaves the folder"),
        (info("/tmp/evil"), "absolute path"),
        (info("cifar-10-batches-py/link", tarfile.SYMTYPE, "/etc/passwd"), "symbolic link"),
        (info("cifar-10-batches-py/up", tarfile.SYMTYPE, "../../x"), "symbolic link"),
        (info("cifar-10-batches-py/hard", tarfile.LNKTYPE, "/etc/passwd"), "hard link"),
        (info("cifar-10-batches-py/dev", tarfile.CHRTYPE), "special file"),
        (info("evil"), "outside the expected folder cifar-10-batches-py"),
    ],
)
def test_unsafe_tar_members_are_refused(tmp_path, member, match):
    archive = tar_with(
        tmp_path / "cifar-10-python.tar.gz",
        [(info("cifar-10-batches-py/ok"), b"fine"), (member, b"x" if member.isfile() else None)],
    )
    dest = tmp_path / "dest"
    with pytest.raises(DataFormatError, match=match) as e:
        safe_extract_tar(archive, dest, allowed_top={"cifar-10-batches-py"})
    assert member.name in str(e.value) and str(archive) in str(e.value)
    assert list(dest.iterdir()) == []  # nothing extracted, not even the good member
    assert not (tmp_path / "evil").exists()
    with pytest.raises(DataFormatError, match=match):
        datasets.cifar10(tmp_path)  # the loader refuses it too


def test_truncated_tar(tmp_path):
    archive = tmp_path / "a.tar.gz"
    tar_with(archive, [(info("d/f"), bytes(5000))])
    archive.write_bytes(archive.read_bytes()[:40])
    with pytest.raises(DataFormatError, match="truncated"):
        safe_extract_tar(archive, tmp_path / "out")


def test_tar_size_cap(tmp_path):
    archive = tar_with(tmp_path / "a.tar.gz", [(info("d/f"), bytes(5000))])
    with pytest.raises(DataFormatError, match="cap"):
        safe_extract_tar(archive, tmp_path / "out", max_total_size=4000)
    assert safe_extract_tar(archive, tmp_path / "out") == ["d"]
    assert (tmp_path / "out" / "d" / "f").stat().st_size == 5000
