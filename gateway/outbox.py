"""Which journal directory a gateway process owns, so several workers can share one ``gateway.outbox_dir``.

A journal's segments belong to the one live process that writes them: a second writer in the same directory
would read the first one's active segment to its end and delete it while it is still being written. Each
process therefore takes an exclusive ``flock`` on a directory before it writes there: ``outbox_dir`` itself
for the first process, ``outbox_dir/worker-1``, ``worker-2``, ... for the next ones. The kernel drops a lock
when its process dies, however it dies, so the worker that replaces it takes the same free directory, and what
its predecessor left is stored (by the new worker, or by the supervisor's relay: ``gateway.cli.capture_relay``).
Journals in directories no worker claims any more (the worker count went down) are adopted by the owner of
``outbox_dir``.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger("gateway.outbox")

LOCK_FILE = ".owner.lock"
MAX_SLOTS = 256


class OutboxLock:
    """An exclusive claim on one journal directory, held until ``release`` or the end of the process."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory = directory
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def try_lock(directory: Path) -> OutboxLock | None:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return OutboxLock(directory, fd)


def slot_directory(outbox: Path, slot: int) -> Path:
    return outbox if slot == 0 else outbox / f"worker-{slot}"


def journal_directories(outbox: Path) -> list[Path]:
    """Every journal directory under ``outbox``: its own and its workers'."""
    return [outbox, *sorted(d for d in outbox.glob("worker-*") if d.is_dir())]


def claim(outbox: Path) -> OutboxLock:
    """The first journal directory under ``outbox`` that no live process owns, locked for this process."""
    for slot in range(MAX_SLOTS):
        lock = try_lock(slot_directory(outbox, slot))
        if lock is not None:
            if slot == 0:
                adopt_orphans(outbox)
            return lock
    raise RuntimeError(f"{MAX_SLOTS} gateway processes already own journals under {outbox}")


def segments(directory: Path) -> list[Path]:
    """The journal segments in ``directory``, oldest first (their names start with the creation time)."""
    return sorted(directory.glob("seg-*.jsonl"))


def checkpoint_of(segment: Path) -> Path:
    """Where the offset up to which a segment is stored is kept, beside it."""
    return segment.with_suffix(".offset")


def adopt_orphans(outbox: Path) -> int:
    """Move the segments of worker directories nobody owns into ``outbox``; returns how many moved.

    Segment names carry their creation time and writer's pid, so they never collide. The segment moves before
    its checkpoint: a crash in between replays it from the start, and the database skips what it has stored."""
    moved = 0
    for directory in sorted(outbox.glob("worker-*")):
        lock = try_lock(directory) if directory.is_dir() else None
        if lock is None:
            continue  # a live worker owns it
        try:
            for segment in segments(directory):
                checkpoint = checkpoint_of(segment)
                os.replace(segment, outbox / segment.name)
                if checkpoint.exists():
                    os.replace(checkpoint, outbox / checkpoint.name)
                moved += 1
        finally:
            lock.release()
    if moved:
        log.info("adopted journal segments of workers that no longer run", extra={"segments": moved})
    return moved
