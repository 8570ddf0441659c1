"""Data quality of a training export: Evidently's DataSummaryPreset over the rows, plus the filter's drop counts.

Rows may be chat-format (``{"messages": [...]}``, what the filter step writes) or flat signal records; both
become one row of columns: turn counts, prompt/response lengths and any scalar fields. The filter step's
summary JSON (how many rows each rule dropped) is read when given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from hibachi.errors import UserError
from hibachi.jsonl import json_objects
from hibachi.monitoring.reports import SavedReport, save_report
from hibachi.settings import Settings


def _row(record: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {k: v for k, v in record.items() if isinstance(v, (str, int, float, bool)) or v is None}
    messages = record.get("messages")
    if isinstance(messages, list):
        users = [m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        answers = [m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
        row.update(turns=len(messages), prompt=users[-1] if users else None,
                   response=answers[-1] if answers else None,
                   has_system=any(isinstance(m, dict) and m.get("role") == "system" for m in messages))
    prompt, response = row.get("prompt"), row.get("response") or row.get("chosen_response")
    row["prompt_chars"] = len(prompt) if isinstance(prompt, str) else None
    row["response_chars"] = len(response) if isinstance(response, str) else None
    row["response_words"] = len(response.split()) if isinstance(response, str) else None
    return row


def export_frame(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UserError(f"training export {path} does not exist")
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for _number, record in json_objects(lines, lambda n: f"{path}:{n}", expected="a JSON object per line"):
        rows.append(_row(record))
    if not rows:
        raise UserError(f"training export {path} has no rows")
    return pd.DataFrame(rows)


def filter_drops(summary_path: Path | None) -> dict[str, Any]:
    """The filter step's summary: ``{"dropped": {rule: count}, ...}`` or a flat ``{rule: count}``."""
    if summary_path is None:
        return {}
    if not summary_path.is_file():
        raise UserError(f"filter summary {summary_path} does not exist")
    try:
        data = json.loads(summary_path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{summary_path}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise UserError(f"{summary_path}: expected a JSON object")
    return data


def _drops_table(summary: dict[str, Any]) -> dict[str, int]:
    dropped = summary.get("dropped", summary)
    return {str(k): int(v) for k, v in dropped.items() if isinstance(v, (int, float)) and not isinstance(v, bool)} \
        if isinstance(dropped, dict) else {}


def pair_counts(summary: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Preference pairs kept by source and side (``{source: {"train": n, "holdout": n}}``) from a filter summary."""
    pairs = summary.get("pairs") if isinstance(summary, dict) else None
    by_source = pairs.get("by_source") if isinstance(pairs, dict) else None
    if not isinstance(by_source, dict):
        return {}
    return {str(source): {side: int(sides.get(side, 0)) for side in ("train", "holdout")}
            for source, sides in sorted(by_source.items()) if isinstance(sides, dict)}


def data_report(export: Path, settings: Settings, filter_summary: Path | None = None) -> SavedReport:
    from evidently import Dataset, Report
    from evidently.presets import DataSummaryPreset

    frame = export_frame(export)
    summary = filter_drops(filter_summary)
    drops = _drops_table(summary)
    snapshot = Report([DataSummaryPreset()]).run(Dataset.from_pandas(frame), None)
    figures = {
        "export": str(export), "rows": int(len(frame)), "columns": int(frame.shape[1]),
        "duplicated_rows": int(frame.astype(str).duplicated().sum()),
        "missing_cells": int(frame.isna().sum().sum()),
        "mean_response_chars": float(frame["response_chars"].mean()) if frame["response_chars"].notna().any() else None,
        "dropped_by_rule": drops, "filter_summary": summary, "pairs_by_source": pair_counts(summary),
    }
    rows = [("export", str(export)), ("rows", figures["rows"]), ("columns", figures["columns"]),
            ("duplicated rows", figures["duplicated_rows"]), ("missing cells", figures["missing_cells"]),
            ("mean response length (chars)", figures["mean_response_chars"])]
    rows += [(f"dropped by filter rule '{rule}'", count) for rule, count in drops.items()]
    pairs = figures["pairs_by_source"]
    rows += [(f"preference pairs from {source} (train / holdout)", f"{n['train']} / {n['holdout']}")
             for source, n in pairs.items()]
    if isinstance(summary.get("pairs"), dict):
        rows += [(f"preference pairs dropped by rule '{rule}'", count)
                 for rule, count in (summary["pairs"].get("dropped") or {}).items()]
    headline = {"rows": figures["rows"], "dropped": sum(drops.values())}
    if pairs:
        headline["pairs"] = sum(n["train"] + n["holdout"] for n in pairs.values())
    return save_report(settings, "data", f"Data quality of training export {export.name}", snapshot, figures,
                       rows, (None, None), headline)
