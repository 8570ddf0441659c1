"""The stored traffic policy: append-only changes with who/when/why, and the per-replica follower's cache."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from gateway.deps import Caller
from gateway.policy import TrafficPolicy, TrafficPolicyUpdate
from gateway.policy_store import PolicyFollower, default_policy, policy_history, record_change, stored_policy
from hibachi.records import TrafficPolicyChange
from hibachi.settings import Settings

pytestmark = pytest.mark.storage

DEFAULT = TrafficPolicy(policy="shadow", updated_by="settings")


def _change(sessions, policy: str, percent: float = 0.0, reason: str = "why", actor: str = "admin:abc"):
    with sessions() as session:
        version, stored = record_change(session, TrafficPolicyUpdate(policy=policy, split_percent=percent,
                                                                      reason=reason), actor)
        session.commit()
    return version, stored


def test_changes_are_appended_and_the_newest_is_the_policy(db):
    _, sessions = db
    with sessions() as session:
        assert stored_policy(session) is None and policy_history(session, 10) == []
    first, _ = _change(sessions, "shadow", reason="first look")
    second, stored = _change(sessions, "split", 10, reason="canary step 1", actor="ops (admin:abc)")
    assert second > first
    assert (stored.policy, stored.split_percent, stored.updated_by, stored.reason) == (
        "split", 10, "ops (admin:abc)", "canary step 1")
    with sessions() as session:
        version, newest = stored_policy(session)
        history = policy_history(session, 10)
        rows = session.scalars(select(TrafficPolicyChange)).all()
    assert version == second and newest == stored and newest.updated_at is not None
    assert [p.policy for p in history] == ["split", "shadow"] and len(rows) == 2
    assert [p.reason for p in history] == ["canary step 1", "first look"]


def test_actor_names_the_credential_and_the_callers_label():
    key, session = Caller("abc", is_admin=True), Caller("abc", is_admin=True, via="session")
    assert key.labelled(None) == key.labelled("") == "admin:abc"
    assert key.labelled("hibachi demo") == "hibachi demo (admin:abc)"
    assert session.labelled("ops") == "ops (admin-session:abc)"


def test_default_policy_comes_from_settings():
    policy = default_policy(Settings(traffic={"policy": "split", "split_percent": 25}))
    assert (policy.policy, policy.split_percent, policy.updated_by) == ("split", 25, "settings")


def test_follower_uses_the_default_until_a_change_is_stored_then_follows_it(db):
    _, sessions = db
    applied: list[TrafficPolicy] = []
    follower = PolicyFollower(sessions, DEFAULT, applied.append, interval_s=1)
    assert follower.refresh() == DEFAULT and applied == []  # nothing stored: the configured default, unchanged
    _change(sessions, "split", 50)
    assert follower.refresh().split_percent == 50 and [p.policy for p in applied] == ["split"]
    follower.refresh()
    assert len(applied) == 1  # applied only when it changes


def test_follower_ignores_a_read_older_than_what_it_follows(db):
    _, sessions = db
    applied: list[TrafficPolicy] = []
    follower = PolicyFollower(sessions, DEFAULT, applied.append, interval_s=1)
    old_version, old = _change(sessions, "shadow")
    new_version, new = _change(sessions, "split", 90)
    follower.follow(new_version, new)  # the replica that made the change follows it at once
    follower.follow(old_version, old)  # a background read that started before the change
    assert follower.current == new and applied == [new]


def test_follower_keeps_the_last_policy_while_the_database_is_unreadable(tmp_path):
    broken = sessionmaker(create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}"))
    applied: list[TrafficPolicy] = []
    follower = PolicyFollower(broken, DEFAULT, applied.append, interval_s=1)
    current = TrafficPolicy(policy="split", split_percent=10, updated_by="admin:abc")
    follower.follow(3, current)
    assert follower.refresh() == current and follower.last_error and applied == [current]


async def test_follower_loop_refreshes_in_the_background(db):
    import asyncio

    _, sessions = db
    applied: list[TrafficPolicy] = []
    follower = PolicyFollower(sessions, DEFAULT, applied.append, interval_s=0.05)
    task = asyncio.create_task(follower.run())
    try:
        _change(sessions, "split", 30)
        for _ in range(100):
            if applied:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
    assert applied and applied[-1].split_percent == 30


def test_a_stored_row_no_policy_can_be_made_of_keeps_the_current_one(db):
    _, sessions = db
    with sessions() as session:
        session.add(TrafficPolicyChange(policy="everyone", split_percent=500, actor="sql console", reason="typo"))
        session.commit()
    follower = PolicyFollower(sessions, DEFAULT, lambda policy: None, interval_s=1)
    assert follower.refresh() == DEFAULT and "validation error" in follower.last_error
