"""Reports over what the real pipeline steps write: synthetic traffic -> export -> filter -> data and drift reports."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import components.export as export_mod
import components.filter.filter as filter_mod
from hibachi.db import make_engine, session_factory, upgrade


@pytest.fixture(scope="module")
def pipeline_db(tmp_path_factory):
    """Built once for the module (the steps are the slow part): the database and the filter step's outputs."""
    from devkit.synth.generator import SynthConfig, generate_traffic
    from devkit.synth.load import load_traffic
    from hibachi.critic import get_critic
    from hibachi.settings import Settings

    tmp = tmp_path_factory.mktemp("pipeline")
    settings = Settings(data_dir=tmp / "var", database_url=f"sqlite:///{tmp / 'pipe.db'}")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    now = datetime.now(UTC)
    with session_factory(engine)() as session:
        load_traffic(session, generate_traffic(SynthConfig(conversations=120, days=6, seed=5)), get_critic(),
                     teachers=settings.teachers, now=now)
        session.commit()
    result = export_mod.export_signals(engine, tmp / "export.jsonl", since=now - timedelta(days=30), until=now)
    engine.dispose()
    out = tmp / "filtered"
    filter_mod.filter_dataset(result.path, out / "train.jsonl", out / "holdout.jsonl", out / "summary.json",
                              settings.filter, critic=get_critic())
    return settings.database_url, out


@pytest.fixture
def exported(pipeline_db, monkeypatch):
    from hibachi.settings import reset_settings_cache

    url, out = pipeline_db
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings_cache()
    return out


def test_data_report_of_the_filtered_export_via_the_cli(exported, monkeypatch, capsys):
    import hibachi_cli as cli

    summary = json.loads((exported / "summary.json").read_text())
    monkeypatch.setattr(sys, "argv", ["hibachi", "report", "data", "--since", "1d",
                                      "--export", str(exported / "train.jsonl"),
                                      "--filter-summary", str(exported / "summary.json")])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    html_path = Path(out.split("data report: ", 1)[1].splitlines()[0])
    html = html_path.read_text()
    kept = sum(1 for line in (exported / "train.jsonl").read_text().splitlines() if line.strip())
    assert f"rows</th><td>{kept}<" in html
    for rule, count in summary["dropped"].items():
        assert f"dropped by filter rule &#x27;{rule}&#x27;</th><td>{count}<" in html
    assert f"dropped={sum(summary['dropped'].values())}" in out


def test_production_prompts_from_the_same_traffic_do_not_drift_from_the_training_set(exported, monkeypatch, capsys):
    import hibachi_cli as cli

    monkeypatch.setattr(sys, "argv", ["hibachi", "report", "drift", "--since", "3d",
                                      "--training-set", str(exported / "train.jsonl")])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "drift_detected=False" in out, out
