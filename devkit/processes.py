"""Start the platform's servers as child processes, wait until they are ready, and always stop them.

``Supervisor`` is a context manager: every process it started is stopped on exit, on an exception
and on Ctrl-C / SIGTERM (SIGTERM first so servers shut down cleanly, SIGKILL after a grace period).
Each child runs in its own process group, so a server's own children go with it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx


class ProcessFailed(RuntimeError):
    """A child exited or never became ready; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hibachi_command(*args: str) -> list[str]:
    """The CLI in this interpreter, so children use the same environment as the parent."""
    return [sys.executable, "-m", "hibachi_cli", *args]


@dataclass
class Child:
    name: str
    popen: subprocess.Popen
    log_path: Path
    ready_url: str | None = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Supervisor:
    log_dir: Path
    grace_s: float = 10.0
    children: list[Child] = field(default_factory=list)
    _previous_handlers: dict[int, object] = field(default_factory=dict)

    def __enter__(self) -> Supervisor:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop_all()
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stop_all()
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    def start(self, name: str, command: list[str], *, env: dict[str, str] | None = None,
              ready_url: str | None = None, ready_timeout_s: float = 120.0) -> Child:
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("ab")
        popen = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )
        log.close()  # the child holds its own descriptor
        child = Child(name, popen, log_path, ready_url)
        self.children.append(child)
        if ready_url:
            self.wait_ready(child, ready_timeout_s)
        return child

    def wait_ready(self, child: Child, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not child.alive:
                raise ProcessFailed(f"{child.name} exited with {child.popen.returncode}:\n{child.log_tail()}")
            try:
                if httpx.get(child.ready_url, timeout=2.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ProcessFailed(f"{child.name} not ready at {child.ready_url} after {timeout_s:.0f}s:\n{child.log_tail()}")

    def stop(self, child: Child, *, kill: bool = False) -> None:
        if not child.alive:
            return
        try:
            os.killpg(child.popen.pid, signal.SIGKILL if kill else signal.SIGTERM)
            child.popen.wait(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(child.popen.pid, signal.SIGKILL)
            child.popen.wait(timeout=self.grace_s)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for child in reversed(self.children):
            self.stop(child)
