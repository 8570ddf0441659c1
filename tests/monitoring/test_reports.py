from __future__ import annotations

import json
import random
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from monitoring_rows import NOW, local_turn, shadow, state
from prompt_sets import hibachi_prompts, off_topic_prompts

from hibachi.db import make_engine, session_factory, upgrade
from hibachi.errors import UserError
from hibachi.monitoring.data_quality import data_report
from hibachi.monitoring.drift import drift_report, drift_report_from_prompts
from hibachi.monitoring.hallucination import hallucination_report
from hibachi.monitoring.reports import list_reports

SINCE, UNTIL = NOW - timedelta(days=2), NOW


def _fill(session):
    state(session, stable="v1", canary="v2", percent=10)
    for i in range(20):  # canary: 5 of 20 hallucinate; stable: none; teacher: none
        local_turn(session, "v2", passed=i >= 5, hallucinated=i < 5, when=NOW - timedelta(hours=30 - i))
        local_turn(session, "v1", when=NOW - timedelta(hours=5))
        local_turn(session, None, teacher_served=True, when=NOW - timedelta(hours=5))
    for i in range(10):
        shadow(session, "v2", hallucinated=i < 2, passed=i >= 2, when=NOW - timedelta(hours=3))
    session.commit()


@pytest.mark.storage
def test_hallucination_report_has_the_rates_by_arm_in_html_and_json(db, settings):
    _, sessions = db
    with sessions() as session:
        _fill(session)
        saved = hallucination_report(session, SINCE, UNTIL, settings)
    html = Path(saved.html_path).read_text()
    figures = json.loads(Path(saved.json_path).read_text())["figures"]
    # 5 canary hallucinations were fallbacks (served by the teacher); the served canary answers are clean.
    assert figures["by_arm"]["fallback"]["n"] == 5
    assert figures["by_arm"]["local_canary"] == {"n": 15, "hallucination_rate": 0.0, "non_answer_rate": 0.0,
                                                 "compliance_rate": 1.0}
    assert figures["by_arm"]["shadow_local_canary"]["hallucination_rate"] == pytest.approx(0.2)
    assert figures["by_arm"]["teacher"]["n"] == 30  # 20 teacher turns + 10 the shadow rows hang on
    assert "<html" in html.lower() and 'id="hibachi-summary"' in html
    assert "shadow_local_canary: hallucination rate (n=10)</th><td>0.2000" in html
    assert "local_stable: compliance rate (n=20)</th><td>1.0000" in html
    # Evidently's own widgets carry the same values.
    assert "Mean value of 'hallucinated' group by 'arm' for label: 'shadow_local_canary': current: 0.200" in html
    assert len(figures["by_day"]) == 2  # the canary turns span two days
    # Gate targets as Evidently tests, per arm: only the shadow canary (20% hallucinations, 80% compliance) fails.
    failed = [t["description"] for t in figures["gate_tests"] if t["status"] == "FAIL"]
    assert len(failed) == 2 and all("shadow_local_canary" in d for d in failed)
    assert "compliance &gt;= 0.95)</th><td>8 passed, 2 failed" in html
    assert [r.kind for r in list_reports(settings)] == ["hallucination"]


@pytest.mark.storage
def test_empty_window_and_backwards_range_are_clear_errors(db, settings):
    _, sessions = db
    with sessions() as session:
        _fill(session)
        with pytest.raises(UserError, match="no answers recorded between 2020-01-01"):
            hallucination_report(session, SINCE.replace(year=2020, month=1, day=1),
                                 SINCE.replace(year=2020, month=1, day=2), settings)
        with pytest.raises(UserError, match="date range is empty"):
            hallucination_report(session, UNTIL, SINCE, settings)
        with pytest.raises(UserError, match="no production prompts"):
            drift_report(session, NOW + timedelta(days=1), NOW + timedelta(days=2), settings)


