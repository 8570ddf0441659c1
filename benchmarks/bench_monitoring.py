"""Monitoring benchmarks, each against loading the same window's rows in the same run.

1. Canary analysis over a window of N turns (half stable, half canary, plus shadows): the statistics'
   cost over the ORM load they need. Target: analysis <= 1.5x the load alone.
2. Dashboard data (``gather``): everything /admin shows, over the same load. Target <= 3x.
3. Hallucination report (Evidently, HTML + JSON written): seconds per 1,000 answers, against building
   the same figures with pandas alone (the price of the HTML report). Informational target <= 2 s/1k.

``python -m benchmarks.bench_monitoring [--quick]`` prints the table.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def _fill(url: str, turns: int) -> datetime:
    from hibachi.db import make_engine, session_factory, upgrade
    from hibachi.records import Candidate, ChatSession, DeploymentState, ShadowComparison, TrainingSignal, new_id

    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    rng = random.Random(0)
    shadows = []
    with session_factory(engine)() as session:
        session.add(DeploymentState(isvc_name="hibachi-llama", stable_version="v1", canary_version="v2",
                                    canary_percent=10, stage="canary", action="deploy", actor="bench", reason="bench"))
        for i in range(turns):
            version = "v1" if i % 2 else "v2"
            passed = rng.random() > 0.05
            chat = ChatSession(id=new_id(), led_to_booking=rng.random() < 0.3)
            when = now - timedelta(minutes=rng.uniform(1, 600))
            signal = TrainingSignal(
                id=new_id(), request_id=new_id(), session_id=chat.id, prompt="How much is lobster?", conversation=[],
                chosen_response="Lobster is +$10.", served_by="local" if passed else "fallback",
                adapter_version=version if passed else None, quality_score=0.95, critic_passed=True,
                latency_ms=rng.uniform(50, 150), created_at=when)
            signal.candidates.append(Candidate(provider="local", model=version, role="student", response="x",
                                               latency_ms=rng.uniform(50, 150), critic_passed=passed,
                                               violations=[] if passed else [{"category": "price"}], chosen=passed))
            session.add_all([chat, signal])
            if i % 4 == 0:
                shadows.append(ShadowComparison(signal_id=signal.id, provider="local", model=version,
                                             adapter_version=version, local_response="x", teacher_response="y",
                                             similarity=0.9, critic_passed=True, created_at=when))
        session.flush()  # shadows reference signals without an ORM relationship
        session.add_all(shadows)
        session.commit()
    engine.dispose()
    return now


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(quick: bool = False) -> list[dict]:
    from hibachi.db import make_engine, session_factory
    from hibachi.monitoring.canary import analyze
    from hibachi.monitoring.dashboard_data import gather
    from hibachi.monitoring.hallucination import figures_of, hallucination_report, served_frame
    from hibachi.queries import signals_between
    from hibachi.settings import Settings

    turns = 400 if quick else 4000
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "var", database_url=f"sqlite:///{tmp}/bench.db")
        now = _fill(settings.database_url, turns)
        since, window = now - timedelta(days=1), timedelta(days=1)
        engine = make_engine(settings.database_url)
        with session_factory(engine)() as session:
            def fresh(fn):
                def call():
                    session.expunge_all()
                    return fn()
                return call

            load = _best(fresh(lambda: signals_between(session, since, now)))
            analysis = _best(fresh(lambda: analyze(session, "hibachi-llama", window, settings, now=now)))
            dashboard = _best(fresh(lambda: gather(session, settings, window, now=now)))
            pandas_only = _best(fresh(lambda: figures_of(served_frame(session, since, now, settings))), repeat=1)
            report = _best(fresh(lambda: hallucination_report(session, since, now, settings)), repeat=1)
        engine.dispose()
    answers = turns + turns // 4
    per_k = report / answers * 1000
    return [
        {"benchmark": "monitoring", "figure": f"canary analysis, {turns} turns", "value": round(analysis, 4),
         "unit": "s", "baseline": round(load, 4), "ratio": round(analysis / load, 2), "target": "<= 1.5"},
        {"benchmark": "monitoring", "figure": f"dashboard data, {turns} turns", "value": round(dashboard, 4),
         "unit": "s", "baseline": round(load, 4), "ratio": round(dashboard / load, 2), "target": "<= 3"},
        {"benchmark": "monitoring", "figure": "hallucination report (Evidently HTML)", "value": round(per_k, 3),
         "unit": "s per 1k answers", "baseline": round(pandas_only / answers * 1000, 3),
         "ratio": round(report / pandas_only, 2), "target": "<= 2 s per 1k"},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    rows = run(quick=parser.parse_args().quick)
    for row in rows:
        print(f"{row['figure']:<42} {row['value']:>10} {row['unit']:<16} baseline {row['baseline']:>8} "
              f"ratio {row['ratio']:>6}  target {row['target']}")


if __name__ == "__main__":
    main()
