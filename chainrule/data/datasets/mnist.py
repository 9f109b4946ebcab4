"""MNIST and Fashion-MNIST from their published IDX files (gzipped or not).

The IDX format: a 4-byte magic ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` big-endian uint32
dimensions, then the values in C order, big-endian. Before anything is allocated, the size the
header declares is compared with the size of the file (for gzip files: with the size the gzip
trailer records and with what deflate could possibly expand to); the decompressed stream is
then read incrementally and refused as soon as it runs past the declared size.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataFormatError
from .base import (
    Splits,
    dataset_folder,
    fetch_all,
    make_splits,
    missing_files_error,
)
from .sources import MIRRORS, RESOURCES

# code -> big-endian dtype, as the format's specification lists them
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MAX_DEFLATE_RATIO = 1032  # deflate cannot expand data by more than this factor
_CHUNK = 1 << 20

CLASSES: dict[str, list[str]] = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
}


def _bad(path: Path, expected: str, found: str) -> DataFormatError:
    return DataFormatError(
        f"{path}: expected {expected}; found {found}. The file is truncated, corrupt or not an "
        "IDX file: delete it and download it again"
    )


def _parse_header(head: bytes, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, dims, header length) from the first bytes of an IDX file."""
    if len(head) < 4:
        raise _bad(path, "an IDX file (a 4-byte magic number)", f"only {len(head)} bytes")
    zero, code, ndim = struct.unpack(">HBB", head[:4])
    if zero != 0 or code not in IDX_DTYPES or not 1 <= ndim <= 8:
        raise _bad(
            path,
            "the IDX magic 0x00 0x00 <dtype 0x08-0x0E> <ndim 1-8>",
            f"the bytes {head[:4].hex(' ')}",
        )
    header_len = 4 + 4 * ndim
    if len(head) < header_len:
        raise _bad(path, f"a {header_len}-byte header for {ndim} dimensions", f"{len(head)} bytes")
    dims = struct.unpack(f">{ndim}I", head[4:header_len])
    dtype = IDX_DTYPES[code]
    # a zero dimension makes the size 0 whatever the others are, yet NumPy still refuses an
    # array whose other dimensions multiply past its index range
    if math.prod(d or 1 for d in dims) * dtype.itemsize > sys.maxsize:
        raise _bad(
            path,
            "dimensions whose product fits in memory's address range",
            f"the dimensions {'x'.join(map(str, dims))}",
        )
    return dtype, dims, header_len


def _describe(dims: tuple[int, ...], dtype: np.dtype) -> str:
    shape = "x".join(str(d) for d in dims)
    return f"{math.prod(dims) * dtype.itemsize} bytes of data for an array of shape {shape}"


