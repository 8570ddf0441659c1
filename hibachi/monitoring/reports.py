"""Saved monitoring reports: Evidently HTML for people, the same figures as JSON for machines, and an index.

Each report is written as ``<data_dir>/reports/<kind>-<UTC timestamp>.html`` plus ``.json`` (the figures it
claims), and listed in ``reports/index.json``. The HTML starts with a short summary table of those figures
above Evidently's own widgets, so a reader sees the headline numbers without opening every panel.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hibachi.errors import UserError
from hibachi.settings import Settings

KINDS = ("hallucination", "drift", "data")


@dataclass
class SavedReport:
    kind: str
    title: str
    html_path: str
    json_path: str
    created_at: str
    window_start: str | None
    window_end: str | None
    headline: dict[str, Any] = field(default_factory=dict)


def reports_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "reports"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def list_reports(settings: Settings) -> list[SavedReport]:
    index = reports_dir(settings) / "index.json"
    if not index.is_file():
        return []
    try:
        rows = json.loads(index.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{index}: report index is not valid JSON ({exc})") from None
    return [SavedReport(**row) for row in rows]


def summary_table(title: str, rows: list[tuple[str, Any]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows)
    return (f'<section id="hibachi-summary" style="font-family:sans-serif;margin:16px">'
            f"<h1>{html.escape(title)}</h1><table border=1 cellpadding=4>{cells}</table></section>")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def save_report(settings: Settings, kind: str, title: str, snapshot: Any, figures: dict[str, Any],
                summary_rows: list[tuple[str, Any]], window: tuple[datetime | None, datetime | None],
                headline: dict[str, Any]) -> SavedReport:
    """Write the Evidently snapshot as HTML (with the summary on top) and the figures as JSON; index both."""
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r}")
    now = datetime.now(UTC)
    stem = f"{kind}-{now.strftime('%Y%m%dT%H%M%S%fZ')}"
    folder = reports_dir(settings)
    body = snapshot.get_html_str(as_iframe=False)
    body = body.replace("<body>", "<body>" + summary_table(title, summary_rows), 1)
    html_path, json_path = folder / f"{stem}.html", folder / f"{stem}.json"
    _atomic_write(html_path, body)
    start, end = (w.isoformat() if w else None for w in window)
    payload = {"kind": kind, "title": title, "created_at": now.isoformat(), "window_start": start,
               "window_end": end, "figures": figures, "evidently": snapshot.dict()}
    _atomic_write(json_path, json.dumps(payload, indent=2, default=str))
    saved = SavedReport(kind=kind, title=title, html_path=str(html_path), json_path=str(json_path),
                        created_at=now.isoformat(), window_start=start, window_end=end, headline=headline)
    rows = [asdict(r) for r in list_reports(settings)] + [asdict(saved)]
    _atomic_write(folder / "index.json", json.dumps(rows, indent=2, default=str))
    return saved
