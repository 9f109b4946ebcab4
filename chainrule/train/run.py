"""The run folder: everything a training run leaves behind, each file written atomically.

config.json              every resolved option, the data set's facts and the versions
metrics.csv              one row per completed epoch
model.safetensors        the best model so far (by validation accuracy), with preprocessing
checkpoint.safetensors   the last completed epoch: model, optimizer, schedule, data order and
                         random state, and the metrics history, for --resume
summary.json             test accuracy, per-class accuracy and the confusion matrix
curves.png, confusion.png, templates.png (linear models on images), boundary.png (2-D data)

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
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..serialization import atomic_write_bytes, sync_file

_TEMPORARY = ".*.tmp"  # serialization.atomic_open's temporary files: .NAME.RANDOM.tmp
METRIC_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


class RunFolder:
    """Paths and writers of one run folder.

    Args:
        path: the folder.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    config = property(lambda self: self.path / "config.json")
    metrics = property(lambda self: self.path / "metrics.csv")
    model = property(lambda self: self.path / "model.safetensors")
    checkpoint = property(lambda self: self.path / "checkpoint.safetensors")
    summary = property(lambda self: self.path / "summary.json")

    def create(self, overwrite: bool = False) -> None:
        """Make the folder; an existing non-empty one is refused unless ``overwrite``."""
        if self.path.exists() and not self.path.is_dir():
            raise FileExistsError(f"--out: {str(self.path)!r} exists and is not a folder")
        # what a process killed during its first write leaves is no run: only a temporary file
        if self.path.is_dir() and any(not p.match(_TEMPORARY) for p in self.path.iterdir()):
            if not overwrite:
                raise FileExistsError(
                    f"--out: the folder {str(self.path)!r} already holds a run; pass --resume "
                    f"{self.path} to continue it, --overwrite to replace it, or another --out"
                )
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temporaries()

    def require(self) -> None:
        """Check that this is a run folder (for evaluate, predict, info, --resume)."""
        if not self.config.is_file():
            raise FileNotFoundError(
                f"{str(self.path)!r} is not a run folder: it has no config.json (expected the "
                "--out folder of a `chainrule train` run)"
            )

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the temporary files of writes that a killed process never finished.

        Every file of the run is written to a temporary ``.NAME.*.tmp`` first and renamed into
        place; a process killed in between leaves the temporary behind, and the real file whole.
        """
        stale = sorted(self.path.glob(_TEMPORARY))
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

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
