"""Hallucination and business-logic compliance over time, split by who served.

Arms: teacher, local_stable, local_canary (the adapter versions of the newest DeploymentState),
local_other (an adapter that is neither), fallback and safe_default; the local model's shadow answers
appear as ``shadow_<arm>``. Compliance is the critic's pass; a hallucination is a violation (of the
configured categories, or any when none are configured). An answer that does not address the question
(``hibachi.monitoring.addressed``: far from the teacher's answer to the same turn, or no claim where the
question needs one) is a ``non_answer`` and is not compliant: claiming nothing breaks no rule, but it is
no answer.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy.orm import Session

from hibachi.errors import UserError
from hibachi.monitoring.addressed import answer_check
from hibachi.monitoring.arms import is_hallucination
from hibachi.monitoring.reports import SavedReport, save_report
from hibachi.monitoring.windows import as_utc, check_range
from hibachi.queries import latest_deployment, shadows_between, signals_between
from hibachi.settings import Settings

COLUMNS = ["created_at", "day", "arm", "source", "hallucinated", "non_answer", "compliant", "quality_score"]


def _local_arm(version: str | None, stable: str | None, canary: str | None) -> str:
    if version and version == canary:
        return "local_canary"
    if version and version == stable:
        return "local_stable"
    return "local_other"


def served_frame(session: Session, since: datetime, until: datetime, settings: Settings) -> pd.DataFrame:
    state = latest_deployment(session, settings.rollout.isvc_name)
    stable, canary = (state.stable_version, state.canary_version) if state else (None, None)
    categories = settings.analysis.hallucination_categories
    check = answer_check(settings)
    rows = []
    prompts: dict[str, str] = {}
    for signal in signals_between(session, since, until):
        prompts[signal.id] = signal.prompt
        chosen = next((c for c in signal.candidates if c.chosen), None)
        arm = (_local_arm(signal.adapter_version, stable, canary) if signal.served_by == "local"
               else signal.served_by)
        addressed = check.addresses(signal.prompt, signal.chosen_response)
        rows.append((signal.created_at, arm, "served", is_hallucination(chosen.violations if chosen else [],
                                                                        categories),
                     not addressed, bool(signal.critic_passed) and addressed, float(signal.quality_score or 0.0)))
    for row in shadows_between(session, since, until):
        if row.local_response is None:
            continue
        addressed = check.addresses(prompts.get(row.signal_id, ""), row.local_response,
                                    reference=row.teacher_response or None)
        rows.append((row.created_at, "shadow_" + _local_arm(row.adapter_version, stable, canary), "shadow",
                     is_hallucination(row.violations, categories), not addressed,
                     bool(row.critic_passed) and addressed, float(row.quality_score or 0.0)))
    frame = pd.DataFrame([(as_utc(r[0]), as_utc(r[0]).date().isoformat(), *r[1:]) for r in rows], columns=COLUMNS)
    for column in ("hallucinated", "non_answer", "compliant"):
        frame[column] = frame[column].astype(int)
    return frame


def figures_of(frame: pd.DataFrame) -> dict:
    def rates(group) -> dict:
        return {"n": int(len(group)), "hallucination_rate": float(group.hallucinated.mean()),
                "non_answer_rate": float(group.non_answer.mean()), "compliance_rate": float(group.compliant.mean())}

    return {
        "rows": int(len(frame)),
        "overall": rates(frame),
        "by_arm": {arm: rates(g) for arm, g in frame.groupby("arm")},
        "by_day": {day: {arm: rates(g2) for arm, g2 in g.groupby("arm")} for day, g in frame.groupby("day")},
    }


def hallucination_report(session: Session, since: datetime, until: datetime, settings: Settings) -> SavedReport:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import GroupBy, MeanValue, RowCount
    from evidently.tests import gte, lte

    check_range(since, until)
    frame = served_frame(session, since, until, settings)
    if frame.empty:
        raise UserError(f"no answers recorded between {since.isoformat()} and {until.isoformat()}: "
                        "nothing to report")
    definition = DataDefinition(numerical_columns=["hallucinated", "non_answer", "compliant", "quality_score"],
                                categorical_columns=["arm", "day", "source"], datetime_columns=["created_at"])
    gate = settings.gate
    # Each arm is held to the evaluation gate's targets, declared as Evidently tests (pass/fail in the report).
    limits = {"hallucinated": [lte(gate.max_hallucination_rate)], "compliant": [gte(gate.min_business_logic)]}
    metrics = [RowCount(), MeanValue(column="hallucinated"), MeanValue(column="non_answer"),
               MeanValue(column="compliant")]
    for column in ("hallucinated", "compliant"):
        metrics += [GroupBy(MeanValue(column=column, tests=limits[column]), "arm"),
                    GroupBy(MeanValue(column=column), "day")]
    snapshot = Report(metrics).run(Dataset.from_pandas(frame, data_definition=definition), None)
    figures = figures_of(frame)
    tests = [{"description": t["description"], "status": str(getattr(t["status"], "value", t["status"]))}
             for t in snapshot.dict().get("tests", [])]
    figures["gate_tests"] = tests
    summary = [("answers", figures["rows"]), ("hallucination rate (all)", figures["overall"]["hallucination_rate"]),
               ("answers that do not address the question (all)", figures["overall"]["non_answer_rate"]),
               ("business-logic compliance (all, non-answers count against)", figures["overall"]["compliance_rate"]),
               (f"gate tests per arm (hallucination <= {gate.max_hallucination_rate}, compliance >= "
                f"{gate.min_business_logic})", f"{sum(t['status'] == 'SUCCESS' for t in tests)} passed, "
                                               f"{sum(t['status'] == 'FAIL' for t in tests)} failed")]
    for arm, f in figures["by_arm"].items():
        summary.append((f"{arm}: hallucination rate (n={f['n']})", f["hallucination_rate"]))
        summary.append((f"{arm}: non-answer rate (n={f['n']})", f["non_answer_rate"]))
        summary.append((f"{arm}: compliance rate (n={f['n']})", f["compliance_rate"]))
    for day, arms in figures["by_day"].items():
        for arm, f in arms.items():
            summary.append((f"{day} {arm}: hallucination / compliance (n={f['n']})",
                            f"{f['hallucination_rate']:.4f} / {f['compliance_rate']:.4f}"))
    headline = {"answers": figures["rows"], "hallucination_rate": figures["overall"]["hallucination_rate"],
                "non_answer_rate": figures["overall"]["non_answer_rate"],
                "compliance_rate": figures["overall"]["compliance_rate"]}
    return save_report(settings, "hallucination", "Hallucination and business-logic compliance by who served",
                       snapshot, figures, summary, (since, until), headline)
