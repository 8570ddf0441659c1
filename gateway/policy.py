"""Traffic policy: who answers a session (teacher only, teacher with a shadow, or a sticky local split)."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, Field

Route = Literal["teacher", "shadow", "local"]


class TrafficPolicy(BaseModel):
    """The runtime policy; starts from settings.traffic and changes through PUT /admin/api/traffic."""

    policy: Literal["teacher", "shadow", "split"] = "teacher"
    split_percent: float = Field(default=0.0, ge=0, le=100)
    updated_by: str | None = None
    reason: str | None = None


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
