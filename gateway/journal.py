"""The local journal that makes capture loss-free: append-only JSONL segments, fsynced before a reply.

Concurrent appends share one write and one fsync (group commit): a request waits for the flush
that contains its line, never for every request before it one by one. A crash, or a write that
fails part way (a full disk), can only leave a torn last line, which was never acknowledged: each
process start and each failed flush opens a new segment, so nothing is ever appended after a torn
line; one live process per journal directory (gateway.outbox). The
writer (gateway.signal_writer) reads segments from a checkpoint offset kept beside each one and deletes a
segment once it is fully stored.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path

from gateway.outbox import checkpoint_of, claim, journal_directories, segments
from hibachi import fastjson

SEGMENT_BYTES = 16 * 2**20
_CLOSE = object()  # the last item the flusher takes from its queue


@dataclass
class Batch:
    """Complete records read from one segment, and where to move its checkpoint once they are stored."""

    segment: Path
    records: list[dict]
    end_offset: int


class Journal:
    """The journal of this process under ``outbox``: ``outbox`` itself, or a free ``worker-N`` directory below it
    when another live process already writes there (see gateway.outbox)."""

    def __init__(self, outbox: Path) -> None:
        self._lock = claim(Path(outbox))
        self.directory = self._lock.directory
        # (line, waiter) pairs for the flusher. A SimpleQueue (C, no Python-level condition variable): appending is one
        # call, and the flusher sleeps in C without the GIL; every request pays this hand-off.
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._queue_lock = threading.Lock()  # nothing is queued after _CLOSE
        self._closed = False
        self.appended = threading.Event()  # set after each flush; the drainer waits on it
        self.failure: OSError | None = None  # why the latest flush failed; None once one succeeds
        self._file = None
        self._open_segment()
        self._thread = threading.Thread(target=self._flush_loop, name="journal-flush", daemon=True)
        self._thread.start()

    def _open_segment(self) -> None:
        self.active = self.directory / f"seg-{time.time_ns():020d}-{os.getpid()}.jsonl"
        # Unbuffered: after a failed write no bytes of it linger in a buffer to be written behind a later line.
        self._file = self.active.open("ab", buffering=0)
        self._size = 0

    async def append(self, record: dict) -> None:
        """Returns once the record is on disk (written and fsynced)."""
        loop = asyncio.get_running_loop()
        flushed = loop.create_future()
        self._enqueue(record, (loop, flushed))
        await flushed

    def append_sync(self, record: dict) -> None:
        self.submit(record).result()

    def submit(self, record: dict) -> Future:
        future: Future = Future()
        self._enqueue(record, future)
        return future

    def _enqueue(self, record: dict, waiter: Future | tuple[asyncio.AbstractEventLoop, asyncio.Future]) -> None:
        line = fastjson.dumps(record) + b"\n"
        with self._queue_lock:
            if self._closed:
                raise RuntimeError("journal is closed")
            self._queue.put((line, waiter))

    def _take(self) -> tuple[list, bool]:
        """Everything queued now (waiting for the first item): the batch of one write and fsync, and whether the
        journal was closed after it."""
        items = [self._queue.get()]
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        closing = items[-1] is _CLOSE
        return (items[:-1] if closing else items), closing

    def _flush_loop(self) -> None:
        while True:
            batch, closing = self._take()
            if batch:
                self._flush(batch)
            if closing:
                return

    def _flush(self, batch: list) -> None:
        error: OSError | None = None
        try:
            if self._file is None:  # the previous flush failed and left its segment behind
                self._open_segment()
            data = b"".join(line for line, _ in batch)
            self._write(data)
            os.fsync(self._file.fileno())
            self._size += len(data)
        except OSError as exc:  # a full or broken disk: every waiting request learns it was not captured
            error = exc
            self._close_segment()
        self.failure = error
        _wake([waiter for _, waiter in batch], error)
        self.appended.set()
        if self._file is not None and self._size >= SEGMENT_BYTES:
            self._file.close()
            self._open_segment()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # an unbuffered file may take less than all of it
            view = view[self._file.write(view):]

    def _close_segment(self) -> None:
        """Close the active segment (at close, or after a failed write, which may have left part of a line: the
        next flush then starts a new segment; readers stop at a torn last line and remove the segment once its
        writer has moved on)."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def writable(self) -> bool:
        """Whether records can be journaled now: the directory is writable and, when the latest flush failed,
        a small file can be written and synced there again (how readiness notices that a full disk has room)."""
        if not (self.directory.is_dir() and os.access(self.directory, os.W_OK)):
            return False
        if self.failure is None:
            return True
        probe = self.directory / ".write-probe"
        try:
            with probe.open("wb", buffering=0) as handle:
                handle.write(b"\0" * 4096)
                os.fsync(handle.fileno())
            probe.unlink()
        except OSError:
            return False
        return True

    def close(self, *, keep_ownership: bool = False) -> None:
        """Stop appending (everything acknowledged is on disk). ``keep_ownership``: the caller still drains the
        directory and calls ``release`` once done, so no other process takes it over meanwhile."""
        with self._queue_lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_CLOSE)
        self._thread.join(timeout=10)
        self._close_segment()
        if not keep_ownership:
            self.release()

    def release(self) -> None:
        self._lock.release()

    # --- reading side (used by the drainer thread only) ---

    def segments(self) -> list[Path]:
        return segments(self.directory)

    def read(self, limit: int) -> Batch | None:
        """The next unstored complete records of the oldest segment that has any; finished segments are removed."""
        for segment in self.segments():
            batch = read_segment(segment, limit, active=segment == self.active)
            if batch is not None:
                return batch
        return None

    def commit(self, batch: Batch) -> None:
        commit(batch)

    def backlog_bytes(self) -> int:
        return backlog_bytes(self.directory)


