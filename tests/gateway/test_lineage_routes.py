"""Admin lineage and erasure routes: ok / unauthorized / forbidden / not-found / bad input, and the audit trail."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest
from gateway_harness import ADMIN, CUSTOMER, chat, provider, state_of, wait_stored
from sqlalchemy import select

from hibachi.lineage import record_export_signals, record_lineage
from hibachi.monitoring.dashboard_data import gather
from hibachi.records import ChatSession, DeploymentState, Erasure, ExportRun, ModelVersion, TrainingSignal


@pytest.fixture
def gateway(sim, make_settings, start_gateway):
    return start_gateway(make_settings([provider(sim, "openai")], gateway={"rate_limit_per_minute": 1000}))


def _lineage_fixture(server) -> str:
    """A customer who chatted through the gateway, an export holding their signal and a serving version."""
    assert chat(server, "My email is kim@example.net, how much per adult?", user="kim-session-01").status_code == 200
    wait_stored(server)
    with state_of(server).sessions() as session:
        signal_id = session.scalar(select(TrainingSignal.id).where(TrainingSignal.session_id == "kim-session-01"))
        session.add(ExportRun(window_end=datetime.now(UTC), rows=1,
                              dataset_sha256="e" * 64, path="/x.jsonl"))
        record_export_signals(session, "e" * 64, [signal_id])
        session.add(ModelVersion(id="v-gw", base_model="b", adapter_uri="/a", dataset_sha256="t" * 64,
                                 gate_passed=True, gate_reason="candidate beats the gate"))
        session.flush()
        record_lineage(session, "v-gw", train_sha256="t" * 64, export_sha256="e" * 64, pipeline_run="run-gw")
        session.add(DeploymentState(isvc_name=state_of(server).settings.rollout.isvc_name, stable_version="v-gw",
                                    stage="stable", action="promote", actor="t", reason="r"))
        session.commit()
    return signal_id


def test_lineage_and_erasure_need_an_admin_key(gateway):
    for method, path in (("GET", "/admin/api/lineage/models/v1"), ("GET", "/admin/api/lineage/signals/s1"),
                         ("POST", "/admin/api/erasures"), ("GET", "/admin/api/erasures")):
        assert httpx.request(method, f"{gateway.url}{path}", json={}, timeout=10).status_code == 401
        assert httpx.request(method, f"{gateway.url}{path}", headers=CUSTOMER, json={},
                             timeout=10).status_code == 403


def test_lineage_reads_and_not_found(gateway):
    signal_id = _lineage_fixture(gateway)
    model = httpx.get(f"{gateway.url}/admin/api/lineage/models/v-gw", headers=ADMIN, timeout=10)
    assert model.status_code == 200
    assert model.json()["export_sha256"] == "e" * 64 and model.json()["pipeline_run"] == "run-gw"
    assert httpx.get(f"{gateway.url}/admin/api/lineage/models/nope", headers=ADMIN, timeout=10).status_code == 404
    used = httpx.get(f"{gateway.url}/admin/api/lineage/signals/{signal_id}", headers=ADMIN, timeout=10).json()
    assert used["model_versions"] == ["v-gw"]
    with state_of(gateway).sessions() as session:  # the dashboard shows the serving version's lineage
        shown = gather(session, state_of(gateway).settings).lineage
    assert shown["version"] == "v-gw" and shown["pipeline_run"] == "run-gw"
    page = httpx.get(f"{gateway.url}/admin", headers=ADMIN, timeout=30)
    assert page.status_code == 200 and 'id="lineage-table"' in page.text and "run-gw" in page.text


def test_erasure_by_email_is_recorded_with_the_admin_and_logged(gateway, caplog):
    _lineage_fixture(gateway)
    url = f"{gateway.url}/admin/api/erasures"
    assert httpx.post(url, headers=ADMIN, json={}, timeout=10).status_code == 422
    assert httpx.post(url, headers=ADMIN, json={"email": "not-an-email"}, timeout=10).status_code == 422
    assert httpx.post(url, headers=ADMIN, json={"session_id": "nobody"}, timeout=10).status_code == 404
    with caplog.at_level(logging.INFO, logger="gateway.lineage"):
        done = httpx.post(url, headers=ADMIN, json={"email": "KIM@example.net", "reason": "ticket 12"}, timeout=30)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["rows"]["training_signals"] == 1 and body["model_versions"] == ["v-gw"]
    assert any(r.getMessage() == "customer erased" for r in caplog.records)
    with state_of(gateway).sessions() as session:
        assert session.get(ChatSession, "kim-session-01") is None
        record = session.scalars(select(Erasure)).one()
        assert record.actor.startswith("admin:") and record.selector == "email"
    log = httpx.get(url, headers=ADMIN, timeout=10).json()
    assert log[0]["id"] == body["erasure_id"] and "kim" not in str(log)
    lineage = httpx.get(f"{gateway.url}/admin/api/lineage/models/v-gw", headers=ADMIN, timeout=10).json()
    assert lineage["trained_on_erased_data"]
