"""Writers of small data files in the exact official formats, and a local HTTP server.

- IDX (MNIST): ``0x00 0x00 <dtype code> <ndim>``, big-endian uint32 dims, big-endian values.
- CIFAR-10 batches: written byte for byte the way Python 2's cPickle (protocol 2) wrote the
  official files: str keys as SHORT_BINSTRING, the images as a NumPy array pickled through
  ``numpy.core.multiarray._reconstruct`` with a BINSTRING payload.
"""

from __future__ import annotations

import gzip
import http.server
import io
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np

IDX_CODES = {
    np.dtype("u1"): 0x08,
    np.dtype("i1"): 0x09,
    np.dtype(">i2"): 0x0B,
    np.dtype(">i4"): 0x0C,
    np.dtype(">f4"): 0x0D,
    np.dtype(">f8"): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file's bytes for ``array`` (values stored big-endian)."""
    dt = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    header = struct.pack(">HBB", 0, IDX_CODES[dt], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=dt).tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def mnist_arrays(n_train: int = 60, n_test: int = 20, seed: int = 0):
    """Small MNIST-shaped arrays: uint8 (N, 28, 28) images, labels cycling through 0..9."""
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    y_train = (np.arange(n_train) % 10).astype(np.uint8)
    y_test = (np.arange(n_test) % 10).astype(np.uint8)
    return x_train, y_train, x_test, y_test


MNIST_NAMES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def write_mnist(folder: Path, gz: bool = True, **kw) -> tuple:
    """The four MNIST files in ``folder`` (gzipped like the published ones, or not)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = mnist_arrays(**kw)
    for name, a in zip(MNIST_NAMES, arrays):
        write_idx(folder / (name + (".gz" if gz else "")), a, gz=gz)
    return arrays


# ----- Python 2 (cPickle, protocol 2) pickles, as the official CIFAR-10 files are -----


class _Py2Pickler:
    """Python 2's cPickle at protocol 2: strings, lists, dicts and arrays memoized (BINPUT) with
    indices counted from 1, as cPickle numbered them (pickle.py starts at 0)."""

    def __init__(self) -> None:
        self.memo = 0

    def put(self) -> bytes:
        self.memo += 1
        return b"q" + bytes([self.memo]) if self.memo < 256 else b"r" + struct.pack("<I", self.memo)

    def str(self, b: bytes) -> bytes:
        if len(b) < 256:
            return b"U" + bytes([len(b)]) + b + self.put()
        return b"T" + struct.pack("<i", len(b)) + b + self.put()

    @staticmethod
    def int(v: int) -> bytes:
        if 0 <= v < 256:
            return b"K" + bytes([v])
        if 0 <= v < 65536:
            return b"M" + struct.pack("<H", v)
        return b"J" + struct.pack("<i", v)

    def dump(self, obj) -> bytes:
        if isinstance(obj, bool):
            return b"\x88" if obj else b"\x89"
        if obj is None:
            return b"N"
        if isinstance(obj, int):
            return self.int(obj)
        if isinstance(obj, str):
            return self.str(obj.encode("latin1"))
        if isinstance(obj, bytes):
            return self.str(obj)
        if isinstance(obj, list):
            return b"]" + self.put() + b"(" + b"".join(self.dump(v) for v in obj) + b"e"
        if isinstance(obj, tuple):
            return b"(" + b"".join(self.dump(v) for v in obj) + b"t"
        if isinstance(obj, dict):
            start = b"}" + self.put() + b"("
            return start + b"".join(self.dump(k) + self.dump(v) for k, v in obj.items()) + b"u"
        if isinstance(obj, np.ndarray):
            name = {np.dtype("u1"): "u1", np.dtype("<i8"): "i8", np.dtype("<f4"): "f4"}[obj.dtype]
            order = b"|" if obj.dtype.itemsize == 1 else b"<"
            out = b"cnumpy.core.multiarray\n_reconstruct\n" + self.put()
            out += b"cnumpy\nndarray\n" + self.put() + b"K\x00\x85U\x01b\x87R" + self.put()
            out += b"(K\x01" + self.dump(tuple(obj.shape))
            out += b"cnumpy\ndtype\n" + self.put() + b"U\x02" + name.encode()
            out += b"K\x00K\x01\x87R" + self.put()  # dtype('u1', 0, 1)
            out += b"(K\x03U\x01" + order + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
            return out + b"\x89" + self.str(np.ascontiguousarray(obj).tobytes()) + b"tb"
        raise TypeError(type(obj))


def py2_pickle(obj) -> bytes:
    """``obj`` pickled as Python 2's ``cPickle.dump(obj, f, 2)`` would (strs are py2 strs)."""
    return b"\x80\x02" + _Py2Pickler().dump(obj) + b"."


CIFAR_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip


def cifar_batch(n: int, seed: int, name: str) -> tuple[dict, np.ndarray, list]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in (np.arange(n) + seed) % 10]
    batch = {
        "batch_label": name,
        "labels": labels,
        "data": data,
        "filenames": [f"img_{seed}_{i}.png" for i in range(n)],
    }
    return batch, data, labels


def write_cifar(folder: Path, n: int = 20) -> tuple[np.ndarray, list, np.ndarray, list]:
    """The seven files of cifar-10-batches-py in ``folder``; returns the raw data and labels."""
    folder.mkdir(parents=True, exist_ok=True)
    xs, ys = [], []
    for i in range(1, 6):
        batch, data, labels = cifar_batch(n, i, f"training batch {i} of 5")
        (folder / f"data_batch_{i}").write_bytes(py2_pickle(batch))
        xs.append(data)
        ys += labels
    batch, x_test, y_test = cifar_batch(n, 0, "testing batch 1 of 1")
    (folder / "test_batch").write_bytes(py2_pickle(batch))
    meta = {"num_cases_per_batch": n, "label_names": CIFAR_CLASSES, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(py2_pickle(meta))
    return np.concatenate(xs), ys, x_test, y_test


def write_cifar_tar(path: Path, n: int = 20) -> tuple:
    """cifar-10-python.tar.gz with cifar-10-batches-py/ inside, as published."""
    src = path.parent / "_src" / "cifar-10-batches-py"
    out = write_cifar(src, n)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
    return out


def tar_with(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """A tar.gz holding exactly the given members (for malicious archives)."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


# ----- a local HTTP server -----


class Server:
    """An HTTP server on 127.0.0.1 serving ``files`` (path -> bytes) from a daemon thread.

    ``lie_length`` maps a path to the Content-Length to announce instead of the true one; a
    path in ``no_length`` is sent without Content-Length (HTTP/1.0, ended by closing).
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.lie_length: dict[str, int] = {}
        self.no_length: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 5

            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if self.path not in server.no_length:
                    length = server.lie_length.get(self.path, len(body))
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client refused the rest, as it should
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
