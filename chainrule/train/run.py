"""The run folder: everything a training run leaves behind, each file written atomically.

config.json              every resolved option, the data set's facts and the versions
metrics.csv              one row per completed epoch
model.safetensors        the best model so far (by validation accuracy), with preprocessing
checkpoint.safetensors   the last completed epoch: model, optimizer, schedule, data order and
                         random state, and the metrics history, for --resume
summary.json             test accuracy, per-class accuracy and the confusion matrix
curves.png, confusion.png, templates.png (linear models on images), first_layer.png (MLPs on
                         images), boundary.png (2-D data)
.chainrule.lock          while a process writes the folder: the lock it holds (flock)

Whose files. chainrule writes only into a new folder, an empty one, or a run folder it made
(one whose config.json holds a run's options), and it deletes only the files named above and the
temporary files of its own writes (``.NAME.XXXXXXXX.tmp``, NAME one of the above): a user's
files, even in a run folder, are never touched, and a folder that is no run is refused whatever
the options.

One writer. A process writing a run folder holds its lock (folders.FolderLock: ``fcntl.flock``
on ``.chainrule.lock`` in it) until it is done, and a second process that wants to write the
folder is refused; a killed process's lock goes with it. New folders of default names are made
with one atomic ``os.mkdir`` each, a taken name getting a suffix (folders.new_folder).

Crash safety. Each file goes to a temporary file that is then renamed over the old one, so a
process killed at any moment (SIGKILL included) leaves each file old or new, never a part; what
it wrote is in the system's cache and still reaches the disk. A crash of the machine (a power
cut) also loses what was not yet flushed to disk (fsync), and a file renamed before its data was
flushed can come back empty. So a file is flushed before its rename (one fsync each) unless
--resume writes it again from the checkpoint; fit() relies on that for the two files it
rewrites every epoch besides the checkpoint:

- metrics.csv is the checkpoint's history, which --resume writes back: never flushed in training.
- model.safetensors holds the best epoch's weights. While the best epoch is the checkpoint's own
  (most epochs of a run that still improves), --resume writes it back from the checkpoint's
  weights; before the first checkpoint past the best epoch, it is flushed.

finish() flushes both before summary.json, which marks a finished run. That leaves one fsync per
epoch (the checkpoint) where there were up to three. (The renames are not flushed by an fsync of
the folder: a machine crash can undo the last ones, in order on a journaling file system, which
leaves older whole files, and a resume repeats those epochs.)
"""

from __future__ import annotations

import csv
import io
import json
import platform
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..serialization import atomic_write_bytes, sync_file
from .folders import LOCK_FILE, FolderLock, RunFolderBusy, cannot, make_parents, new_folder

__all__ = ["RunFolder", "RunFolderBusy", "new_folder", "versions", "LOCK_FILE", "METRIC_FIELDS"]

METRIC_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
#: Every file a run writes in its folder: the only ones --overwrite deletes.
RUN_FILES = (
    "config.json",
    "metrics.csv",
    "model.safetensors",
    "checkpoint.safetensors",
    "summary.json",
    "curves.png",
    "confusion.png",
    "templates.png",
    "first_layer.png",
    "boundary.png",
    "filters.png",  # a ConvNet's (train/conv_figures.py)
    "feature_maps.png",
)
#: The files a sweep writes in its folder, besides one run folder per combination.
SWEEP_FILES = ("sweep.json", "boundaries.png")
# serialization.atomic_open's temporary files: "." + the file's name + "." + mkstemp's 8 random
# characters + ".tmp"; only those of chainrule's own files are ever deleted
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")


