"""Extracting tar archives safely: every member is checked before anything is written.

Refused: absolute paths, paths with ``..``, links of any kind, devices and FIFOs, and archives
whose members add up to more than a size cap or a count cap (a 175 KB tar.gz can hold 30,000
empty members). The headers are read one at a time and the archive is refused at the first
member past either cap, before the rest is read. Only regular files and folders are written, into a
temporary folder inside the target that is renamed into place when everything has been
extracted, so a failure leaves nothing half-extracted behind. Where Python's tarfile offers the
``data`` extraction filter (3.12, backported to 3.8.17+), it is applied as a second guard.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from .errors import DataFormatError

MAX_TOTAL_SIZE = 1 << 30  # 1 GiB: CIFAR-10 extracts to 178 MB
MAX_MEMBERS = 1000  # CIFAR-10's archive holds 8 (a folder and 7 files)


def _check_member(member: tarfile.TarInfo, archive: Path, allowed_top: set[str] | None) -> None:
    name = member.name
    parts = [p for p in PurePosixPath(name).parts if p != "."]
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        problem = "an absolute path"
    elif ".." in parts or "\\" in name:
        problem = "a path that leaves the folder ('..' or a backslash)"
    elif member.issym() or member.islnk():
        problem = f"a {'symbolic' if member.issym() else 'hard'} link to {member.linkname!r}"
    elif not (member.isfile() or member.isdir()):
        problem = "a special file (device, FIFO or other)"
    elif allowed_top is not None and parts and parts[0] not in allowed_top:
        problem = f"outside the expected folder {' or '.join(sorted(allowed_top))}"
    else:
        return
    raise DataFormatError(
        f"{archive}: refusing to extract the archive: member {name!r} is {problem}; expected "
        "only regular files and folders with relative paths. The archive is not the official "
        "one: delete it and download it again"
    )


def safe_extract_tar(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    max_total_size: int = MAX_TOTAL_SIZE,
    allowed_top: set[str] | None = None,
    max_members: int = MAX_MEMBERS,
) -> list[str]:
    """Extract a (gzipped) tar archive into ``dest`` after checking every member.

    Args:
        archive: a .tar, .tar.gz or .tgz file.
        dest: the folder to extract into (created if needed); existing entries with the same
            top-level names are replaced.
        max_total_size: refuse archives whose files add up to more bytes than this.
        allowed_top: if given, the only top-level names members may have (so an archive cannot
            replace other folders in ``dest``).
        max_members: refuse archives with more members (files and folders) than this.

    Returns:
        The top-level names that were extracted (e.g. ``["cifar-10-batches-py"]``).

    Raises:
        DataFormatError: the archive is unreadable, truncated, larger than a cap, or holds a
            member that is not a relative regular file or folder; nothing is extracted.

    Example:
        >>> cr.data.archive.safe_extract_tar("cifar-10-python.tar.gz", "data/cifar10")
        ['cifar-10-batches-py']
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                # header by header (a truncated archive fails here), each checked at once, so a
                # bomb is refused before the rest of its headers are read or decompressed
                members, total = [], 0
                while (m := tar.next()) is not None:
                    members.append(m)
                    if len(members) > max_members:
                        raise DataFormatError(
                            f"{archive}: refusing to extract an archive of more than "
                            f"{max_members} members (files and folders); expected the official "
                            "archive. Delete it and download it again"
                        )
                    _check_member(m, archive, allowed_top)
                    total += m.size if m.isfile() else 0
                    if total > max_total_size:
                        raise DataFormatError(
                            f"{archive}: refusing to extract more than {max_total_size} bytes "
                            f"(the cap; the members so far add up to {total}); expected the "
                            "official archive. Delete it and download it again"
                        )
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, members=members, filter="data")
                else:  # pragma: no cover - Pythons without extraction filters
                    tar.extractall(tmp, members=members)
        except (tarfile.TarError, EOFError, OSError, ValueError) as e:
            if isinstance(e, DataFormatError):
                raise
            raise DataFormatError(
                f"{archive}: expected a complete tar(.gz) archive; found an unreadable or "
                f"truncated one ({type(e).__name__}: {e}). Delete it and download it again"
            ) from e
        tops = sorted(p.name for p in tmp.iterdir())
        for name in tops:
            target = dest / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(tmp / name, target)
        return tops
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
