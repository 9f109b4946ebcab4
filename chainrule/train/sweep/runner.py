"""``run_sweep``: every grid point trained as one task, the results in one table and folder.

Each point's run goes to its own sub-folder of the sweep folder, named by its values; the best
run is chosen on validation accuracy alone, and only its test accuracy is reported. The points
run on an executor (``executors.py``: local processes, Ray or Dask); the folder, the table and
the figure are the same whichever runs them.

A point that fails (its run diverged, its worker died) is a row with its error; the others
finish. Running the same sweep again into its folder continues it: the points whose runs are
complete are kept and skipped, the others (failed, or stopped part-way) are trained again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..run import RunFolder
from .executors import check_executor, run_tasks
from .grid import axes_of, grid, run_name
from .task import complete, train_point, write_point


def run_sweep(
    base: TrainConfig,
    values: dict[str, Sequence[Any]],
    out: str | Path,
    workers: int | None = None,
    overwrite: bool = False,
    report: Callable[[dict[str, Any]], None] | None = None,
    executor: str = "local",
    address: str | None = None,
) -> dict[str, Any]:
    """Train every combination; return the table and the best run (chosen on validation).

    Args:
        base: the options shared by every run.
        values: the values of each swept option, e.g. {"hidden": [[3], [6], [20]],
            "reg": [0.001, 0.01, 0.1]}.
        out: the sweep folder; each run is a sub-folder named by its values. A folder holding
            this same sweep (same options, same values) is continued: its complete runs are
            skipped.
        workers: parallel runs on this machine (default: the number of cores): the local
            processes, or the size of the Ray or Dask cluster started here without ``address``.
        overwrite: replace an existing sweep (only the files chainrule wrote are deleted).
        report: called with each point's row as it finishes (skipped points first).
        executor: where the points run: "local", "ray" or "dask" (``executors.py``).
        address: the Ray or Dask scheduler to send the points to (None: a cluster on this
            machine).

    Returns:
        {"axes": [...], "runs": [row, ...], "best": row, ...}: each row holds the swept values,
        "out", "val_acc", "test_acc", "status" ("trained", "skipped": complete before, or
        "failed") and "error" (None, or the failure's type and message); "best" is None when
        every point failed. Written to ``out/sweep.json`` too.

    Raises:
        ValueError: a bad value or executor option, before any run; FileExistsError: ``out``
            holds another sweep (without ``overwrite``) or files that are not chainrule's;
            ImportError: Ray or Dask is missing.

    Example:
        >>> result = run_sweep(TrainConfig(dataset="spiral"), {"reg": [0.001, 0.1]}, "runs/s")
        >>> result["best"]["reg"], result["best"]["test_acc"]
        (0.001, 0.9...)
    """
    configs = grid(base, values)
    check_executor(executor, address, workers)
    axes = axes_of(values)
    header = {
        "axes": axes,
        "values": {a: list(values[a]) for a in axes},
        "options": base.to_dict(),
        "dataset": base.dataset,
        "executor": executor,
    }
    folder = RunFolder(out)
    if not overwrite and _same_sweep(folder, header):
        folder.lock()  # continue it: nothing is deleted
        try:
            if not _same_sweep(folder, header):  # again, under the lock
                raise FileExistsError(f"--out: the sweep in {str(folder.path)!r} changed")
            folder.remove_stale_temporaries(sweep=True)
        except BaseException:
            folder.unlock()
            raise
    else:
        if not overwrite and folder.is_sweep():
            raise FileExistsError(
                f"--out: the folder {str(folder.path)!r} already holds a sweep of other options "
                "or values (the same sweep would continue it); pass --overwrite to replace it "
                "(only the files chainrule wrote are deleted), or another --out"
            )
        folder.create(overwrite, sweep=True)  # locked until the sweep ends
    try:
        folder.write_json(folder.path / "sweep.json", {**header, "runs": [], "best": None})
        return _run_all(folder, header, configs, workers, report, executor, address)
    finally:
        folder.unlock()


def _same_sweep(folder: RunFolder, header: dict[str, Any]) -> bool:
    """Whether ``folder`` holds a sweep of the same options and values (any executor)."""
    try:
        saved = json.loads((folder.path / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    same = ("axes", "values", "options")
    wanted = json.loads(json.dumps({k: header[k] for k in same}))  # lists as JSON has them
    return isinstance(saved, dict) and all(saved.get(k) == wanted[k] for k in same)


def _run_all(
    folder: RunFolder,
    header: dict[str, Any],
    configs: list[TrainConfig],
    workers: int | None,
    report: Callable[[dict[str, Any]], None] | None,
    executor: str,
    address: str | None,
) -> dict[str, Any]:
    axes = header["axes"]
    rows: list[dict[str, Any] | None] = [None] * len(configs)

    def finish(i: int, status: str, result: dict[str, Any] | None, error: str | None) -> None:
        config = configs[i]
        row = {a: getattr(config, a) for a in axes}
        row["out"] = str(folder.path / run_name(config, axes))
        row["val_acc"] = result["val_acc"] if result else None
        row["test_acc"] = result["test_acc"] if result else None
        row.update(status=status, error=error)
        rows[i] = row
        if report is not None:
            report(row)

    todo = []
    for i, config in enumerate(configs):
        done = complete(RunFolder(folder.path / run_name(config, axes)), config)
        if done is not None:
            finish(i, "skipped", done, None)
        else:
            todo.append(i)
    remote = executor != "local"  # a cluster's worker sends its run folder back
    jobs = [
        {
            "options": configs[i].to_dict(),
            "out": None if remote else str(folder.path / run_name(configs[i], axes)),
        }
        for i in todo
    ]
    if jobs:
        for k, outcome in run_tasks(train_point, jobs, executor, address, workers):
            i = todo[k]
            if isinstance(outcome, BaseException):
                finish(i, "failed", None, _describe(outcome))
                continue
            if remote:
                point = RunFolder(folder.path / run_name(configs[i], axes))
                try:
                    write_point(point, outcome["files"])
                except (OSError, ValueError) as e:
                    finish(i, "failed", None, _describe(e))
                    continue
            finish(i, "trained", outcome, None)
    runs = [r for r in rows if r is not None]
    ok = [r for r in runs if r["error"] is None]
    best = max(ok, key=lambda r: r["val_acc"]) if ok else None  # the first of any ties
    result = {**header, "runs": runs, "best": best}
    folder.write_json(folder.path / "sweep.json", result)
    return result


def _describe(e: BaseException) -> str:
    """A failure in one line: the exception's type and its message's first line."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__
