"""Run ``python -m dashboard ...`` in a subprocess on a prepared database; fail fast with logs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A CLI command running in the background with its output in a log file."""

    def __init__(self, args: list[str], database_url: str, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        env = os.environ | {"ANBU_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard", *args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
        def exited_or_ready() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"process exited ({self.proc.returncode}) before {what}:\n{self.log()}")
            return ready()

        # Any error from ``ready`` means "not up yet"; the log explains a timeout.
        if not wait_until(exited_or_ready, timeout, ignore=(Exception,)):
            pytest.fail(f"timed out waiting for {what}:\n{self.log()}")

    def stop(self, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode
