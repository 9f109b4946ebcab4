"""Start ``chainrule playground`` in a subprocess, as a person would, and stop it with Ctrl-C."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"serving on (http://\S+)")
START_TIMEOUT = 60  # seconds: generous, for a busy 2-core machine; nothing is timed


class Playground:
    """``python -m chainrule playground --no-browser ARGS`` until ``stop()``.

    Attributes:
        url: the address the command printed.
        proc: the process.
    """

    def __init__(self, *args: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chainrule", "playground", "--no-browser", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.first_lines: list[str] = []
        self.url = self._wait_for_address()

    def _wait_for_address(self) -> str | None:
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while time.monotonic() < deadline:
                if not sel.select(timeout=1.0):
                    if self.proc.poll() is not None:
                        return None
                    continue
                line = self.proc.stdout.readline()
                if not line:
                    return None
                self.first_lines.append(line)
                match = READY.search(line)
                if match:
                    return match.group(1)
            return None
        finally:
            sel.close()

    def stop(self, timeout: float = 30) -> tuple[int, str, str]:
        """Ctrl-C (SIGINT), then the exit status and the rest of stdout and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(
                f"the playground did not stop within {timeout} s of Ctrl-C"
            ) from None
        return self.proc.returncode, "".join(self.first_lines) + out, err

    def __enter__(self) -> Playground:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
