"""What the reliability tests tried, for docs/reliability.md (see tools/reliability_report.py).

With CHAINRULE_RELIABILITY_REPORT set to a file, each test module appends one JSON line per fact
(kills survived, fuzz inputs per reader, wrong calls tried); without it, nothing is written.
"""

import json
import os
from collections import Counter

import pytest

COUNTS: Counter = Counter()


@pytest.fixture
def counts() -> Counter:
    """The shared tally a test adds its facts to."""
    return COUNTS


@pytest.fixture(scope="session", autouse=True)
def _write_report():
    yield
    path = os.environ.get("CHAINRULE_RELIABILITY_REPORT")
    if path and COUNTS:
        with open(path, "a", encoding="utf-8") as f:
            for key, value in sorted(COUNTS.items()):
                f.write(json.dumps({"key": key, "value": value}) + "\n")
