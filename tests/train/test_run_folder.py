"""The run folder's guards: whose files may be deleted, one writer at a time, new names, and
folders that cannot be made."""

from __future__ import annotations

import os
import sys

import pytest

from chainrule.train import RunFolder, TrainConfig, fit
from chainrule.train.run import LOCK_FILE, RunFolderBusy, new_folder
from chainrule.train.sweep import run_sweep


def user_folder(path):
    """A project folder of a user's: files, a sub-folder, and .tmp files of their own."""
    (path / "src").mkdir(parents=True)
    (path / "src" / "main.py").write_text("print('mine')")
    (path / "README.md").write_text("x")
    (path / ".notes.tmp").write_text("draft")
    (path / ".config.json.tmp").write_text("mine too")  # not a name chainrule makes
    return snapshot(path)


def snapshot(path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
def test_a_folder_that_is_no_run_is_refused_and_left_as_it_is(tmp_path, overwrite):
    proj = tmp_path / "proj"
    before = user_folder(proj)
    with pytest.raises(FileExistsError) as info:
        fit(TrainConfig(epochs=1), proj, overwrite=overwrite, figures=False)
    message = str(info.value)
    assert "not a chainrule run folder" in message and "README.md" in message
    assert "--overwrite" not in message  # never suggest the flag that would delete them
    assert snapshot(proj) == before


def test_overwrite_replaces_a_run_and_keeps_what_the_user_added(tmp_path):
    run = tmp_path / "run"
    fit(TrainConfig(epochs=2), run, figures=False)
    (run / "notes.txt").write_text("mine")
    (run / "plots").mkdir()
    (run / "plots" / "a.png").write_bytes(b"png")
    (run / ".draft.tmp").write_text("mine")
    (run / ".summary.json.k1ll3d_x.tmp").write_text("{")  # a killed write of chainrule's own
    fit(TrainConfig(epochs=1), run, overwrite=True, figures=False)
    assert len(RunFolder(run).read_metrics()) == 1
    assert (run / "notes.txt").read_text() == "mine"
    assert (run / "plots" / "a.png").read_bytes() == b"png"
    assert (run / ".draft.tmp").read_text() == "mine"
    assert not (run / ".summary.json.k1ll3d_x.tmp").exists()


def test_resume_deletes_only_chainrules_temporary_files(tmp_path):
    run = tmp_path / "run"
    fit(TrainConfig(epochs=1), run, figures=False)
    (run / ".notes.tmp").write_text("mine")
    (run / ".metrics.csv.abcd_123.tmp").write_text("epoch")
    fit(TrainConfig(epochs=2), run, resume=True, figures=False)
    assert (run / ".notes.tmp").read_text() == "mine"
    assert not (run / ".metrics.csv.abcd_123.tmp").exists()


def test_resume_of_a_folder_with_someone_elses_config_json_deletes_nothing(tmp_path):
    folder = tmp_path / "tool"
    folder.mkdir()
    (folder / "config.json").write_text('{"name": "another tool"}')
    (folder / ".cache.tmp").write_text("mine")
    (folder / ".config.json.abcd_123.tmp").write_text("not chainrule's: no run here")
    before = snapshot(folder)
    with pytest.raises(ValueError, match="not a chainrule run folder"):
        fit(None, folder, resume=True, figures=False)
    assert snapshot(folder) == before


def test_a_folder_holding_only_user_tmp_files_is_not_taken_for_empty(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / ".session.tmp").write_text("mine")
    with pytest.raises(FileExistsError, match="not a chainrule run folder"):
        fit(TrainConfig(epochs=1), folder, figures=False)
    assert (folder / ".session.tmp").read_text() == "mine"


def test_a_sweep_is_replaced_with_overwrite_and_a_users_file_in_it_kept(tmp_path):
    from chainrule.train import TrainConfig as Config

    base = Config(dataset="xor", epochs=1)
    out = tmp_path / "sweep"
    run_sweep(base, {"reg": [0.0]}, out, workers=1)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already holds a sweep"):
        run_sweep(base, {"reg": [0.1]}, out, workers=1)
    result = run_sweep(base, {"reg": [0.1]}, out, workers=1, overwrite=True)
    assert [r["reg"] for r in result["runs"]] == [0.1]
    assert not (out / "reg-0.0").exists()  # the old grid's run, chainrule's own, is gone
    assert (out / "notes.txt").read_text() == "mine"
    project = tmp_path / "project"
    before = user_folder(project)
    with pytest.raises(FileExistsError, match="not a chainrule sweep folder"):
        run_sweep(base, {"reg": [0.1]}, project, workers=1, overwrite=True)
    assert snapshot(project) == before


# ----- one writer at a time -----
def test_a_locked_folder_is_refused_and_the_lock_goes_with_its_holder(tmp_path):
    first = RunFolder(tmp_path / "run")
    first.create()
    assert (tmp_path / "run" / LOCK_FILE).read_text().strip() == str(os.getpid())
    for attempt in (lambda: RunFolder(tmp_path / "run").create(), RunFolder(first.path).lock):
        with pytest.raises(RunFolderBusy, match="being written by another chainrule process"):
            attempt()
    with pytest.raises(RunFolderBusy):
        fit(TrainConfig(epochs=1), first.path, figures=False)
    first.unlock()
    assert not (tmp_path / "run" / LOCK_FILE).exists()
    fit(TrainConfig(epochs=1), first.path, figures=False)  # free again
    assert not (tmp_path / "run" / LOCK_FILE).exists()


def test_a_lock_file_left_by_a_killed_process_does_not_block(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_FILE).write_text("12345\n")  # SIGKILL leaves the file; the kernel drops the lock
    fit(TrainConfig(epochs=1), run, figures=False)
    assert (run / "summary.json").is_file()


def test_new_folder_adds_a_suffix_when_the_name_is_taken(tmp_path):
    base = tmp_path / "runs" / "digits-mlp-20250101-120000"
    made = [new_folder(base) for _ in range(3)]
    assert [p.name for p in made] == [base.name, base.name + "-2", base.name + "-3"]
    assert all(p.is_dir() and not any(p.iterdir()) for p in made)


# ----- folders that cannot be made -----
@pytest.mark.skipif(sys.platform != "linux", reason="Linux's /dev/null and /sys")
@pytest.mark.parametrize(
    ("out", "error", "found"),
    [
        ("/dev/null/x", NotADirectoryError, "'/dev/null' is a file, not a folder"),
        ("/dev/null", FileExistsError, "exists and is not a folder"),
        ("/sys/x", OSError, "cannot make the folder '/sys/x'"),
    ],
)
def test_a_folder_that_cannot_be_made_is_a_one_line_error(out, error, found):
    if out == "/sys/x" and not os.path.isdir("/sys"):
        pytest.skip("no /sys")
    with pytest.raises(error) as info:
        fit(TrainConfig(epochs=1), out, figures=False)
    message = str(info.value)
    assert found in message and "\n" not in message
    assert message.startswith("--out:") and "expected" in message
