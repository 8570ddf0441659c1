"""The admin dashboard at ``/admin``: server-rendered HTML with inline SVG charts (admin key required).

A browser logs in at ``/admin/login`` with the admin key and gets a session cookie (``gateway.auth``);
``/admin/logout`` ends it on every replica. Scripts may still send the key as a bearer token. Data comes from
``hibachi.monitoring.dashboard_data``; this module only renders it and serves saved reports.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from gateway.auth import CSRF_FIELD, csrf_ok, revoke, same_site_request
from gateway.deps import (
    Caller,
    DbSession,
    State,
    client_address,
    identify,
    key_digest,
    key_id,
    require_admin_page,
)
from gateway.state import retry_after_header
from hibachi.monitoring import charts
from hibachi.monitoring.dashboard_data import gather
from hibachi.monitoring.reports import list_reports, reports_dir

router = APIRouter(prefix="/admin", tags=["dashboard"])
login_router = APIRouter(prefix="/admin", tags=["dashboard"])
AdminPage = Annotated[Caller, Depends(require_admin_page)]
log = logging.getLogger("gateway.dashboard")
NO_STORE = {"Cache-Control": "no-store"}  # pages with a session's CSRF token or a login form are never cached
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


templates.env.filters["pct"] = _pct
templates.env.filters["usd"] = lambda v: f"${v:,.4f}" if abs(v) < 1 else f"${v:,.2f}"


@router.get("", response_class=HTMLResponse, summary="Admin dashboard")
def dashboard(request: Request, caller: AdminPage, state: State, session: DbSession,
              days: Annotated[int, Query(ge=1, le=365, description="Window in days")] = 30) -> HTMLResponse:
    data = gather(session, state.settings, timedelta(days=days))
    svg = {
        "progress": charts.progress_bar(data.progression.quality_examples, data.progression.target,
                                        title="Quality examples collected"),
        "data_quality": charts.bar_chart(data.data_quality, title="Data quality: signals kept out by each rule"),
        "traffic": charts.bar_chart(sorted(data.traffic.items()), title="Who served"),
        "traffic_by_day": charts.stacked_columns(data.traffic_by_day, title="Traffic split per day"),
        "cost": charts.bar_chart([("hosted only", data.cost["monthly_hosted_cost"]),
                                  ("now", data.cost["monthly_cost"])], title="Projected monthly cost (USD)"),
    }
    admin = state.admin_sessions.read(request.cookies.get(state.admin_sessions.cookie_name))
    return templates.TemplateResponse(request, "admin.html",
                                      {"d": data, "svg": svg, "days": days, "policy": state.policy,
                                       "caller": caller, "csrf": admin.csrf if caller.via == "session" else None},
                                      headers=NO_STORE)


@router.get("/reports/{name}", summary="A saved monitoring report (HTML or JSON)")
def report_file(name: Annotated[str, PathParam(max_length=255)], caller: AdminPage, state: State) -> FileResponse:
    known = {Path(p).name: Path(p) for r in list_reports(state.settings) for p in (r.html_path, r.json_path)}
    path = known.get(name)
    if path is None or not path.is_file() or path.parent.resolve() != reports_dir(state.settings).resolve():
        raise HTTPException(404, f"no saved report named {name!r}")
    return FileResponse(path, media_type="text/html" if name.endswith(".html") else "application/json")


# --- Login and logout (the browser's way in; the API keeps bearer keys) ---


def _safe_next(next_path: str | None) -> str:
    """Only back into the dashboard, never to another site (``//evil.example`` or ``/\\evil`` included)."""
    if next_path and next_path.startswith("/admin") and not next_path.startswith("/admin/login") \
            and "\\" not in next_path and "//" not in next_path:
        return next_path
    return "/admin"


def _login_page(request: Request, *, next_path: str, error: str | None = None, status: int = 200,
                headers: dict | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next_path), "error": error},
                                      status_code=status, headers={**NO_STORE, **(headers or {})})


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


@login_router.get("/login", response_class=HTMLResponse, summary="The admin login form")
def login_form(request: Request, next: Annotated[str, Query(max_length=512)] = "/admin") -> HTMLResponse:  # noqa: A002
    return _login_page(request, next_path=next)


@login_router.post("/login", response_class=HTMLResponse, summary="Log in with the admin key (sets the session cookie)")
def login(request: Request, state: State, key: Annotated[str, Form(max_length=512)],
          next: Annotated[str, Form(max_length=512)] = "/admin") -> Response:  # noqa: A002
    if not same_site_request(request.headers, _own_origin(request)):
        raise HTTPException(403, "cross-site login refused")
    client = client_address(request)
    wait = state.throttle.wait(client)
    if wait and not state.throttle.proven(client, key_id(key_digest(key))):
        return _login_page(request, next_path=next, status=429, headers=retry_after_header(wait),
                           error=f"Too many wrong keys from this address. Try again in {max(1, round(wait))} s.")
    caller = identify(state.settings, key)
    if caller is None or not caller.is_admin:
        delay = state.throttle.failed(client)
        log.warning("admin login refused", extra={"client": client, "backoff_s": delay})
        return _login_page(request, next_path=next, status=401, error="That is not an admin key.")
    state.throttle.succeeded(client)
    state.throttle.worked(client, caller.key_id)
    value, _ = state.admin_sessions.issue(caller.key_id)
    response = RedirectResponse(_safe_next(next), status_code=303, headers=NO_STORE)
    response.set_cookie(**state.admin_sessions.cookie_args(value))
    log.info("admin logged in", extra={"actor": f"admin-session:{caller.key_id}", "client": client})
    return response


@login_router.post("/logout", summary="End the admin session on every replica (needs the session's CSRF token)")
def logout(request: Request, state: State, db: DbSession,
           csrf_token: Annotated[str | None, Form(max_length=128)] = None) -> RedirectResponse:
    sessions = state.admin_sessions
    admin = sessions.read(request.cookies.get(sessions.cookie_name))
    if admin is not None:
        if not same_site_request(request.headers, _own_origin(request)) or not csrf_ok(admin, csrf_token):
            raise HTTPException(403, f"logout needs the session's {CSRF_FIELD} from a same-site form")
        # Revoked before the cookie is dropped: deleting it alone would leave any copy valid for session_ttl_s.
        # A revocation that cannot be stored is a 503 and the browser keeps its cookie to log out again.
        revoke(db, admin, sessions.ttl_s)
        db.commit()
        log.info("admin logged out", extra={"actor": f"admin-session:{admin.key_id}"})
    response = RedirectResponse("/admin/login", status_code=303, headers=NO_STORE)
    response.delete_cookie(sessions.cookie_name, path="/", secure=sessions.secure, httponly=True, samesite="strict")
    return response
