"""The retraining step of the monitoring pipeline: decide from the evidence whether to train now, and record it.

``decide_retraining(settings, monitor_summary=...)`` reads the monitor step's summary (its drift verdict),
gathers the student's fallback and critic-failure rates, the new quality examples and the facts' hashes
(``hibachi.retraining``), decides under the cool-down and stores the decision with its numbers in
``retraining_decisions``. It also says whether the production adapter is stale (built on facts that changed).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hibachi.db import make_engine, session_factory
from hibachi.errors import UserError
from hibachi.settings import Settings


def drift_figures(monitor_summary: Path | dict | None) -> dict[str, Any] | None:
    """The drift headline of a monitoring summary (``figures.drift``), or None when no drift report was made."""
    if monitor_summary is None:
        return None
    data = monitor_summary
    if not isinstance(data, dict):
        try:
            data = json.loads(Path(monitor_summary).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"monitoring summary {monitor_summary}: cannot read it ({exc})") from None
    figures = (data.get("figures") or {}).get("drift") if isinstance(data, dict) else None
    return figures if isinstance(figures, dict) else None


def decide_retraining(settings: Settings, *, monitor_summary: Path | dict | None = None,
                      window: timedelta | None = None, actor: str = "monitoring-pipeline",
                      now: datetime | None = None, run_id: str | None = None) -> dict[str, Any]:
    """Decide, record and return ``{triggered, reason, reasons, evidence, decision_id, staleness}``."""
    from hibachi.retraining import decide_and_record, production_staleness

    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            decision, row = decide_and_record(session, settings, actor=actor, now=now, window=window,
                                              drift=drift_figures(monitor_summary))
            if decision.triggered and run_id:
                row.run_id = run_id
            staleness = production_staleness(session, settings, decision.evidence.get("knowledge_sha256"))
            session.commit()
            return {**decision.as_dict(), "decision_id": row.id, "staleness": staleness.as_dict()}
    finally:
        engine.dispose()
