"""Speed of retrieval, traffic generation and loading, each against a naive baseline measured in the same run.

``run(quick)`` returns rows for the benchmark suite (``benchmarks/bench_synth.py`` calls it);
``python -m devkit.synth.benchmark`` prints them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path


def _rate(fn, seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn(done)
        done += 1
    return done / (time.perf_counter() - started)


def _critic(kb):
    try:
        from hibachi.critic import Critic

        return Critic(kb), "rule critic"
    except ImportError:
        from hibachi.critic.verdict import Verdict

        class Passing:
            def evaluate(self, prompt, response):
                return Verdict(passed=True, violations=[], quality_score=1.0)

        return Passing(), "no critic (every answer passes)"


def _row_by_row(session, conversations, critic, teachers) -> None:
    """The baseline: what a straightforward ORM loader does, one object and one flush per conversation."""
    from datetime import UTC, datetime

    from devkit.synth.load import _conversation_rows, _ScoringCache
    from hibachi.records import AdminCorrection, Candidate, ChatMessage, ChatSession, TrainingSignal

    now, score = datetime.now(UTC), _ScoringCache(critic)
    for conversation in conversations:
        rows = {"sessions": [], "messages": [], "signals": [], "candidates": [], "corrections": []}
        _conversation_rows(conversation, score, teachers, "my-hibachi", now, 0.3, rows)
        for model, key in ((ChatSession, "sessions"), (TrainingSignal, "signals"), (ChatMessage, "messages"),
                           (Candidate, "candidates"), (AdminCorrection, "corrections")):
            session.add_all(model(**row) for row in rows[key])
            session.flush()


def run(quick: bool = False) -> list[dict]:
    from devkit.synth import SynthConfig, generate_traffic
    from devkit.synth.load import load_traffic
    from hibachi.db import make_engine, session_factory, upgrade
    from hibachi.knowledge import load_knowledge_base
    from hibachi.retrieval import Retriever
    from hibachi.settings import Settings

    kb = load_knowledge_base()
    seconds = 0.5 if quick else 2.0
    questions = ["Do you have kobe beef for 10 adults?", "is the deposit refundable?", "can you cook indoors?"]
    retriever = Retriever(kb)
    built_once = _rate(lambda i: retriever.topic(questions[i % 3]), seconds)
    rebuilt = _rate(lambda i: Retriever(kb).topic(questions[i % 3]), seconds)
    rows = [{"benchmark": "retrieval", "figure": "topic lookups per second (index built once)",
             "value": round(built_once), "unit": "queries/s", "baseline": round(rebuilt),
             "ratio": round(built_once / rebuilt, 1), "target": ">= 2000"}]

    count = 200 if quick else 2000
    started = time.perf_counter()
    traffic = generate_traffic(SynthConfig(conversations=count, seed=1, hallucination_rate=0.15), kb)
    generation = count / (time.perf_counter() - started)
    rows.append({"benchmark": "synth", "figure": "conversations generated per second", "value": round(generation),
                 "unit": "conversations/s", "baseline": None, "ratio": None, "target": None})

    critic, critic_name = _critic(kb)
    teachers = Settings().teachers[:2]
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, loader in (("bulk", None), ("row_by_row", _row_by_row)):
            engine = make_engine(f"sqlite:///{Path(tmp) / (name + '.db')}")
            upgrade(engine)
            factory = session_factory(engine)
            started = time.perf_counter()
            with factory() as session:
                if loader is None:
                    load_traffic(session, traffic, critic, teachers=teachers)
                else:
                    loader(session, traffic, critic, teachers)
                session.commit()
            timings[name] = time.perf_counter() - started
            engine.dispose()
    rows.append({"benchmark": "synth", "figure": f"load {count} conversations into SQLite, scored by {critic_name}",
                 "value": round(timings["bulk"], 2), "unit": "s", "baseline": round(timings["row_by_row"], 2),
                 "ratio": round(timings["row_by_row"] / timings["bulk"], 1), "target": "2000 in < 10 s"})
    return rows


if __name__ == "__main__":
    from rich.console import Console
    from rich.table import Table

    table = Table("benchmark", "figure", "value", "unit", "baseline", "ratio", "target")
    for row in run():
        table.add_row(*(str(row[k]) for k in ("benchmark", "figure", "value", "unit", "baseline", "ratio", "target")))
    Console().print(table)
