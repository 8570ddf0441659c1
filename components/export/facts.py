"""Facts change, data follows: a stored answer the critic passed when it was captured, but fails under today's facts.

When the knowledge base changes (a price, an item added or removed), answers captured under the old facts
can teach the model the old facts. ``stale_violations(record, critic)`` re-judges an exported turn's final
answer (the newest admin correction, else the served answer) with the current critic; the export leaves such
turns out (with their preference pairs) and lists them, with the violations, beside the dataset.
Answers that never passed are not "stale": the filter's own rules drop them.
"""

from __future__ import annotations

from typing import Any


def final_answer(record: dict[str, Any]) -> str:
    correction = (record.get("metadata") or {}).get("correction") or {}
    return str(correction.get("response") or record["messages"][-1].get("content") or "")


def stale_violations(record: dict[str, Any], critic) -> list[dict[str, Any]] | None:
    """The violations the current critic finds in a turn whose answer passed when captured; None when not stale."""
    meta = record.get("metadata") or {}
    corrected = bool((meta.get("correction") or {}).get("response"))
    if not corrected and not meta.get("critic_passed"):
        return None
    question = next((m.get("content") for m in reversed(record["messages"][:-1]) if m.get("role") == "user"), "")
    verdict = critic.evaluate(str(question or ""), final_answer(record))
    if verdict.passed:
        return None
    return [v.model_dump(mode="json") if hasattr(v, "model_dump") else dict(v) for v in verdict.violations]


def stale_entry(record: dict[str, Any], violations: list[dict[str, Any]], knowledge_sha256: str | None) -> dict:
    """One line of the export's stale list: which turn, the answer, and what it now breaks."""
    meta = record.get("metadata") or {}
    return {"signal_id": meta.get("signal_id"), "created_at": meta.get("created_at"), "topic": meta.get("topic"),
            "answer": final_answer(record), "violations": violations, "knowledge_sha256": knowledge_sha256}
