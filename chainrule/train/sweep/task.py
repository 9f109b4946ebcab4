"""One grid point as a task: what runs on a worker, and its run folder brought home.

``train_point`` is the whole task: it depends on nothing but its argument, so the same function
runs in a local process, on a Ray worker or on a Dask worker. A local worker trains straight into
the sweep's sub-folder; a worker of a cluster may not see the driver's disk, so it trains into a
scratch folder of its own and sends the run folder's files back, and the driver writes them
(``write_point``): the sweep's folder is the same either way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ...serialization import atomic_write_bytes
from ..config import TrainConfig
from ..metrics import best_row
from ..run import RUN_FILES, RunFolder


def train_point(job: dict[str, Any]) -> dict[str, Any]:
    """Train one grid point; the task each executor runs.

    Args:
        job: ``{"options": TrainConfig.to_dict(), "out": folder or None}``. With a folder, the
            run is written there (an incomplete run in it is replaced); with None, into a
            scratch folder whose files come back in the result.

    Returns:
        ``{"val_acc": best epoch's validation accuracy, "test_acc": its test accuracy}``, and
        ``"files": {name: bytes}`` of the run folder when ``out`` was None.

    Raises:
        Exception: whatever the run raises (FloatingPointError for a run that diverged,
            ValueError...): the executor reports it as that point's error.

    Example:
        >>> train_point({"options": TrainConfig(dataset="xor", epochs=2).to_dict(), "out": None})
        {'val_acc': ..., 'test_acc': ..., 'files': {'config.json': b'...', ...}}
    """
    from ..trainer import fit  # here: a worker imports what it runs, the driver need not

    config = TrainConfig.from_dict(job["options"]).validate()
    if job.get("out") is not None:
        return _result(fit(config, job["out"], overwrite=True, figures=False), job["out"])
    with tempfile.TemporaryDirectory(prefix="chainrule-point-") as scratch:
        out = Path(scratch) / "run"
        result = _result(fit(config, out, figures=False), out)
        result["files"] = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if _ours(p)}
        return result


def _result(summary: dict[str, Any], out: str | Path) -> dict[str, Any]:
    best = best_row(RunFolder(out).read_metrics())
    return {"val_acc": best["val_acc"], "test_acc": summary["test_accuracy"]}


def _ours(p: Path) -> bool:
    return p.is_file() and p.name in RUN_FILES


def write_point(folder: RunFolder, files: dict[str, bytes]) -> None:
    """Write a point's run folder from the files a worker sent (``train_point``'s ``files``).

    The folder is locked and an incomplete run in it replaced, as a local run would; each file
    is written atomically and summary.json, which marks a finished run, last.
    """
    unknown = sorted(set(files) - set(RUN_FILES))
    if unknown or "summary.json" not in files:
        raise ValueError(
            f"a worker sent {sorted(files)} for {str(folder.path)!r}; expected the files of a "
            "finished run (summary.json among them)"
        )
    folder.create(overwrite=True)
    try:
        for name in sorted(files, key=lambda n: n == "summary.json"):
            atomic_write_bytes(folder.path / name, files[name])
    finally:
        folder.unlock()


def complete(folder: RunFolder, config: TrainConfig) -> dict[str, Any] | None:
    """The result of a finished run of ``config`` in ``folder`` (as ``train_point`` gives it),
    or None when the folder holds no finished run of exactly these options."""
    if not (folder.summary.is_file() and folder.is_run()):
        return None
    try:
        options = folder.read_json(folder.config)["options"]
        if TrainConfig.from_dict(options).validate().to_dict() != config.to_dict():
            return None
        summary = folder.read_json(folder.summary)
        return {
            "val_acc": best_row(folder.read_metrics())["val_acc"],
            "test_acc": summary["test_accuracy"],
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged run is trained again
