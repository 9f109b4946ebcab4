"""Downloads against a server on 127.0.0.1: success, checksum failure, oversize, offline."""

from __future__ import annotations

import gzip
import hashlib
import socket

import numpy as np
import pytest
from _data_files import MNIST_NAMES, idx_bytes, mnist_arrays, write_cifar_tar

from chainrule import cli
from chainrule.data import DataFormatError, DownloadError, data_dir, datasets, download_url
from chainrule.data.datasets import MIRRORS, RESOURCES
from chainrule.data.datasets.base import Resource


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_url_success_and_replace(server, tmp_path):
    body = bytes(range(256)) * 1000
    server.files["/f.bin"] = body
    target = tmp_path / "sub" / "f.bin"
    out = download_url(server.url + "f.bin", target, md5(body), len(body), progress=True)
    assert out == target and target.read_bytes() == body
    assert leftovers(target.parent) == ["f.bin"]  # no temporary file left
    server.files["/f.bin"] = b"new"
    download_url(server.url + "f.bin", target, md5(b"new"), progress=False)
    assert target.read_bytes() == b"new"


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    server.files["/f.bin"] = b"corrupted bytes"
    target = tmp_path / "f.bin"
    with pytest.raises(DataFormatError) as e:
        download_url(server.url + "f.bin", target, md5(b"the real file"), progress=False)
    msg = str(e.value)
    assert "f.bin" in msg and md5(b"the real file") in msg and md5(b"corrupted bytes") in msg
    assert leftovers(tmp_path) == []


