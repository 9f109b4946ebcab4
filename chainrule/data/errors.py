"""The errors of data files: one that is not what its format promises, one that cannot be had."""

from __future__ import annotations


class DataFormatError(ValueError):
    """A data file is truncated, corrupt, of another format, or fails its checksum.

    The message names the file, what was expected and what was found, and how to fix it
    (usually: delete the file and download it again). A ``ValueError``, so code that already
    catches bad values catches it too.

    Example:
        >>> try:
        ...     cr.data.datasets.mnist("/data/mnist")
        ... except cr.data.DataFormatError as e:
        ...     print(e)  # names the file, the expected and the found size/magic/checksum
    """


class DownloadError(ConnectionError, FileNotFoundError):
    """Data files are missing and could not be downloaded (no network, or no mirror answered).

    The message lists every missing file, the folder to put it in and the addresses to get it
    from, so it can be shown alone, without a traceback. Both a ``ConnectionError`` (the
    download failed) and a ``FileNotFoundError`` (the files are not there), so code that
    handles either handles it; the network error that ended the last try is its ``__cause__``.

    Example:
        >>> try:
        ...     cr.data.datasets.mnist("/data/mnist", download=True)
        ... except FileNotFoundError as e:
        ...     print(e)  # "download failed (...). Offline? mnist: missing data file(s) ..."
    """
