"""The filter step: quality gates, corrections, critic re-check, PII scrubbing, dedup, stratified split.

Every rule is a setting (``settings.filter``); each dropped row is counted under the first rule it
failed, and the counts go to a data-quality summary (JSON and a small HTML page). Outputs are
written in input order with sorted keys, so the same export always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from components.filter.dedup import NearDuplicateIndex
from components.filter.pii import Scrubber, scrub_messages
from hibachi.errors import UserError
from hibachi.jsonl import json_objects
from hibachi.settings import FilterSettings

RULES = ("not_trainable", "low_quality", "no_good_outcome", "critic_failed", "empty_answer", "duplicate")


class DataError(UserError, ValueError):
    """An input line is not a valid exported example; the message names the file and line."""


@dataclass(frozen=True)
class FilterResult:
    train_path: str
    holdout_path: str
    summary_path: str
    train_rows: int
    holdout_rows: int
    dataset_sha256: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_examples(path: Path | str):
    """Yield (line number, record) and refuse a line that is not JSON or lacks messages/metadata."""
    with open(path, encoding="utf-8") as handle:
        for number, record in json_objects(handle, lambda n: f"{path}:{n}", error=DataError):
            for key in ("messages", "metadata"):
                if key not in record:
                    raise DataError(f"{path}:{number}: missing field {key!r}")
            messages = record["messages"]
            if (not isinstance(messages, list) or len(messages) < 2 or messages[-1].get("role") != "assistant"
                    or messages[-2].get("role") != "user"):
                raise DataError(f"{path}:{number}: messages must end with a user turn and an assistant answer")
            yield number, record


def _topic(record: dict) -> str:
    topic = record["metadata"].get("topic")
    if topic:
        return topic
    from hibachi.retrieval import classify_topic

    return classify_topic(record["messages"][-2]["content"])


def _quality_score(value) -> float:
    """The row's quality score; one that is not a number (a hand-edited or older JSONL) is no evidence of quality,
    so it reads 0.0 and the row is dropped as low quality instead of ending the whole filter step."""
    try:
        score = float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return score if math.isfinite(score) else 0.0


def _gate(record: dict, config: FilterSettings, critic) -> tuple[str | None, bool]:
    """The first rule the record fails (or None), and whether a correction replaced its answer."""
    meta = record["metadata"]
    if meta.get("trainable") is False:
        return "not_trainable", False
    correction = meta.get("correction")
    corrected = bool(config.apply_corrections and correction and correction.get("response"))
    if corrected:
        record["messages"][-1] = {"role": "assistant", "content": correction["response"]}
    answer = str(record["messages"][-1].get("content") or "").strip()
    if not answer:
        return "empty_answer", corrected
    # A human correction stands in for the quality and outcome signals of the answer it replaced.
    if not corrected:
        if _quality_score(meta.get("quality_score")) <= config.min_quality:
            return "low_quality", False
        rating = meta.get("customer_rating")
        good = bool(meta.get("led_to_booking")) or (rating is not None and rating >= config.min_rating)
        if config.require_outcome and not good:
            return "no_good_outcome", False
    if config.require_critic_pass and critic is not None:
        if not critic.evaluate(record["messages"][-2]["content"], answer).passed:
            return "critic_failed", corrected
    return None, corrected


def split_by_topic(items: list[tuple[str, str]], fraction: float, seed: int) -> set[str]:
    """Holdout ids: the same fraction of every topic, chosen by a seeded shuffle of sorted ids."""
    by_topic: dict[str, list[str]] = defaultdict(list)
    for key, topic in items:
        by_topic[topic].append(key)
    holdout: set[str] = set()
    for topic in sorted(by_topic):
        keys = sorted(by_topic[topic])
        random.Random(f"{seed}:{topic}").shuffle(keys)
        take = round(len(keys) * fraction)
        holdout.update(keys[:take])
    return holdout


def filter_dataset(in_path: Path | str, train_path: Path | str, holdout_path: Path | str,
                   summary_path: Path | str, config: FilterSettings | None = None, critic=None,
                   scrubber: Scrubber | None = None, html_path: Path | str | None = None,
                   pairs_path: Path | str | None = None, pairs_train_path: Path | str | None = None,
                   pairs_holdout_path: Path | str | None = None) -> FilterResult:
    """Filter, scrub, deduplicate and split the export; with ``pairs_path``, its preference pairs the same way
    (``filter_pairs``: the same holdout, so no turn is trained on in one file and scored in the other)."""
    config = config or FilterSettings()
    if critic is None and config.require_critic_pass:
        from hibachi.critic import get_critic

        critic = get_critic()
    scrubber = scrubber or Scrubber()
    dedup = NearDuplicateIndex(config.dedup_threshold)
    dropped: Counter = Counter({rule: 0 for rule in RULES})
    pii: Counter = Counter()
    kept: list[tuple[str, str, dict]] = []
    inputs = corrected_rows = scrubbed_rows = 0
    for number, record in read_examples(in_path):
        inputs += 1
        rule, corrected = _gate(record, config, critic)
        corrected_rows += corrected
        if rule:
            dropped[rule] += 1
            continue
        if config.scrub_pii:
            record["messages"], counts = scrub_messages(record["messages"], scrubber)
            scrubbed_rows += bool(counts)
            pii.update(counts)
        prompt = " ".join(m["content"] for m in record["messages"][:-1] if m.get("role") == "user")
        if dedup.seen(prompt, record["messages"][-1]["content"]):
            dropped["duplicate"] += 1
            continue
        meta = record["metadata"]
        key = str(meta.get("signal_id") or number)
        topic = _topic(record)
        example = {"messages": record["messages"],
                   "metadata": {"signal_id": key, "topic": topic, "corrected": corrected,
                                "created_at": meta.get("created_at"), "session_id": meta.get("session_id")}}
        kept.append((key, topic, example))

    holdout_ids = split_by_topic([(k, t) for k, t, _ in kept], config.holdout_fraction, config.seed)
    digest = hashlib.sha256()
    per_topic: dict[str, Counter] = defaultdict(Counter)
    counts = Counter()
    for path, want_holdout in ((train_path, False), (holdout_path, True)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            for key, topic, example in kept:
                if (key in holdout_ids) != want_holdout:
                    continue
                line = (json.dumps(example, sort_keys=True, ensure_ascii=False) + "\n").encode()
                handle.write(line)
                digest.update(line)
                split = "holdout" if want_holdout else "train"
                per_topic[topic][split] += 1
                counts[split] += 1
    summary = {
        "input_rows": inputs, "kept_rows": len(kept), "dropped": dict(dropped), "corrected_rows": corrected_rows,
        "pii_scrubbed_rows": scrubbed_rows, "pii_replacements": dict(sorted(pii.items())),
        "train_rows": counts["train"], "holdout_rows": counts["holdout"],
        "topics": {t: dict(per_topic[t]) for t in sorted(per_topic)},
        "dataset_sha256": digest.hexdigest(), "settings": config.model_dump(mode="json"),
    }
    if pairs_path is not None:
        split = {key: key in holdout_ids for key, _, _ in kept}
        summary["pairs"] = filter_pairs(pairs_path, pairs_train_path or Path(train_path).with_name("pairs_train.jsonl"),
                                        pairs_holdout_path or Path(holdout_path).with_name("pairs_holdout.jsonl"),
                                        split, config, critic, scrubber)
    Path(summary_path).parent.mkdir(parents=True, exist_ok=True)
    Path(summary_path).write_text(json.dumps(summary, indent=2, sort_keys=True))
    if html_path:
        Path(html_path).write_text(summary_html(summary))
    return FilterResult(str(train_path), str(holdout_path), str(summary_path), counts["train"], counts["holdout"],
                        digest.hexdigest())


PAIR_RULES = ("not_trainable", "empty_answer", "chosen_failed_critic", "same_answer", "duplicate")


def pair_in_holdout(signal_id: str, split: dict[str, bool], config: FilterSettings) -> bool:
    """The SFT split's side for the pair's turn; a turn the SFT rows dropped gets a seeded side of its own."""
    if signal_id in split:
        return split[signal_id]
    draw = int.from_bytes(hashlib.sha256(f"{config.seed}:{signal_id}".encode()).digest()[:8], "big") / 2**64
    return draw < config.holdout_fraction


def filter_pairs(in_path: Path | str, train_path: Path | str, holdout_path: Path | str, split: dict[str, bool],
                 config: FilterSettings, critic=None, scrubber: Scrubber | None = None) -> dict[str, Any]:
    """Preference pairs through the training rows' rules: trainable, the chosen answer passes the current critic,
    PII scrubbed (prompt, chosen and rejected), near-duplicates dropped, split on the same holdout as the rows.
    Returns the counts (dropped by rule, kept by source and side)."""
    scrubber = scrubber or Scrubber()
    dedup = NearDuplicateIndex(config.dedup_threshold)
    dropped: Counter = Counter({rule: 0 for rule in PAIR_RULES})
    by_source: dict[str, Counter] = defaultdict(Counter)
    inputs = 0
    out = {False: [], True: []}
    source_path = Path(in_path)
    lines = source_path.open(encoding="utf-8") if source_path.is_file() else iter(())
    try:
        for number, pair in json_objects(lines, lambda n: f"{in_path}:{n}", error=DataError):
            inputs += 1
            prompt, chosen, rejected = pair.get("prompt"), pair.get("chosen"), pair.get("rejected")
            if not isinstance(prompt, list) or not prompt or prompt[-1].get("role") != "user":
                raise DataError(f"{in_path}:{number}: a pair's prompt must be messages ending with a user turn")
            meta = pair.get("metadata") or {}
            if meta.get("trainable") is False:
                dropped["not_trainable"] += 1
                continue
            if not str(chosen or "").strip() or not str(rejected or "").strip():
                dropped["empty_answer"] += 1
                continue
            if config.require_critic_pass and critic is not None and not critic.evaluate(prompt[-1]["content"],
                                                                                          chosen).passed:
                dropped["chosen_failed_critic"] += 1
                continue
            if config.scrub_pii:
                prompt, _ = scrub_messages(prompt, scrubber)
                (chosen_msg, rejected_msg), _ = scrub_messages([{"content": chosen}, {"content": rejected}], scrubber)
                chosen, rejected = chosen_msg["content"], rejected_msg["content"]
            if chosen.strip() == rejected.strip():
                dropped["same_answer"] += 1
                continue
            text = " ".join(m["content"] for m in prompt if m.get("role") == "user")
            if dedup.seen(text, chosen + "\n---\n" + rejected):
                dropped["duplicate"] += 1
                continue
            key = str(meta.get("signal_id") or f"pair-{number}")
            holdout = pair_in_holdout(key, split, config)
            source = str(meta.get("source") or "unknown")
            by_source[source]["holdout" if holdout else "train"] += 1
            out[holdout].append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "why": pair.get("why"),
                                 "metadata": {"signal_id": key, "source": source, "topic": meta.get("topic"),
                                              "rejected_provider": meta.get("rejected_provider")}})
    finally:
        if hasattr(lines, "close"):
            lines.close()
    digest = hashlib.sha256()
    for path, holdout in ((train_path, False), (holdout_path, True)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            for row in out[holdout]:
                line = (json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n").encode()
                handle.write(line)
                digest.update(line)
    return {"input_pairs": inputs, "kept_pairs": len(out[False]) + len(out[True]), "train_pairs": len(out[False]),
            "holdout_pairs": len(out[True]), "dropped": dict(dropped),
            "by_source": {s: dict(by_source[s]) for s in sorted(by_source)}, "pairs_sha256": digest.hexdigest()}


def summary_html(summary: dict) -> str:
    rows = "".join(f"<tr><td>{html.escape(rule)}</td><td>{n}</td></tr>" for rule, n in summary["dropped"].items())
    topics = "".join(f"<tr><td>{html.escape(t)}</td><td>{c.get('train', 0)}</td><td>{c.get('holdout', 0)}</td></tr>"
                     for t, c in summary["topics"].items())
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Data quality</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 10px;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>Data quality</h1><p>{summary['input_rows']} exported, {summary['kept_rows']} kept "
        f"({summary['train_rows']} train, {summary['holdout_rows']} holdout); {summary['corrected_rows']} answers "
        f"replaced by admin corrections; PII scrubbed in {summary['pii_scrubbed_rows']} rows "
        f"{html.escape(json.dumps(summary['pii_replacements']))}.</p>"
        f"<h2>Dropped by rule</h2><table><tr><th>rule</th><th>rows</th></tr>{rows}</table>"
        f"<h2>Split by topic</h2><table><tr><th>topic</th><th>train</th><th>holdout</th></tr>{topics}</table>"
        f"{_pairs_html(summary.get('pairs'))}"
        f"<p>dataset sha256 <code>{summary['dataset_sha256']}</code></p></body></html>"
    )


def _pairs_html(pairs: dict | None) -> str:
    if not pairs:
        return ""
    rows = "".join(f"<tr><td>{html.escape(src)}</td><td>{c.get('train', 0)}</td><td>{c.get('holdout', 0)}</td></tr>"
                   for src, c in pairs["by_source"].items())
    return (f"<h2>Preference pairs</h2><p>{pairs['input_pairs']} exported, {pairs['kept_pairs']} kept; dropped "
            f"{html.escape(json.dumps(pairs['dropped']))}.</p><table><tr><th>source</th><th>train</th>"
            f"<th>holdout</th></tr>{rows}</table>")