def test_checksum_mismatch_keeps_the_old_file(server, tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    server.files["/f.bin"] = b"bad"
    with pytest.raises(DataFormatError):
        download_url(server.url + "f.bin", target, md5(b"good"), progress=False)
    assert target.read_bytes() == b"old" and leftovers(tmp_path) == ["f.bin"]


def test_oversize_announced_is_refused(server, tmp_path):
    server.files["/big"] = bytes(10_000)
    with pytest.raises(DataFormatError, match="announces 10000 bytes.*100 bytes"):
        download_url(server.url + "big", tmp_path / "big", expected_size=100, progress=False)
    assert leftovers(tmp_path) == []


def test_oversize_without_length_is_cut_off(server, tmp_path):
    server.files["/big"] = bytes(1_000_000)
    server.no_length.add("/big")
    with pytest.raises(DataFormatError, match="more than 1000 bytes"):
        download_url(server.url + "big", tmp_path / "big", expected_size=1000, progress=False)
    assert leftovers(tmp_path) == []


def test_lying_content_length_is_caught(server, tmp_path):
    server.files["/f"] = bytes(5000)
    server.lie_length["/f"] = 100  # says 100, sends 5000: only 100 are read, then size check
    with pytest.raises(DataFormatError, match="expected f to be 5000 bytes; found 100"):
        download_url(server.url + "f", tmp_path / "f", expected_size=5000, progress=False)
    server.lie_length["/f"] = 9000  # says more than it sends: a broken transfer
    with pytest.raises(ConnectionError):
        download_url(server.url + "f", tmp_path / "f", progress=False)
    assert leftovers(tmp_path) == []


def test_not_found_and_bad_scheme(server, tmp_path):
    with pytest.raises(ConnectionError, match="404"):
        download_url(server.url + "nothing", tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="http"):
        download_url("file:///etc/passwd", tmp_path / "x")
    assert leftovers(tmp_path) == []


def serve_mnist(server, monkeypatch, name="mnist", corrupt=None):
    """Serve four small MNIST .gz files and point the loader's mirror and checksums at them."""
    resources = []
    for fname, a in zip(MNIST_NAMES, mnist_arrays()):
        body = gzip.compress(idx_bytes(a), mtime=0)
        resources.append(Resource(fname + ".gz", md5(body), len(body)))
        server.files[f"/{fname}.gz"] = b"X" * len(body) if fname == corrupt else body
    monkeypatch.setitem(MIRRORS, name, [server.url])
    monkeypatch.setitem(RESOURCES, name, resources)
    return resources


def test_mnist_download_into_the_data_folder(server, monkeypatch, isolated_data_dir):
    serve_mnist(server, monkeypatch)
    s = datasets.mnist(download=True, progress=False)
    assert len(s.x_train) + len(s.x_val) == 60 and len(s.x_test) == 20
    folder = isolated_data_dir / "mnist"
    assert data_dir() == isolated_data_dir
    assert leftovers(folder) == sorted(n + ".gz" for n in MNIST_NAMES)
    n = len(server.requests)
    again = datasets.load("mnist", download=True)  # cached: nothing fetched again
    assert len(server.requests) == n
    np.testing.assert_array_equal(again.x_test, s.x_test)


def test_mnist_download_checksum_failure(server, monkeypatch, tmp_path):
    serve_mnist(server, monkeypatch, "fashion-mnist", corrupt="t10k-images-idx3-ubyte")
    with pytest.raises(DataFormatError, match="t10k-images-idx3-ubyte.gz.*expected md5"):
        datasets.fashion_mnist(tmp_path, download=True, progress=False)
    assert "t10k-images-idx3-ubyte.gz" not in leftovers(tmp_path)
    assert not [n for n in leftovers(tmp_path) if n.startswith(".")]


def dead_mirror() -> str:
    with socket.socket() as s:  # a port on which nobody listens: connection refused
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


def test_offline_message(monkeypatch, tmp_path):
    monkeypatch.setitem(MIRRORS, "mnist", [dead_mirror()])
    with pytest.raises(ConnectionError) as e:
        datasets.mnist(tmp_path, download=True, progress=False)
    assert isinstance(e.value, DownloadError) and isinstance(e.value, FileNotFoundError)
    assert isinstance(e.value.__cause__, ConnectionError)  # the last try's own error
    msg = str(e.value)
    assert "Offline?" in msg and str(tmp_path) in msg
    for name in MNIST_NAMES:
        assert name + ".gz" in msg
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_download_without_a_network_is_one_clear_message_on_the_command_line(
    monkeypatch, tmp_path, capsys, dataset
):
    monkeypatch.setitem(MIRRORS, dataset, [dead_mirror(), dead_mirror()])
    argv = ["train", "--dataset", dataset, "--download", "--data-dir", tmp_path / "data"]
    status = cli.main([str(a) for a in [*argv, "--out", tmp_path / "run", "--quiet"]])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("chainrule train: error: download failed")
    assert "Offline?" in err and str(tmp_path / "data") in err and "Traceback" not in err
    assert len(err.splitlines()) <= 10
    assert not (tmp_path / "run").exists()


def test_cifar10_download_verify_extract(server, monkeypatch, tmp_path):
    archive = tmp_path / "src" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    write_cifar_tar(archive, n=10)
    body = archive.read_bytes()
    server.files["/cifar-10-python.tar.gz"] = body
    monkeypatch.setitem(MIRRORS, "cifar10", [server.url])
    monkeypatch.setitem(RESOURCES, "cifar10", [Resource(archive.name, md5(body), len(body))])
    root = tmp_path / "root"
    s = datasets.cifar10(root, download=True, progress=False)
    assert s.x_train.shape == (40, 32, 32, 3) and len(s.x_test) == 10
    assert leftovers(root) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    # a mirror serving another file: refused, nothing kept
    monkeypatch.setitem(RESOURCES, "cifar10", [Resource(archive.name, md5(b"x"), len(body))])
    other = tmp_path / "other"
    with pytest.raises(DataFormatError, match="cifar-10-python.tar.gz.*md5"):
        datasets.cifar10(other, download=True, progress=False)
    assert leftovers(other) == []


def test_published_checksums_are_listed():
    names = [r.filename for r in RESOURCES["mnist"]]
    assert names == [n + ".gz" for n in MNIST_NAMES]
    for r in [*RESOURCES["mnist"], *RESOURCES["cifar10"]]:
        assert len(r.md5) == 32 and int(r.md5, 16) and r.size > 0
    assert RESOURCES["mnist"][0].md5 == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert RESOURCES["cifar10"][0].md5 == "c58f30108f718f92721af3b95e74349a"
