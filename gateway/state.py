"""Everything one gateway app holds at run time, built from settings (and swappable parts for tests)."""

from __future__ import annotations

import math
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
from gateway.rate_limit import RateLimiter
from gateway.service import ChatService
from hibachi.settings import Settings


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
