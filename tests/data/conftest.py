"""Fixtures for the data tests: a local HTTP server and an isolated data folder."""

from __future__ import annotations

import pytest
from _data_files import Server


@pytest.fixture
def server():
    with Server() as s:
        yield s


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """Never touch the real cache: CHAINRULE_DATA points into the test's folder."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("CHAINRULE_DATA", str(folder))
    return folder
