"""The admin dashboard at ``/admin``: server-rendered HTML with inline SVG charts (admin key required).

Data comes from ``hibachi.monitoring.dashboard_data``; this module only renders it and serves saved reports.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from gateway.deps import DbSession, State, require_admin
from hibachi.monitoring import charts
from hibachi.monitoring.dashboard_data import gather
from hibachi.monitoring.reports import list_reports, reports_dir

router = APIRouter(prefix="/admin", tags=["dashboard"], dependencies=[Depends(require_admin)])
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


templates.env.filters["pct"] = _pct
templates.env.filters["usd"] = lambda v: f"${v:,.4f}" if abs(v) < 1 else f"${v:,.2f}"


@router.get("", response_class=HTMLResponse, summary="Admin dashboard")
def dashboard(request: Request, state: State, session: DbSession,
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
    return templates.TemplateResponse(request, "admin.html",
                                      {"d": data, "svg": svg, "days": days, "policy": state.policy})


@router.get("/reports/{name}", summary="A saved monitoring report (HTML or JSON)")
def report_file(name: str, state: State) -> FileResponse:
    known = {Path(p).name: Path(p) for r in list_reports(state.settings) for p in (r.html_path, r.json_path)}
    path = known.get(name)
    if path is None or not path.is_file() or path.parent.resolve() != reports_dir(state.settings).resolve():
        raise HTTPException(404, f"no saved report named {name!r}")
    return FileResponse(path, media_type="text/html" if name.endswith(".html") else "application/json")
