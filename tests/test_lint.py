"""The code base stays ruff-clean (the configuration is in pyproject.toml)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_ruff_clean():
    folders = [
        d for d in ("chainrule", "tests", "examples", "benchmarks", "tools") if (ROOT / d).is_dir()
    ]
    result = subprocess.run(
        ["ruff", "check", *folders],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