def read_idx(path: str | os.PathLike, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (``*-ubyte`` or ``*-ubyte.gz``) as a NumPy array in native byte order.

    Args:
        path: the file; gzip compression is recognized by its magic bytes, not by its name.
        ndim: the number of dimensions the caller expects (3 for images, 1 for labels).

    Returns:
        The array, shape as the header declares, e.g. (60000, 28, 28) uint8.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: wrong magic, unexpected ndim, or a size that disagrees with the header
            (truncated, padded, or a header declaring more than the file can hold).

    Example:
        >>> read_idx("t10k-labels-idx1-ubyte.gz", ndim=1).shape
        (10000,)
    """
    path = Path(path)
    file_size = path.stat().st_size
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    if not gzipped:
        with open(path, "rb") as f:
            dtype, dims, header_len = _parse_header(f.read(4 + 4 * 8)[:36], path)
            _check_ndim(path, dims, ndim)
            need = math.prod(dims) * dtype.itemsize
            if file_size - header_len != need:
                raise _bad(path, _describe(dims, dtype), f"{file_size - header_len} bytes")
            f.seek(header_len)
            data = np.fromfile(f, dtype=dtype, count=math.prod(dims))
        return _native(data.reshape(dims))
    try:
        return _read_gzip(path, file_size, ndim)
    except (OSError, EOFError, zlib.error) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise _bad(path, "a complete gzip stream", f"a broken one ({type(e).__name__}: {e})") from e


def _check_ndim(path: Path, dims: tuple[int, ...], ndim: int | None) -> None:
    if ndim is not None and len(dims) != ndim:
        raise _bad(path, f"an IDX array with {ndim} dimensions", f"{len(dims)} dimensions {dims}")


def _read_gzip(path: Path, file_size: int, ndim: int | None) -> np.ndarray:
    with open(path, "rb") as f:  # the gzip trailer records the uncompressed size mod 2^32
        f.seek(max(0, file_size - 4))
        isize = int.from_bytes(f.read(4), "little") if file_size >= 18 else None
    with gzip.open(path, "rb") as g:
        head = g.read(36)
        dtype, dims, header_len = _parse_header(head, path)
        _check_ndim(path, dims, ndim)
        need = math.prod(dims) * dtype.itemsize
        total = header_len + need
        if total > file_size * _MAX_DEFLATE_RATIO:
            raise _bad(
                path,
                _describe(dims, dtype),
                f"a {file_size}-byte gzip file, which cannot hold that much",
            )
        if isize is not None and total % (1 << 32) != isize:
            raise _bad(path, _describe(dims, dtype), f"{isize - header_len} bytes (gzip trailer)")
        buf = bytearray(head[header_len:])
        while len(buf) < need:
            chunk = g.read(min(_CHUNK, need - len(buf)))
            if not chunk:
                raise _bad(path, _describe(dims, dtype), f"{len(buf)} bytes")
            buf += chunk
        if len(buf) > need or g.read(1):
            raise _bad(path, _describe(dims, dtype), "more data than the header declares")
    return _native(np.frombuffer(buf, dtype=dtype).reshape(dims))


def _native(a: np.ndarray) -> np.ndarray:
    return a.astype(a.dtype.newbyteorder("="), copy=False) if a.dtype.byteorder == ">" else a


def _find(folder: Path, filename: str) -> Path | None:
    """The file as published (.gz) or decompressed (without .gz), whichever is there."""
    for name in (filename, filename.removesuffix(".gz")):
        if (folder / name).is_file():
            return folder / name
    return None


def _load_idx_set(
    name: str,
    root: str | os.PathLike | None,
    download: bool,
    val_fraction: float,
    seed: int,
    progress: bool,
) -> Splits:
    folder = dataset_folder(root, name)
    resources = RESOURCES[name]
    missing = [r for r in resources if _find(folder, r.filename) is None]
    if missing and download:
        fetch_all(name, folder, missing, MIRRORS[name], progress)
        missing = [r for r in resources if _find(folder, r.filename) is None]
    if missing:
        raise missing_files_error(
            name, folder, [r.filename for r in missing], MIRRORS[name], hint=" (gzipped or not)"
        )
    paths = [_find(folder, r.filename) for r in resources]
    x_train, y_train = _images_and_labels(paths[0], paths[1], len(CLASSES[name]))
    x_test, y_test = _images_and_labels(paths[2], paths[3], len(CLASSES[name]))
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataFormatError(
            f"{paths[2]}: expected images of shape {x_train.shape[1:]} like {paths[0].name}; "
            f"found {x_test.shape[1:]}"
        )
    return make_splits(
        name,
        x_train,
        y_train,
        x_test,
        y_test,
        CLASSES[name],
        tuple(x_train.shape[1:]),
        val_fraction,
        seed,
        max_value=255,
    )


def _images_and_labels(images: Path, labels: Path, n_classes: int) -> tuple:
    x = read_idx(images, ndim=3)
    y = read_idx(labels, ndim=1)
    if x.dtype != np.uint8 or y.dtype != np.uint8:
        bad, dt = (images, x.dtype) if x.dtype != np.uint8 else (labels, y.dtype)
        raise _bad(bad, "unsigned bytes (IDX type 0x08)", f"values of type {dt}")
    if x.shape[0] != y.shape[0]:
        raise DataFormatError(
            f"{labels}: expected {x.shape[0]} labels, one per image in {images.name}; found "
            f"{y.shape[0]}. One of the two files is not from the same set: download both again"
        )
    if y.size and y.max() >= n_classes:
        raise _bad(labels, f"labels in 0..{n_classes - 1}", f"the label {int(y.max())}")
    return x, y.astype(np.int64)


def mnist(
    root: str | os.PathLike | None = None,
    download: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> Splits:
    """MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28, 10 classes.

    Args:
        root: the folder holding the four IDX files (gzipped or not); None means
            ``data_dir() / "mnist"`` (``$CHAINRULE_DATA/mnist`` or ``~/.cache/chainrule/mnist``).
        download: fetch missing files from ``MIRRORS["mnist"]``, verify their MD5 and cache them.
        val_fraction: the stratified share of the 60,000 training images held out for validation.
        seed: seeds the validation split (the test split is always the official 10,000).
        progress: show a progress bar while downloading.

    Returns:
        ``Splits`` with x float32 in [0, 1] of shape (N, 28, 28), y int64, classes "0".."9".

    Raises:
        FileNotFoundError: files missing and download=False (the message says what to put where).
        DownloadError: files missing and no mirror could be reached (a FileNotFoundError too).
        DataFormatError: a file is truncated, corrupt or fails its checksum.

    Example:
        >>> s = cr.data.datasets.mnist(download=True)
        >>> s.x_train.shape, s.x_val.shape, s.x_test.shape
        ((54000, 28, 28), (6000, 28, 28), (10000, 28, 28))
    """
    return _load_idx_set("mnist", root, download, val_fraction, seed, progress)


def fashion_mnist(
    root: str | os.PathLike | None = None,
    download: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> Splits:
    """Fashion-MNIST: Zalando's 28x28 clothing images in MNIST's format, 10 classes.

    Args and returns as ``mnist``; the default folder is ``data_dir() / "fashion-mnist"`` and the
    classes are "T-shirt/top", "Trouser", ..., "Ankle boot".

    Example:
        >>> cr.data.datasets.fashion_mnist(download=True).classes[9]
        'Ankle boot'
    """
    return _load_idx_set("fashion-mnist", root, download, val_fraction, seed, progress)