class RunFolder:
    """Paths and writers of one run folder (or, with ``sweep=True`` where asked, a sweep's).

    Args:
        path: the folder.

    Example:
        >>> run = RunFolder("runs/digits")
        >>> run.create()          # made and locked: this process alone writes it
        >>> run.write_json(run.config, {"options": {}})
        >>> run.unlock()
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = FolderLock(self.path)

    config = property(lambda self: self.path / "config.json")
    metrics = property(lambda self: self.path / "metrics.csv")
    model = property(lambda self: self.path / "model.safetensors")
    checkpoint = property(lambda self: self.path / "checkpoint.safetensors")
    summary = property(lambda self: self.path / "summary.json")

    # ----- what the folder is -----
    def is_run(self) -> bool:
        """Whether this is a folder chainrule wrote a run into: its config.json holds a run's
        options and chainrule's version."""
        data = _json_or_none(self.config)
        return (
            isinstance(data, dict)
            and isinstance(data.get("options"), dict)
            and isinstance(data.get("versions"), dict)
            and "chainrule" in data["versions"]
        )

    def is_sweep(self) -> bool:
        """Whether this is a sweep's folder: its sweep.json, or a run folder inside it."""
        data = _json_or_none(self.path / "sweep.json")
        if isinstance(data, dict) and {"axes", "runs"} <= data.keys():
            return True
        return any(p.is_dir() and RunFolder(p).is_run() for p in _entries(self.path))

    def require(self) -> None:
        """Check that this is a run folder (for evaluate, predict, info, --resume); read only."""
        if not self.config.is_file():
            raise FileNotFoundError(
                f"{str(self.path)!r} is not a run folder: it has no config.json (expected the "
                "--out folder of a `chainrule train` run)"
            )
        if not self.is_run():
            raise ValueError(
                f"{str(self.path)!r} is not a chainrule run folder: its config.json holds no "
                "run options (expected the --out folder of a `chainrule train` run)"
            )

    # ----- making, locking and replacing -----
    def create(self, overwrite: bool = False, sweep: bool = False) -> bool:
        """Make the folder and lock it: this process alone writes it until ``unlock()``.

        A new or empty folder is used. One that holds a run (a sweep, with ``sweep``) is refused
        unless ``overwrite``, which deletes only the files chainrule wrote there. Any other
        folder is refused: chainrule never deletes what it did not write.

        Returns:
            Whether this call made the folder (False for one that existed).

        Raises:
            FileExistsError: the folder holds a run (without ``overwrite``) or files that are
                not chainrule's; RunFolderBusy: another process is writing it.
            NotADirectoryError, PermissionError, OSError: the folder cannot be made (the message
                says which part of the path is in the way).
        """
        # a folder that is not chainrule's is refused before anything is touched; whether a run
        # may be replaced is decided under the lock (a run being written is refused as such)
        self._check_target(True, sweep)
        made = self._mkdir()
        try:
            self.lock()
        except BaseException:
            if made:  # leave no empty folder behind (another process's lock file keeps it)
                try:
                    self.path.rmdir()
                except OSError:
                    pass
            raise
        try:
            # again under the lock: another process may have written the folder in between
            self._check_target(overwrite, sweep)
            if overwrite:
                self._clear(sweep)
            self.remove_stale_temporaries(sweep)
        except BaseException:
            self.unlock()
            raise
        return made

    def lock(self) -> None:
        """Take the folder's write lock (see ``FolderLock``), without waiting.

        Raises:
            RunFolderBusy: another process holds it.
        """
        self._lock.acquire()

    def unlock(self) -> None:
        """Release the write lock (if held)."""
        self._lock.release()

    def remove_if_empty(self) -> bool:
        """Delete the folder if it holds nothing but chainrule's lock and temporary files (a run
        stopped before its first file); return whether it was deleted."""
        if not self.path.is_dir() or any(not self._scratch(p) for p in _entries(self.path)):
            return False
        self.unlock()
        for p in _entries(self.path):
            p.unlink(missing_ok=True)
        try:
            self.path.rmdir()
        except OSError:  # something new appeared: leave it
            return False
        return True

    def remove_stale_temporaries(self, sweep: bool = False) -> list[Path]:
        """Delete the temporary files of writes that a killed process never finished.

        Every file of the run is written to a temporary ``.NAME.XXXXXXXX.tmp`` first and renamed
        into place; a process killed in between leaves the temporary behind, and the real file
        whole. Only the temporaries of chainrule's own files are deleted, never other ``.tmp``
        files.
        """
        stale = sorted(p for p in _entries(self.path) if _temporary_of(p.name, sweep))
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

    def _scratch(self, p: Path, sweep: bool = False) -> bool:
        """An entry that makes no folder a run: the lock, a temporary file, and in a sweep a run
        folder that never got its first file."""
        if p.name == LOCK_FILE or _temporary_of(p.name, sweep):
            return True
        if sweep and p.is_dir() and not p.is_symlink():
            return all(RunFolder(p)._scratch(q) for q in _entries(p))
        return False

    def _check_target(self, overwrite: bool, sweep: bool) -> None:
        where = str(self.path)
        if self.path.is_symlink() and not self.path.exists():
            raise FileExistsError(f"--out: {where!r} is a broken link; expected a folder")
        if self.path.exists() and not self.path.is_dir():
            raise FileExistsError(
                f"--out: {where!r} exists and is not a folder; expected a folder (new, empty, "
                "or a run folder)"
            )
        if not self.path.is_dir():
            return
        entries = [p for p in _entries(self.path) if not self._scratch(p, sweep)]
        if not entries:
            return
        if self.is_sweep() if sweep else self.is_run():
            if overwrite:
                return
            what, resume = (
                ("a sweep", "") if sweep else ("a run", f"--resume {self.path} to continue it, ")
            )
            raise FileExistsError(
                f"--out: the folder {where!r} already holds {what}; pass {resume}--overwrite "
                "to replace it (only the files chainrule wrote are deleted), or another --out"
            )
        shown = ", ".join(p.name + ("/" if p.is_dir() else "") for p in sorted(entries)[:4])
        more = f" and {len(entries) - 4} more" if len(entries) > 4 else ""
        raise FileExistsError(
            f"--out: the folder {where!r} is not a chainrule {'sweep' if sweep else 'run'} "
            f"folder: it holds {shown}{more}. chainrule writes only into a new or empty folder "
            "(or one of its own runs) and never deletes files it did not write: choose another "
            "--out"
        )

    def _mkdir(self) -> bool:
        """Make the folder (and its parents); return whether this call made it."""
        if self.path.is_dir():
            return False
        make_parents(self.path)
        try:
            self.path.mkdir()
        except FileExistsError:  # made by another process meanwhile: the lock sorts it out
            if not self.path.is_dir():
                raise FileExistsError(
                    f"--out: {str(self.path)!r} exists and is not a folder; expected a folder"
                ) from None
            return False
        except OSError as e:
            raise cannot(f"make the folder {str(self.path)!r}", self.path, e) from None
        return True

    def _clear(self, sweep: bool) -> None:
        """Delete what chainrule wrote here; nothing else."""
        if sweep:
            for p in _entries(self.path):
                if (
                    p.is_dir()
                    and not p.is_symlink()
                    and (RunFolder(p).is_run() or self._scratch(p, True))
                ):
                    sub = RunFolder(p)
                    sub.lock()
                    try:
                        sub._clear(sweep=False)
                        sub.remove_stale_temporaries()
                    finally:
                        sub.unlock()
                    sub.remove_if_empty()
        for name in SWEEP_FILES if sweep else RUN_FILES:
            (self.path / name).unlink(missing_ok=True)

    # ----- the files -----
    def write_json(self, path: Path, data: Any) -> None:
        text = json.dumps(data, indent=2, default=_json_default) + "\n"
        atomic_write_bytes(path, text.encode("utf-8"))

    def read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"could not read {str(path)!r}: {e}") from None

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        """Rewrite metrics.csv with one row per epoch of ``history`` (atomically, not flushed to
        disk: see the module's crash safety)."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=METRIC_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in history:
            writer.writerow({k: _fmt(row.get(k)) for k in METRIC_FIELDS})
        atomic_write_bytes(self.metrics, buf.getvalue().encode("utf-8"), durable=False)

    def sync(self) -> None:
        """Flush the files that training writes without fsync (metrics.csv, model.safetensors)."""
        for path in (self.metrics, self.model):
            sync_file(path)

    def read_metrics(self) -> list[dict[str, float]]:
        with open(self.metrics, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return [
            {k: (float(v) if v not in ("", None) else None) for k, v in r.items()} for r in rows
        ]


def versions() -> dict[str, str]:
    """The versions that can change a run's numbers."""
    from .. import __version__

    return {
        "chainrule": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _entries(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _temporary_of(name: str, sweep: bool = False) -> bool:
    """Whether ``name`` is the temporary file of a write of one of chainrule's own files."""
    m = _TEMPORARY.fullmatch(name)
    return bool(m) and m.group("name") in (SWEEP_FILES if sweep else RUN_FILES)


def _json_or_none(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v)  # round-trips exactly
    return "" if v is None else v


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")
