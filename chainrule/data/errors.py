"""The error a data file reader raises when a file is not what its format promises."""

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
