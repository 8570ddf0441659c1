"""`hibachi lineage` and `hibachi data erase|retention` end to end through the real command line."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from customer_rows import add_customer
from sqlalchemy import select

from hibachi.db import make_engine, session_factory, upgrade
from hibachi.lineage import record_export_signals, record_lineage
from hibachi.records import Erasure, ExportRun, ModelVersion, TrainingSignal


def hibachi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hibachi_cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.storage
def test_lineage_then_erase_then_retention_from_the_command_line(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        ids = add_customer(session, "cust-cli-0042", ["Reach me at zoe@example.org about prices?"],
                           start=datetime(2026, 10, 1, tzinfo=UTC))
        session.add(ExportRun(window_end=datetime(2026, 10, 2, tzinfo=UTC), rows=1, dataset_sha256="e" * 64,
                              path="/nowhere.jsonl"))
        record_export_signals(session, "e" * 64, ids)
        session.add(ModelVersion(id="v-cli", base_model="b", adapter_uri="/a", dataset_sha256="t" * 64,
                                 gate_passed=True, gate_reason="passed the gate"))
        session.flush()
        record_lineage(session, "v-cli", train_sha256="t" * 64, export_sha256="e" * 64, pipeline_run="run-9")
        session.commit()
    engine.dispose()

    shown = hibachi("lineage", "model", "v-cli", "--database-url", db_url)
    assert shown.returncode == 0, shown.stderr
    assert "e" * 64 in shown.stdout and "run-9" in shown.stdout and "passed the gate" in shown.stdout
    assert "v-cli" in hibachi("lineage", "signal", ids[0], "--database-url", db_url).stdout
    missing = hibachi("lineage", "model", "v-nope", "--database-url", db_url)
    assert missing.returncode == 2 and "no model version 'v-nope'" in missing.stderr

    both = hibachi("data", "erase", "--session", "a", "--email", "b@c.de", "--yes", "--database-url", db_url)
    assert both.returncode == 2 and "exactly one" in both.stderr
    dry = hibachi("data", "erase", "--email", "ZOE@example.org", "--dry-run", "--database-url", db_url)
    assert dry.returncode == 0 and "would erase: 1 conversation" in dry.stdout
    done = hibachi("data", "erase", "--email", "ZOE@example.org", "--yes", "--actor", "dpo@shop",
                   "--database-url", db_url)
    assert done.returncode == 0, done.stderr
    assert "1 training_signals" in done.stdout and "v-cli" in done.stdout
    assert "trained on data erased" in hibachi("lineage", "model", "v-cli", "--database-url", db_url).stdout

    retention = hibachi("data", "retention", "--days", "1", "--dry-run", "--database-url", db_url)
    assert retention.returncode == 0 and "would delete: 0 chat messages" in retention.stdout
    off = hibachi("data", "retention", "--dry-run", "--database-url", db_url)
    assert off.returncode == 2 and "retention is off" in off.stderr
    assert "synth" in hibachi("data", "--help").stdout

    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        assert session.scalar(select(TrainingSignal.id)) is None
        assert session.scalars(select(Erasure.actor)).all() == ["dpo@shop"]
    engine.dispose()