class OutboxReader:
    """The reading side of every journal under an outbox, for a drainer outside the processes that write them (the
    supervisor of ``gateway serve --workers N``). A segment may still be appended to while its writer (the pid in its
    name) is alive and has no newer segment: such a one is read up to its last complete line but never removed,
    until ``writers_stopped`` is set."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = Path(outbox)
        self.writers_stopped = False

    def read(self, limit: int) -> Batch | None:
        for directory in journal_directories(self.outbox):
            listed = segments(directory)
            for segment in listed:
                batch = read_segment(segment, limit, active=self._maybe_written(segment, listed))
                if batch is not None:
                    return batch
        return None

    def _maybe_written(self, segment: Path, segments: list[Path]) -> bool:
        if self.writers_stopped:
            return False
        writer = segment.stem.rpartition("-")[2]
        if not writer.isdigit():
            return True  # not a name this module gives: never removed while writers run
        if any(other > segment and other.stem.endswith(f"-{writer}") for other in segments):
            return False  # its writer has moved on to a newer segment
        return _alive(int(writer))

    def commit(self, batch: Batch) -> None:
        commit(batch)

    def backlog_bytes(self) -> int:
        return outbox_backlog_bytes(self.outbox)


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (a reused id counts as alive: the segment is just kept a while)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_segment(segment: Path, limit: int, *, active: bool) -> Batch | None:
    """The next unstored complete records of one segment, or None. A segment that is not being written (``active``)
    and has nothing left to store is removed with its checkpoint."""
    offset = read_offset(segment)
    try:
        size = segment.stat().st_size
        if offset >= size or not active and not _has_complete_line(segment, offset):
            if not active:
                segment.unlink(missing_ok=True)  # fully stored (or only a torn, unacknowledged tail left)
                checkpoint_of(segment).unlink(missing_ok=True)
            return None
        records, end = _read_lines(segment, offset, limit)
    except FileNotFoundError:
        return None  # removed, or adopted into outbox_dir (gateway.outbox), since it was listed
    return Batch(segment, records, end) if records or end > offset else None


def _has_complete_line(segment: Path, offset: int) -> bool:
    with segment.open("rb") as handle:
        handle.seek(offset)
        return b"\n" in handle.read()


def commit(batch: Batch) -> None:
    """Move the segment's checkpoint past the batch (after the batch is stored)."""
    path = checkpoint_of(batch.segment)
    tmp = path.with_suffix(".offset.tmp")
    tmp.write_text(str(batch.end_offset))
    os.replace(tmp, path)


def outbox_backlog_bytes(outbox: Path) -> int:
    """Bytes of every journal under ``outbox`` (its own and its workers') not yet stored in the database."""
    return sum(backlog_bytes(directory) for directory in journal_directories(outbox))


def backlog_bytes(directory: Path) -> int:
    """Bytes of the journal in ``directory`` not yet stored in the database."""
    total = 0
    for segment in segments(directory):
        try:
            total += max(segment.stat().st_size - read_offset(segment), 0)
        except FileNotFoundError:
            continue
    return total


def _wake(waiters: list, error: OSError | None) -> None:
    """Tell every request in a flush how it went: one hand-off per event loop, not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future]] = {}
    for waiter in waiters:
        if isinstance(waiter, Future):
            _settle([waiter], error)
        else:
            by_loop.setdefault(waiter[0], []).append(waiter[1])
    for loop, futures in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, futures, error)
        except RuntimeError:
            pass  # that loop has closed: nobody is waiting any more


def _settle(futures: list, error: OSError | None) -> None:
    for future in futures:
        if future.done():
            continue  # a client that left: its record is written all the same
        try:
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
        except InvalidStateError:
            continue  # cancelled by its (synchronous) caller's thread just now


def read_offset(segment: Path) -> int:
    try:
        return int(checkpoint_of(segment).read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _read_lines(segment: Path, offset: int, limit: int) -> tuple[list[dict], int]:
    records: list[dict] = []
    end = offset
    with segment.open("rb") as handle:
        handle.seek(offset)
        for line in handle:
            if not line.endswith(b"\n"):
                break  # being written, or torn by a crash: never acknowledged
            end += len(line)
            try:
                records.append(fastjson.loads(line))
            except ValueError:
                continue  # cannot happen for a complete line we wrote; skip rather than block the journal
            if len(records) >= limit:
                break
    return records, end
