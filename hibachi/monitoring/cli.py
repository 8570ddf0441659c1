"""`hibachi report`: write Evidently monitoring reports (HTML + JSON) and list the saved ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from hibachi.db import cli_session as _session
from hibachi.errors import UserError

app = typer.Typer(help="Monitoring reports: hallucination, prompt drift, training-data quality.",
                  no_args_is_help=True)

Since = Annotated[str, typer.Option("--since", help="Start: ISO date/time (UTC) or a duration back, e.g. 7d.")]
Until = Annotated[str | None, typer.Option("--until", help="End (exclusive); default now.")]


def _range(since: str, until: str | None) -> tuple[datetime, datetime]:
    from hibachi.monitoring.windows import check_range, parse_date

    start = parse_date(since, name="since")
    end = parse_date(until, name="until") if until else datetime.now(UTC)
    check_range(start, end)
    return start, end


def _print(saved) -> None:
    figures = ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in saved.headline.items())
    typer.echo(f"{saved.kind} report: {saved.html_path}\n  figures: {saved.json_path}\n  {figures}")


@app.command("hallucination")
def hallucination(since: Since, until: Until = None) -> None:
    """Hallucination and business-logic compliance over time, by who served."""
    from hibachi.monitoring.hallucination import hallucination_report
    from hibachi.settings import get_settings

    start, end = _range(since, until)
    with _session() as session:
        _print(hallucination_report(session, start, end, get_settings()))


@app.command("drift")
def drift(since: Since, until: Until = None,
          training_set: Annotated[Path | None, typer.Option(help="Filtered training JSONL ({'messages': [...]}); "
                                                                 "default: the window just before --since.")] = None
          ) -> None:
    """Drift of production prompts against the training set (descriptors and MiniLM embeddings)."""
    from hibachi.monitoring.drift import drift_report
    from hibachi.settings import get_settings

    start, end = _range(since, until)
    with _session() as session:
        _print(drift_report(session, start, end, get_settings(), training_set))


@app.command("data")
def data(since: Since, until: Until = None,
         export: Annotated[Path | None, typer.Option(help="Export JSONL; default: the newest export run in range.")]
         = None,
         filter_summary: Annotated[Path | None, typer.Option(help="The filter step's summary JSON.")] = None) -> None:
    """Data quality of a training export (DataSummaryPreset) with the filter's drop counts."""
    from sqlalchemy import select

    from hibachi.monitoring.data_quality import data_report
    from hibachi.records import ExportRun
    from hibachi.settings import get_settings

    start, end = _range(since, until)
    if export is None:
        with _session() as session:
            run = session.scalars(select(ExportRun).where(ExportRun.created_at >= start, ExportRun.created_at < end)
                                  .order_by(ExportRun.created_at.desc()).limit(1)).first()
        if run is None:
            raise UserError(f"no training export between {start.isoformat()} and {end.isoformat()}; "
                            "pass --export PATH")
        export = Path(run.path)
    _print(data_report(export, get_settings(), filter_summary))


@app.command("list")
def list_saved() -> None:
    """The saved reports, newest last."""
    from hibachi.monitoring.reports import list_reports
    from hibachi.settings import get_settings

    reports = list_reports(get_settings())
    if not reports:
        typer.echo("no reports saved yet; run `hibachi report hallucination --since 7d`")
        return
    for r in reports:
        window = f"{r.window_start or '-'} .. {r.window_end or '-'}"
        typer.echo(f"{r.created_at}  {r.kind:<13} {window}  {r.html_path}")
