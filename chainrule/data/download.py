"""Fetching data files: the cache folder, and streamed, size-capped, checksummed, atomic downloads.

A download streams into a temporary file next to its target while the MD5 is computed; only a
file of the expected size and checksum is renamed into place (``os.replace``, one atomic step),
so the cache never holds a partial or unverified file. A response larger than expected, or
longer than its own Content-Length, is refused as soon as that is known.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from ..serialization import atomic_open
from .errors import DataFormatError

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 16


def data_dir() -> Path:
    """The folder where data sets are cached: ``$CHAINRULE_DATA``, else ``~/.cache/chainrule``.

    Each data set uses a subfolder (``mnist``, ``fashion-mnist``, ``cifar10``). Nothing is created.

    Example:
        >>> os.environ["CHAINRULE_DATA"] = "/data"; cr.data.data_dir()
        PosixPath('/data')
    """
    env = os.environ.get("CHAINRULE_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "chainrule"


def file_md5(path: str | os.PathLike) -> str:
    """The MD5 hex digest of a file, read in chunks (MD5 only checks integrity, not authenticity).

    Example:
        >>> cr.data.download.file_md5("train-labels-idx1-ubyte.gz")
        'd53e105ee54ea40749a09fcbcd1e9432'
    """
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _progress_bar(total: int | None, name: str, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the bar is optional: pip install tqdm (chainrule[progress])
        logger.info("downloading %s (install tqdm for a progress bar)", name)
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name, leave=False)


def download_url(
    url: str,
    path: str | os.PathLike,
    expected_md5: str | None = None,
    expected_size: int | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``path``: streamed, size-capped, checksum-verified, written atomically.

    Args:
        url: an ``http://`` or ``https://`` address.
        path: the file to create; its folder is created if needed. An existing file is replaced
            only once the new one has been verified.
        expected_md5: the published MD5 hex digest; a mismatch raises and keeps nothing.
        expected_size: the size in bytes; a response announcing or delivering more is refused
            at once, and one that delivers less fails the size (or checksum) check.
        progress: show a tqdm bar on stderr (if tqdm is installed).
        timeout: seconds to wait on the connection before giving up.

    Returns:
        The path of the verified file.

    Raises:
        ValueError: ``url`` is not http(s).
        ConnectionError: the server could not be reached or the transfer broke off (chained to
            the cause); nothing is written.
        DataFormatError: the response is larger than expected or fails its size or checksum
            check; nothing is written.

    Example:
        >>> cr.data.download.download_url(
        ...     "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        ...     "data/t10k-labels-idx1-ubyte.gz", expected_md5="ec29112dd5afa0611ce80d1b7f02629c")
    """
    import http.client
    import urllib.error
    import urllib.request

    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"download_url: expected an http:// or https:// address; got {url!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": "chainrule"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise ConnectionError(f"could not download {url}: {e}") from e

    bar = None
    try:
        with response, atomic_open(path) as out:
            length = response.headers.get("Content-Length")
            length = int(length) if length is not None and length.strip().isdigit() else None
            if expected_size is not None and length is not None and length > expected_size:
                raise DataFormatError(
                    f"download of {url} refused: the server announces {length} bytes, but "
                    f"{path.name} is {expected_size} bytes; the mirror serves another file"
                )
            cap = expected_size if expected_size is not None else length
            bar = _progress_bar(expected_size or length, path.name, progress)
            h = hashlib.md5(usedforsecurity=False)
            received = 0
            while True:
                try:
                    chunk = response.read(CHUNK_SIZE)
                except (OSError, ValueError, http.client.HTTPException) as e:  # cut off, timeouts
                    raise ConnectionError(
                        f"download of {url} broke off after {received} bytes: {e}"
                    ) from e
                if not chunk:
                    break
                received += len(chunk)
                if cap is not None and received > cap:
                    what = "expected size" if expected_size is not None else "Content-Length"
                    raise DataFormatError(
                        f"download of {url} refused: more than {cap} bytes arrived (the "
                        f"{what} of {path.name}); the mirror serves another file"
                    )
                h.update(chunk)
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if length is not None and received != length:
                raise ConnectionError(
                    f"download of {url} broke off: {received} of {length} bytes arrived"
                )
            if expected_size is not None and received != expected_size:
                raise DataFormatError(
                    f"download of {url}: expected {path.name} to be {expected_size} bytes; "
                    f"found {received} bytes. Try again or use another mirror"
                )
            found = h.hexdigest()
            if expected_md5 is not None and found != expected_md5.lower():
                raise DataFormatError(
                    f"checksum mismatch for {path.name} downloaded from {url}: expected md5 "
                    f"{expected_md5.lower()}, found md5 {found} ({received} bytes); the file was "
                    "not kept. Try again or use another mirror"
                )
    finally:
        if bar is not None:
            bar.close()
    logger.info("downloaded %s to %s", url, path)
    return path
