"""The supervisor stops every child it started, also when the block fails."""

from __future__ import annotations

import sys

import pytest

from devkit.processes import ProcessFailed, Supervisor, free_port


def test_children_are_stopped_on_exit_and_on_error(tmp_path):
    with pytest.raises(RuntimeError), Supervisor(tmp_path) as supervisor:
        sleeper = supervisor.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
        assert sleeper.alive
        raise RuntimeError("boom")
    assert not sleeper.alive


def test_ready_url_waits_for_a_server_and_reports_a_dead_one(tmp_path):
    port = free_port()
    server = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with Supervisor(tmp_path) as supervisor:
        child = supervisor.start("http", server, ready_url=f"http://127.0.0.1:{port}/", ready_timeout_s=20)
        assert child.alive
        with pytest.raises(ProcessFailed, match="exited with 3"):
            supervisor.start("dies", [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"],
                             ready_url=f"http://127.0.0.1:{free_port()}/", ready_timeout_s=20)
    assert not child.alive
