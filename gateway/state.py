"""Everything one gateway app holds at run time, built from settings (and swappable parts for tests)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gateway.auth import AdminSessions, LoginThrottle
from gateway.capture import Capture
from gateway.metrics import GatewayMetrics
from gateway.policy import TrafficPolicy
from gateway.policy_store import PolicyFollower
from gateway.providers import Provider
from gateway.service import ChatService
from hibachi.settings import Settings


@dataclass
class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, bursts up to the same number."""

    per_minute: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, key_id: str) -> float:
        """0 when allowed, otherwise the seconds until the next request would be."""
        rate = self.per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return max((1.0 - tokens) / rate, 0.001)


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


@dataclass
class GatewayState:
    settings: Settings
    metrics: GatewayMetrics
    capture: Capture
    service: ChatService
    providers: list[Provider]
    sessions: sessionmaker[Session]
    limiter: RateLimiter
    kb: Any
    admin_sessions: AdminSessions
    throttle: LoginThrottle
    admin_key_ids: frozenset[str]
    policy_follower: PolicyFollower
    started_at: float = field(default_factory=time.time)

    @property
    def policy(self) -> TrafficPolicy:
        """The policy this replica follows (kept current by ``policy_follower``; never read from the database here)."""
        return self.service.policy
