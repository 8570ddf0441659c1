"""The traffic policy shared by every gateway replica: stored in the database, cached in each process.

A change is one appended row of ``traffic_policy_changes`` (policy, percent, actor, reason, time); the
newest row is the policy. Each replica keeps the policy it follows in memory and re-reads the newest row
every ``gateway.policy_refresh_s`` seconds in the background, so a request never waits on the database
for it and every replica follows a change within that interval (the replica that made it, at once).
With no stored row, or while the database cannot be read at start-up, the configured default
(``settings.traffic``) applies; a replica that loses the database keeps the last policy it read.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import UTC

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.policy import TrafficPolicy, TrafficPolicyUpdate
from hibachi.records import TrafficPolicyChange
from hibachi.settings import Settings

log = logging.getLogger("gateway.policy")


def default_policy(settings: Settings) -> TrafficPolicy:
    return TrafficPolicy(policy=settings.traffic.policy, split_percent=settings.traffic.split_percent,
                         updated_by="settings", reason="configured default (settings.traffic)")


def _from_row(row: TrafficPolicyChange) -> TrafficPolicy:
    at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)  # SQLite drops the zone
    return TrafficPolicy(policy=row.policy, split_percent=row.split_percent, updated_by=row.actor,
                         reason=row.reason, updated_at=at)


def stored_policy(session: Session) -> tuple[int, TrafficPolicy] | None:
    """The newest stored policy with its row id (the version), or None when none was ever stored."""
    row = session.scalars(select(TrafficPolicyChange).order_by(TrafficPolicyChange.id.desc()).limit(1)).first()
    return None if row is None else (row.id, _from_row(row))


def policy_history(session: Session, limit: int) -> list[TrafficPolicy]:
    rows = session.scalars(select(TrafficPolicyChange).order_by(TrafficPolicyChange.id.desc()).limit(limit))
    return [_from_row(r) for r in rows]


def record_change(session: Session, update: TrafficPolicyUpdate, actor: str) -> tuple[int, TrafficPolicy]:
    row = TrafficPolicyChange(policy=update.policy, split_percent=update.split_percent, actor=actor[:128],
                              reason=update.reason or "")
    session.add(row)
    session.flush()
    return row.id, _from_row(row)


class PolicyFollower:
    """Keeps ``apply``'s target on the newest stored policy; ``refresh`` is one read, ``run`` the loop."""

    def __init__(self, sessions: sessionmaker[Session], default: TrafficPolicy,
                 apply: Callable[[TrafficPolicy], None], interval_s: float) -> None:
        self.sessions = sessions
        self.default = default
        self.apply = apply
        self.interval_s = interval_s
        self.current = default
        self.version = 0  # the row id of the policy followed; 0 for the configured default
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def refresh(self) -> TrafficPolicy:
        """Read the newest stored policy and apply it if it differs; on a database error keep the current one."""
        try:
            with self.sessions() as session:
                version, policy = stored_policy(session) or (0, self.default)
        except (SQLAlchemyError, ValueError) as exc:  # unreachable, or a row no policy can be made of
            message = str(exc).splitlines()[0]
            if message != self.last_error:
                log.warning("traffic policy not refreshed; keeping the current one",
                            extra={"error": message, "policy": self.current.policy})
            self.last_error = message
            return self.current
        self.last_error = None
        self.follow(version, policy)
        return self.current

    def follow(self, version: int, policy: TrafficPolicy) -> None:
        """Apply ``policy`` unless a newer one is already followed (a read that raced a change on this replica)."""
        with self._lock:
            if version < self.version or policy == self.current:
                return
            log.info("traffic policy now in force", extra={
                "previous": self.current.policy, "previous_percent": self.current.split_percent,
                "policy": policy.policy, "percent": policy.split_percent, "actor": policy.updated_by,
                "why": policy.reason})
            self.version, self.current = version, policy
            self.apply(policy)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # noqa: BLE001 - the follower must outlive any one bad read
                log.exception("traffic policy refresh failed; keeping the current one")
