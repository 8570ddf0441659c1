"""Admin API for lineage and erasure: where a version came from, where a signal went, erase a customer.

Every call needs an admin key; every erasure is logged with who and how many rows (never what) and
recorded in the ``erasures`` table with the admin key's fingerprint as the actor.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from gateway.deps import AdminCaller, DbSession, State
from hibachi.erasure import Selector, erase, erasures
from hibachi.errors import UserError
from hibachi.lineage import model_lineage, signal_lineage

router = APIRouter(prefix="/admin/api", tags=["lineage"])
log = logging.getLogger("gateway.lineage")


class ErasureIn(BaseModel):
    """Exactly one way to find the customer."""

    model_config = ConfigDict(extra="forbid")

    session_id: str | None = Field(default=None, max_length=64)
    user: str | None = Field(default=None, max_length=64, description="The chat API's `user` field.")
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    dry_run: bool = False
    reason: str | None = Field(default=None, max_length=500, description="Logged with the erasure (not stored).")


@router.get("/lineage/models/{version_id}", summary="A model version's export, pipeline run, settings, code and "
            "evaluation")
def get_model_lineage(version_id: str, caller: AdminCaller, db: DbSession) -> dict[str, Any]:
    info = model_lineage(db, version_id)
    if info is None:
        raise HTTPException(404, f"no model version {version_id!r}")
    log.info("lineage read", extra={"actor": f"admin:{caller.key_id}", "version": version_id})
    return info


@router.get("/lineage/signals/{signal_id}", summary="Every dataset and model version that used a signal")
def get_signal_lineage(signal_id: str, caller: AdminCaller, db: DbSession) -> dict[str, Any]:
    log.info("lineage read", extra={"actor": f"admin:{caller.key_id}", "signal_id": signal_id})
    return signal_lineage(db, signal_id)


@router.post("/erasures", summary="Erase a customer from every table and data file; marks the versions trained "
             "on their data")
def post_erasure(body: ErasureIn, caller: AdminCaller, db: DbSession, state: State) -> dict[str, Any]:
    actor = f"admin:{caller.key_id}"
    settings = state.settings
    try:
        selector = Selector.one_of(session=body.session_id, user=body.user, email=body.email, phone=body.phone)
        result = erase(db, selector, actor=actor, data_dirs=[settings.data_dir],
                       outbox_dir=settings.gateway.outbox_dir, dry_run=body.dry_run)
    except UserError as exc:
        status = 404 if "no conversation matches" in str(exc) else 422
        raise HTTPException(status, str(exc)) from None
    log.warning("customer erased" if not body.dry_run else "erasure previewed",
                extra={"actor": actor, "erasure_id": result.erasure_id, "selector": selector.kind,
                       "rows": result.rows, "model_versions": result.model_versions, "reason": body.reason})
    return result.as_dict()


@router.get("/erasures", summary="The erasure log: who, when, how many rows (never what)")
def list_erasures(caller: AdminCaller, db: DbSession) -> list[dict[str, Any]]:
    return erasures(db)
