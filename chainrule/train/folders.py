"""Folders that chainrule writes: new names made atomically, one writer at a time, and errors in
one line when a folder cannot be made.

``new_folder`` makes a folder under a wished-for name, or that name with ``-2``, ``-3``... when it
is taken; each try is one ``os.mkdir``, which the system does atomically, so two processes that
start in the same second never share a folder.

``FolderLock`` is an exclusive lock on a folder (``fcntl.flock`` on a lock file inside it, taken
without waiting): a second process that wants to write the folder is refused with
``RunFolderBusy``. The kernel drops the lock when its process ends, however it ends (SIGKILL
included), so a killed run never leaves a stale lock; the file it leaves is harmless.
"""

from __future__ import annotations

import errno
import itertools
import os
from pathlib import Path

LOCK_FILE = ".chainrule.lock"


class RunFolderBusy(FileExistsError):
    """Raised when another process holds a folder's lock (it is training into it)."""


class FolderLock:
    """The write lock of one folder: ``acquire()`` it or be told who holds it.

    Args:
        folder: the folder (it must exist); the lock file is ``folder/.chainrule.lock``.

    Example:
        >>> lock = FolderLock(Path("runs/x"))
        >>> lock.acquire()      # RunFolderBusy if another process holds it
        >>> lock.release()
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, without waiting (a no-op if this object holds it already).

        Raises:
            RunFolderBusy: another process holds it; OSError: the folder cannot be written.
        """
        while self._fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as e:
                raise cannot(
                    f"write into the folder {str(self.folder)!r}", self.folder, e
                ) from None
            try:
                if not _try_lock(fd):
                    holder = os.read(fd, 32).decode("ascii", "replace").strip()
                    who = f" (process {holder})" if holder.isdigit() else ""
                    raise RunFolderBusy(
                        f"{str(self.folder)!r} is being written by another chainrule process"
                        f"{who}: one folder takes one run at a time. Wait for it to end (or stop "
                        "it), or choose another --out"
                    )
                if not _same_file(fd, self.path):  # its holder deleted it as we opened it
                    os.close(fd)
                    continue
                os.ftruncate(fd, 0)  # who holds it, for the message above
                os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd

    def release(self) -> None:
        """Release the lock and delete the lock file (a no-op if not held).

        The file is deleted while still locked; a process that opened it just before then locks
        a deleted file, sees that (``_same_file``) and tries again, so two processes never both
        hold the lock.
        """
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                if _same_file(fd, self.path):
                    self.path.unlink()
            except OSError:  # the folder went away or is read-only now: the lock goes anyway
                pass
            os.close(fd)


def new_folder(base: str | Path) -> Path:
    """Make a new, empty folder named ``base``, or ``base-2``, ``base-3``... when the name is
    taken; each try is one atomic ``os.mkdir``, so two processes never get the same folder.

    Args:
        base: the wished-for path, e.g. runs/digits-mlp-20250101-120000 (its parents are made).

    Returns:
        The folder made.

    Example:
        >>> new_folder("runs/x"), new_folder("runs/x")
        (PosixPath('runs/x'), PosixPath('runs/x-2'))
    """
    base = Path(base)
    make_parents(base)
    for n in itertools.count(1):
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        except OSError as e:
            raise cannot(f"make the folder {str(path)!r}", path, e) from None
        return path
    raise AssertionError("unreachable")


def make_parents(path: Path) -> None:
    """Make the folders above ``path``, or say in one line which part of it is in the way."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a part of the path is a file
        e = NotADirectoryError(errno.ENOTDIR, "Not a directory")
        raise cannot(f"make the folder {str(path)!r}", path, e) from None
    except OSError as e:
        raise cannot(f"make the folder {str(path)!r}", path, e) from None


def cannot(action: str, path: Path, e: OSError) -> OSError:
    """An OSError of ``e``'s kind whose message says, in one line, what was tried, what is in the
    way and what was expected.

    Example:
        >>> str(cannot("make the folder '/dev/null/x'", Path("/dev/null/x"), NotADirectoryError(
        ...     errno.ENOTDIR, "Not a directory")))
        "--out: cannot make the folder '/dev/null/x': '/dev/null' is a file, not a folder; ..."
    """
    if e.errno == errno.ENOTDIR:
        blocker = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), None)
        why = (
            f"{str(blocker)!r} is a file, not a folder" if blocker else "a part of it is no folder"
        )
        hint = "expected a path whose parts are folders"
    elif e.errno in (errno.EACCES, errno.EPERM):
        where = next((p for p in path.parents if p.exists()), path.parent)
        why = f"{str(where)!r} does not let this user create or write files ({e.strerror})"
        hint = "expected a folder you can write to"
    elif e.errno == errno.EROFS:
        why, hint = "it is on a read-only file system", "expected a writable folder"
    else:
        why, hint = e.strerror or str(e), "expected a folder you can write to"
    return type(e)(f"--out: cannot {action}: {why}; {hint}")


def _try_lock(fd: int) -> bool:
    """Lock an open file exclusively without waiting; False if another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is the one at ``path`` now."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    own = os.fstat(fd)
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)
