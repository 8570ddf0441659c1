"""The monitoring step: hallucination and drift reports over a window, then the canary analysis.

Given the training set (the filter step's JSONL, and its summary JSON), the drift report compares
production prompts with it and a data-quality report of it is written too.

A report with nothing to show (an empty window, too few prompts) is recorded as skipped with its reason
rather than failing the run, so a quiet night does not page anyone; a bad argument still fails loudly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hibachi.db import make_engine, session_factory
from hibachi.errors import UserError
from hibachi.settings import Settings


@dataclass
class MonitorResult:
    window_start: str
    window_end: str
    reports: dict[str, str] = field(default_factory=dict)  # kind -> HTML path
    skipped: dict[str, str] = field(default_factory=dict)  # kind -> why
    figures: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] | None = None
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_monitoring(settings: Settings, *, window: timedelta, training_set: Path | None = None,
                   filter_summary: Path | None = None, isvc: str | None = None, apply_decision: bool = False,
                   actor: str = "monitoring-pipeline", now: datetime | None = None) -> MonitorResult:
    from hibachi.monitoring import canary
    from hibachi.monitoring.data_quality import data_report
    from hibachi.monitoring.drift import drift_report
    from hibachi.monitoring.hallucination import hallucination_report
    from serving import rollout

    end = now or datetime.now(UTC)
    start = end - window
    result = MonitorResult(window_start=start.isoformat(), window_end=end.isoformat())
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            builders = [("hallucination", lambda: hallucination_report(session, start, end, settings)),
                        ("drift", lambda: drift_report(session, start, end, settings, training_set))]
            if training_set is not None:
                builders.append(("data", lambda: data_report(training_set, settings, filter_summary)))
            for kind, build in builders:
                try:
                    saved = build()
                except UserError as exc:
                    result.skipped[kind] = str(exc)
                    continue
                result.reports[kind] = saved.html_path
                result.figures[kind] = saved.headline
            name = isvc or settings.rollout.isvc_name
            try:
                decision = canary.analyze(session, name, window, settings, now=end)
            except UserError as exc:
                result.skipped["canary"] = str(exc)
            else:
                result.decision = decision.model_dump(mode="json")
                if apply_decision and decision.action != "hold":
                    rollout.apply_decision(session, decision, actor)
                    session.commit()
                    result.applied = True
    finally:
        engine.dispose()
    return result