def test_drift_report_flags_shifted_prompts_and_not_unshifted(settings):
    prompts = hibachi_prompts(120, seed=1)
    random.Random(0).shuffle(prompts)
    same = drift_report_from_prompts(prompts[:60], prompts[60:], settings)
    shifted = drift_report_from_prompts(prompts[:60], off_topic_prompts(60, seed=2), settings)
    same_fig = json.loads(Path(same.json_path).read_text())["figures"]
    shifted_fig = json.loads(Path(shifted.json_path).read_text())["figures"]
    assert not same_fig["drift_detected"] and same_fig["embedding_drift_auc"] < 0.6
    assert shifted_fig["drift_detected"] and shifted_fig["embedding_drift_auc"] > 0.9
    assert shifted_fig["descriptor_drift"]["length"]
    html = Path(shifted.html_path).read_text()
    assert "drift detected</th><td>yes" in html
    assert f"embedding drift ROC AUC</th><td>{shifted_fig['embedding_drift_auc']:.4f}" in html
    assert "Drift in embeddings 'prompt_embedding'" in html
    assert f"Drift detection method: model. Drift score: {round(shifted_fig['embedding_drift_auc'], 3)}" in html
    assert "drift detected</th><td>no" in Path(same.html_path).read_text()
    statuses = [json.loads(Path(r.json_path).read_text())["evidently"]["tests"][0]["status"] for r in (same, shifted)]
    assert statuses == ["SUCCESS", "FAIL"]  # the threshold as an Evidently test agrees with the flag


@pytest.mark.storage
def test_drift_against_a_training_jsonl_from_the_database(db, settings, tmp_path):
    _, sessions = db
    training = tmp_path / "train.jsonl"
    training.write_text("".join(json.dumps({"messages": [{"role": "user", "content": p},
                                                         {"role": "assistant", "content": "ok"}]}) + "\n"
                                for p in hibachi_prompts(40, seed=3)))
    with sessions() as session:
        for prompt in off_topic_prompts(30, seed=4):
            local_turn(session, "v1", prompt=prompt)
        session.commit()
        saved = drift_report(session, SINCE, UNTIL, settings, training_set=training)
    assert saved.headline["drift_detected"] is True
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n{"prompt": 1}\n')
    with sessions() as session, pytest.raises(UserError, match="bad.jsonl:2: expected a JSON object with a 'messages'"):
        drift_report(session, SINCE, UNTIL, settings, training_set=bad)


def test_data_report_summarizes_the_export_and_the_filter_drops(settings, tmp_path):
    export = tmp_path / "train.jsonl"
    rows = [{"messages": [{"role": "system", "content": "facts"}, {"role": "user", "content": p},
                          {"role": "assistant", "content": "Lobster tail is +$10 per person."}]}
            for p in hibachi_prompts(30, seed=5)]
    export.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:3]))
    summary = tmp_path / "filter_summary.json"
    summary.write_text(json.dumps({"input": 50, "kept": 33, "dropped": {"low_quality": 9, "duplicate": 8}}))
    saved = data_report(export, settings, summary)
    figures = json.loads(Path(saved.json_path).read_text())["figures"]
    assert figures["rows"] == 33 and figures["duplicated_rows"] == 3
    assert figures["dropped_by_rule"] == {"low_quality": 9, "duplicate": 8}
    html = Path(saved.html_path).read_text()
    assert "dropped by filter rule &#x27;low_quality&#x27;</th><td>9" in html
    assert "duplicated rows</th><td>3" in html and "rows</th><td>33" in html
    assert "RowCount" in html  # the DataSummaryPreset's widgets
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": []}\nnot json\n')
    with pytest.raises(UserError, match="broken.jsonl:2: not valid JSON"):
        data_report(broken, settings)


def test_cli_empty_range_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as session:
        _fill(session)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    import hibachi_cli as cli
    from hibachi.settings import reset_settings_cache

    reset_settings_cache()
    for args, expected in (
        (["report", "hallucination", "--since", "2020-01-01", "--until", "2020-02-01"], "no answers recorded"),
        (["report", "hallucination", "--since", "2026-11-20", "--until", "2026-11-01"], "date range is empty"),
        (["report", "data", "--since", "2020-01-01"], "no training export between"),
        (["report", "drift", "--since", "yesterday"], "--since 'yesterday' is not a date"),
    ):
        monkeypatch.setattr(sys, "argv", ["hibachi", *args])
        with pytest.raises(SystemExit) as exit_info:
            cli.main()
        err = capsys.readouterr().err.strip()
        assert exit_info.value.code == 2 and expected in err and "\n" not in err, err
    monkeypatch.setattr(sys, "argv", ["hibachi", "report", "hallucination", "--since", "2026-11-18",
                                      "--until", "2026-11-21"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 0
    monkeypatch.setattr(sys, "argv", ["hibachi", "report", "list"])
    with pytest.raises(SystemExit):
        cli.main()
    assert "hallucination" in capsys.readouterr().out
