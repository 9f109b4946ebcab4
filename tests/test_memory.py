"""Keeping freed memory (chainrule/_memory.py): glibc's malloc thresholds, checked by what they
do, the page faults of a loop that makes and frees the same arrays, in a fresh process each (the
setting belongs to the whole process). No timing: benchmarks/interleaved.py measures the speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule as cr
from chainrule import _memory

ROOT = Path(__file__).resolve().parents[1]


def _is_glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False


def _thp_always() -> bool:
    try:
        return "[always]" in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False


glibc = pytest.mark.skipif(not _is_glibc(), reason="the setting is glibc's malloc's")
#: A page fault per 4 KiB page is what the loop counts: NumPy's huge pages are turned off in it
#: (NUMPY_MADVISE_HUGEPAGE=0), and a kernel giving every process huge pages cannot be counted so
counted = pytest.mark.skipif(_thp_always(), reason="transparent huge pages are always on")

#: Three 8 MiB arrays made, written and freed, 20 times: before the optimizer (glibc's own
#: thresholds), after it, and after ``set_keep_memory(False)`` when ``TURN_OFF`` is set. glibc's
#: dynamic rule serves an 8 MiB block from the heap once one was freed, but keeps only twice
#: that free at the heap's top: the three, 24 MiB, go back to the kernel at every turn.
LOOP = """
import json, os, resource
import numpy as np
import chainrule as cr

PAGES = 3 * (8 << 20) // 4096

def faults_per_page():
    for _ in range(2):  # the first turns raise glibc's own thresholds
        arrays = [np.ones(1 << 20) for _ in range(3)]
        del arrays
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        arrays = [np.ones(1 << 20) for _ in range(3)]  # 8 MiB of float64 each, every page written
        del arrays
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / (20 * PAGES)

out = {"before": faults_per_page(), "kept_before": cr.get_keep_memory()}
opt = cr.optim.SGD([cr.zeros(3, requires_grad=True)], lr=0.1)
out["after"], out["kept_after"] = faults_per_page(), cr.get_keep_memory()
if os.environ.get("TURN_OFF"):
    out["off_returned"] = cr.set_keep_memory(False)
    out["off"], out["kept_off"] = faults_per_page(), cr.get_keep_memory()
print(json.dumps(out))
"""


def run_loop(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in (_memory.ENV, *_memory.USER_TUNING)}
    clean.pop("GLIBC_TUNABLES", None)
    out = subprocess.run(
        [sys.executable, "-c", LOOP],
        env={**clean, "PYTHONPATH": str(ROOT), "NUMPY_MADVISE_HUGEPAGE": "0", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc
@counted
def test_the_first_optimizer_keeps_freed_arrays_for_the_next_ones():
    r = run_loop()
    assert not r["kept_before"] and r["kept_after"]
    assert r["before"] > 0.5  # glibc's own thresholds: the pages go back and fault again
    assert r["after"] < 0.05  # kept: the same pages serve the next arrays


@glibc
@counted
def test_set_keep_memory_false_restores_glibcs_thresholds():
    r = run_loop(TURN_OFF="1")
    assert r["after"] < 0.05
    assert r["off_returned"] and not r["kept_off"]
    assert r["off"] > 0.5


@glibc
@counted
@pytest.mark.parametrize(
    "env",
    [
        {_memory.ENV: "0"},
        {_memory.ENV: "off"},
        {"MALLOC_TRIM_THRESHOLD_": str(128 << 10)},  # the user's own tuning stands
        {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"},
    ],
    ids=["env-0", "env-off", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"],
)
def test_the_default_is_left_off_by_the_environment(env):
    r = run_loop(**env)
    assert not r["kept_after"]
    assert r["after"] > 0.5


@pytest.fixture
def restore_setting():
    kept, decided = _memory._kept, _memory._decided
    yield
    if _memory._kept != kept:
        cr.set_keep_memory(kept)
    _memory._decided = decided


def test_off_glibc_nothing_is_done(monkeypatch, restore_setting):
    def not_glibc(name: str) -> str:
        raise ValueError("unrecognized configuration name")

    monkeypatch.setattr(_memory.os, "confstr", not_glibc)
    before = cr.get_keep_memory()
    assert cr.set_keep_memory(not before) is False
    assert cr.get_keep_memory() == before


def test_set_keep_memory_takes_a_bool(restore_setting):
    with pytest.raises(TypeError, match="True or False"):
        cr.set_keep_memory(1)
