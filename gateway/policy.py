"""Traffic policy: who answers a session (teacher only, teacher with a shadow, or a sticky local split)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas import ActorLabel, StoredText

Route = Literal["teacher", "shadow", "local"]
PolicyName = Literal["teacher", "shadow", "split"]


class TrafficPolicy(BaseModel):
    """The policy in force: the newest stored change (``traffic_policy_changes``), else ``settings.traffic``."""

    model_config = ConfigDict(frozen=True)  # replaced whole on a change, never mutated under a request

    policy: PolicyName = "teacher"
    split_percent: float = Field(default=0.0, ge=0, le=100)
    updated_by: str | None = None
    reason: str | None = None
    updated_at: datetime | None = None


class TrafficPolicyUpdate(BaseModel):
    """The body of ``PUT /admin/api/traffic``: the new policy and why; who is taken from the admin credential."""

    model_config = ConfigDict(extra="forbid")

    policy: PolicyName
    split_percent: float = Field(default=0.0, ge=0, le=100)
    reason: StoredText | None = Field(default=None, max_length=2_000, description="Why (stored with the change).")
    updated_by: ActorLabel | None = Field(default=None, description=(
        "A label for the actor, stored next to the admin credential's fingerprint: 'label (admin:<key id>)'."))


def session_bucket(session_id: str) -> float:
    """A stable number in [0, 100) for a session, so a split keeps a customer on one side."""
    digest = hashlib.sha256(session_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def route_for(policy: TrafficPolicy, session_id: str, *, has_student: bool) -> Route:
    if not has_student or policy.policy == "teacher":
        return "teacher"
    if policy.policy == "shadow":
        return "shadow"
    return "local" if session_bucket(session_id) < policy.split_percent else "teacher"
