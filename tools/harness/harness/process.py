"""A child process with its own log file, a readiness wait and a clean, bounded stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Self

from harness.lifecycle import Started

_KILL_REAP_SECONDS = 60


class ProcessError(RuntimeError):
    """A component did not start; the message carries the tail of its log."""


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Process(Started):
    """One started program. Output goes to ``log_path``; stop() never leaves it behind."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"$ {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self._proc = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,  # its own process group: stop() reaches its children too
        )
        return self

    @property
    def pid(self) -> int:
        assert self._proc is not None, f"{self.name} was not started"
        return self._proc.pid

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str = "ready") -> None:
        """Poll ``ready`` until it is true; fail fast, with the log, if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise ProcessError(
                    f"{self.name} exited before it was {what}; log {self.log_path}:\n"
                    + log_tail(self.log_path)
                )
            try:
                if ready():
                    return
            except Exception:  # noqa: S110 - not ready yet, whatever the reason
                pass
            time.sleep(0.1)
        raise ProcessError(
            f"{self.name} was not {what} within {timeout:.0f}s; log {self.log_path}:\n"
            + log_tail(self.log_path)
        )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after ``timeout`` seconds."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                # SIGKILL cannot be ignored, but reaping can lag on a loaded 2-core machine
                proc.wait(timeout=_KILL_REAP_SECONDS)
        if proc is not None:
            _signal_group(proc.pid, signal.SIGKILL)  # stray grandchildren of the group
        if self._log is not None:
            self._log.close()
            self._log = None


def terminate(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Stop a child started with plain Popen (not a process group): SIGTERM, then SIGKILL."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(_KILL_REAP_SECONDS)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
