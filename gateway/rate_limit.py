"""Per-key rate limits: a token bucket per API key, ``per_minute`` requests a minute with bursts up to as many.

One gateway process keeps its buckets in a dict. The workers of ``hibachi gateway serve --workers N`` keep them in
one file they all map (``gateway.worker_shared_dir``), so the configured limit holds for the gateway as a whole,
not once per worker: a client's requests land on whichever worker accepted its connection. The file is a fixed
table of (key hash, tokens, last refill) slots under an exclusive ``flock``; ``time.monotonic`` is one clock for
every process on the host.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hibachi.errors import UserError

_SLOT = struct.Struct("<Qdd")  # key hash (0: free), tokens, last refill (monotonic seconds)
SLOTS = 4096
PROBES = 16  # slots a key may occupy past its home slot; beyond that the longest-idle bucket is reused


class RateLimiter:
    """``acquire(key_id)``: 0 when the request may go ahead, otherwise the seconds until one would."""

    def __init__(self, per_minute: int, shared_file: Path | None = None, *, slots: int = SLOTS) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._table = _SharedTable(shared_file, slots) if shared_file is not None else None

    def acquire(self, key_id: str) -> float:
        now = time.monotonic()
        with self._lock:
            if self._table is None:
                tokens, last = self._buckets.get(key_id, (float(self.per_minute), now))
                tokens, wait = self._take(tokens, last, now)
                self._buckets[key_id] = (tokens, now)
                return wait
            with self._table.locked():
                slot, digest, tokens, last = self._table.find(key_id, float(self.per_minute), now)
                tokens, wait = self._take(tokens, last, now)
                self._table.store(slot, digest, tokens, now)
                return wait

    def _take(self, tokens: float, last: float, now: float) -> tuple[float, float]:
        """The bucket refilled to ``now`` with one token taken if there is one; and the wait (0: taken)."""
        tokens = min(float(self.per_minute), tokens + max(0.0, now - last) * self._rate)
        if tokens >= 1.0:
            return tokens - 1.0, 0.0
        return tokens, max((1.0 - tokens) / self._rate, 0.001)

    def close(self) -> None:
        if self._table is not None:
            self._table.close()


class _SharedTable:
    """The buckets' slots in a file every worker maps; callers hold ``locked()`` around find and store."""

    def __init__(self, path: Path, slots: int) -> None:
        self.slots = slots
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise UserError(f"gateway.worker_shared_dir: cannot open the rate-limit buckets {path}: "
                            f"{exc.strerror}") from None
        size = slots * _SLOT.size
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if os.fstat(self._fd).st_size < size:  # the first worker sizes it; zeros are free slots
                os.ftruncate(self._fd, size)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._map = mmap.mmap(self._fd, size)

    @contextmanager
    def locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def find(self, key_id: str, full: float, now: float) -> tuple[int, int, float, float]:
        """(slot, key hash, tokens, last refill) of the key's bucket: its own, else a free slot or the longest idle
        one among its probes, as a full bucket (one idle that long has mostly refilled anyway)."""
        digest = int.from_bytes(hashlib.blake2b(key_id.encode(), digest_size=8).digest(), "little") or 1
        home = digest % self.slots
        oldest, oldest_at = home, float("inf")
        for probe in range(PROBES):
            slot = (home + probe) % self.slots
            key, tokens, last = _SLOT.unpack_from(self._map, slot * _SLOT.size)
            if key == digest:
                return slot, digest, tokens, last
            if key == 0:
                return slot, digest, full, now
            if last < oldest_at:
                oldest, oldest_at = slot, last
        return oldest, digest, full, now

    def store(self, slot: int, digest: int, tokens: float, now: float) -> None:
        _SLOT.pack_into(self._map, slot * _SLOT.size, digest, tokens, now)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

