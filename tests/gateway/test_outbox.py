"""Journal ownership: one live process per journal directory, free directories reused, orphans adopted."""

from __future__ import annotations

import subprocess
import sys
import time

from gateway.journal import Journal
from gateway.outbox import claim, journal_directories


def test_a_second_journal_on_the_same_outbox_takes_its_own_directory(tmp_path):
    first, second = Journal(tmp_path), Journal(tmp_path)
    try:
        assert first.directory == tmp_path and second.directory == tmp_path / "worker-1"
        first.append_sync({"n": 1})
        second.append_sync({"n": 2})
        # Neither reads (or deletes) the other's segments.
        assert [r["n"] for r in first.read(10).records] == [1]
        assert [r["n"] for r in second.read(10).records] == [2]
    finally:
        first.close()
        second.close()
    third = Journal(tmp_path)  # both released: the first free directory again
    assert third.directory == tmp_path
    third.close()


def test_the_owner_of_the_outbox_adopts_journals_nobody_owns(tmp_path):
    kept = Journal(tmp_path)  # slot 0, held while two workers write
    workers = [Journal(tmp_path), Journal(tmp_path)]
    for n, journal in enumerate(workers):
        journal.append_sync({"n": n})
        journal.append_sync({"n": n + 10})
    first = workers[0].read(1)
    workers[0].commit(first)  # worker-1 stored its first record before it went away
    kept.close()
    workers[0].close()
    # worker-1 is free (its process is gone), worker-2 still runs: only worker-1's journal is adopted.
    adopter = Journal(tmp_path)
    try:
        assert adopter.directory == tmp_path
        batch = adopter.read(10)
        assert [r["n"] for r in batch.records] == [10]  # resumed from the moved checkpoint
        assert not list((tmp_path / "worker-1").glob("seg-*"))
        assert len(list((tmp_path / "worker-2").glob("seg-*.jsonl"))) == 1
        assert journal_directories(tmp_path) == [tmp_path, tmp_path / "worker-1", tmp_path / "worker-2"]
    finally:
        adopter.close()
        workers[1].close()


def test_a_killed_process_frees_its_directory(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from gateway.outbox import claim; claim(__import__('pathlib').Path(sys.argv[1])); "
        "print('held', flush=True); time.sleep(60)"), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = claim(tmp_path)
        assert lock.directory == tmp_path / "worker-1"
        lock.release()
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 5
    while (lock := claim(tmp_path)).directory != tmp_path and time.monotonic() < deadline:
        lock.release()  # the kernel drops a dead process's lock at once; allow for the reap
        time.sleep(0.05)
    assert lock.directory == tmp_path
    lock.release()


def test_an_outbox_reader_drains_every_directory_and_keeps_what_writers_still_append_to(tmp_path):
    """The reader of ``gateway serve --workers N``'s supervisor: every worker's journal, oldest segment first; a
    directory's newest segment may still be written, so it is never removed until the writers have stopped."""
    from gateway.journal import OutboxReader

    first, second = Journal(tmp_path), Journal(tmp_path)
    first.append_sync({"n": 1})
    second.append_sync({"n": 2})
    first.close()
    restarted = Journal(tmp_path)  # the replacement of the first worker: a newer segment in the same directory
    restarted.append_sync({"n": 3})
    reader = OutboxReader(tmp_path)
    seen = []
    while (batch := reader.read(10)) is not None:
        seen += [r["n"] for r in batch.records]
        reader.commit(batch)
    assert seen == [1, 3, 2]
    assert len(list(tmp_path.glob("seg-*.jsonl"))) == 1  # the finished older segment went, the active one stays
    assert len(list((tmp_path / "worker-1").glob("seg-*.jsonl"))) == 1
    second.append_sync({"n": 4})  # appended after it was read to its end: read from the checkpoint
    assert [r["n"] for r in reader.read(10).records] == [4]
    reader.commit(reader.read(10))
    assert reader.backlog_bytes() == 0
    restarted.close()
    second.close()
    reader.writers_stopped = True
    assert reader.read(10) is None
    assert not list(tmp_path.rglob("seg-*.jsonl"))


def test_the_reader_never_removes_a_live_writers_segment_whatever_the_names_say(tmp_path):
    """Segment names sort by creation time, but clocks can step back and adoption moves older journals in: a
    segment is left in place while the process named in it is alive and has written nothing newer."""
    from gateway.journal import OutboxReader

    live = Journal(tmp_path)
    live.append_sync({"n": 1})
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a writer that has exited, whose segment sorts after the live one
    later = tmp_path / f"seg-{time.time_ns() + 10**12:020d}-{gone.pid}.jsonl"
    later.write_bytes(b'{"n": 2}\n')
    reader = OutboxReader(tmp_path)
    while (batch := reader.read(10)) is not None:
        reader.commit(batch)
    reader.read(10)
    assert live.active.exists() and not later.exists()
    live.append_sync({"n": 3})
    assert [r["n"] for r in reader.read(10).records] == [3]
    live.close()
