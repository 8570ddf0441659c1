"""Preference pairs from one exported turn: an answer the critic passed against one it failed for the same turn.

``build_pairs(record)`` takes an exported record (``{"messages": [...prompt..., served answer],
"metadata": {candidates, correction, served_by, ...}}``, what ``export.signal_record`` writes) and returns
plain pairs ``{"prompt", "chosen", "rejected", "why", "metadata"}``. The prompt is the record's own prompt
messages, so a pair carries exactly the prompt contract its training row has. Sources:

- ``admin_correction``: an admin corrected the served answer: the correction is chosen, the served answer rejected;
- ``teacher_rejected``: a teacher's candidate the critic failed, against the chosen answer;
- ``student_fallback``: the student's answer the critic failed, so the teacher's answer was served instead.

The chosen answer is the newest correction when there is one, else the served answer when its candidate
passed the critic; a turn with neither gives no pairs. The filter step re-checks chosen answers with the
current critic, scrubs, deduplicates and splits the pairs like the training rows.
"""

from __future__ import annotations

from typing import Any

SOURCES = ("teacher_rejected", "student_fallback", "admin_correction")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def describe_violations(violations: list[Any] | None) -> str:
    """'category: claim (fact); ...' from stored critic violations (dicts), or 'failed the critic'."""
    parts = []
    for v in violations or []:
        if isinstance(v, dict):
            claim, fact = v.get("claim"), v.get("fact")
            parts.append(f"{v.get('category', 'violation')}: {claim!r} breaks {fact!r}" if claim or fact
                         else str(v.get("category", "violation")))
        else:
            parts.append(str(v))
    return "; ".join(parts) or "failed the critic"


def _pair(prompt: list[dict], chosen: str, rejected: str, why: str, source: str, meta: dict,
          candidate: dict | None = None) -> dict[str, Any]:
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected, "why": why,
            "metadata": {"signal_id": meta.get("signal_id"), "session_id": meta.get("session_id"),
                         "topic": meta.get("topic"), "created_at": meta.get("created_at"), "source": source,
                         "trainable": meta.get("trainable"),
                         "rejected_provider": candidate.get("provider") if candidate else None,
                         "violations": (candidate or {}).get("violations") or []}}


def build_pairs(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every preference pair one exported turn yields (possibly none), each rejected answer once."""
    messages = record.get("messages") or []
    meta = record.get("metadata") or {}
    if len(messages) < 2 or messages[-1].get("role") != "assistant":
        return []
    prompt = [{"role": m.get("role"), "content": m.get("content")} for m in messages[:-1]]
    served = _text(messages[-1].get("content"))
    candidates = [c for c in meta.get("candidates") or [] if isinstance(c, dict)]
    correction = meta.get("correction") or {}
    corrected = _text(correction.get("response"))
    served_candidate = next((c for c in candidates if c.get("chosen")), None)
    served_passed = bool(served_candidate and served_candidate.get("critic_passed") and served)
    chosen = corrected or (served if served_passed else "")
    if not chosen:
        return []
    pairs: list[dict[str, Any]] = []
    seen = {chosen}
    if corrected and served and served not in seen:
        reason = correction.get("reason")
        why = f"corrected by {correction.get('author') or 'an admin'}" + (f": {reason}" if reason else "")
        pairs.append(_pair(prompt, chosen, served, why, "admin_correction", meta, served_candidate))
        seen.add(served)
    for candidate in candidates:
        response = _text(candidate.get("response"))
        if candidate.get("critic_passed") is not False or not response or response in seen:
            continue
        source = "student_fallback" if candidate.get("role") == "student" else "teacher_rejected"
        pairs.append(_pair(prompt, chosen, response, describe_violations(candidate.get("violations")), source, meta,
                           candidate))
        seen.add(response)
    return pairs
