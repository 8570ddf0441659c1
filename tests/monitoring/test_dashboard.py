from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from monitoring_rows import NOW, local_turn, shadow, state

from hibachi.db import make_engine, session_factory
from hibachi.monitoring.dashboard_data import gather
from hibachi.records import ModelVersion

pytestmark = pytest.mark.storage


def _fill(session, *, with_rollout=True):
    for i in range(10):  # 10 teacher turns, 6 booked (quality examples), cost 0.004 each
        local_turn(session, None, teacher_served=True, booked=i < 6, when=NOW - timedelta(days=2, hours=i))
    for i in range(8):  # 8 turns routed to the local canary: 6 served, 2 fell back to the teacher
        local_turn(session, "v2", passed=i >= 2, hallucinated=i < 2, when=NOW - timedelta(hours=i + 1))
    for i in range(4):
        shadow(session, "v2", similarity=0.9 if i else 0.3, hallucinated=i == 0, passed=i != 0,
               when=NOW - timedelta(hours=3))
    session.add(ModelVersion(id="v2", base_model="tiny", adapter_uri="file:///a", dataset_sha256="ab" * 32,
                             gate_passed=True, gate_reason="accuracy 0.91 >= 0.85", created_at=NOW - timedelta(days=1)))
    if with_rollout:
        state(session, stable="v1", canary="v2", percent=10)
    session.commit()


def test_gather_counts_stage_quality_shadow_traffic_and_cost(db, settings):
    _, sessions = db
    with sessions() as session:
        _fill(session)
        d = gather(session, settings, timedelta(days=30), now=NOW)
    assert d.progression.stage == "canary at 10% (v2)"
    assert d.canary.action == "hold" and "too few samples" in d.canary.reason
    assert d.progression.quality_examples == 6 and d.progression.target == 1000
    assert d.progression.training_runs[0]["id"] == "v2" and d.progression.training_runs[0]["gate_passed"]
    assert d.traffic == {"teacher": 14, "local": 6, "fallback": 2} and d.fallbacks == 2
    assert dict(d.data_quality)["captured"] == 22 and dict(d.data_quality)["quality examples"] == 6
    local = next(r for r in d.shadow_rows if r["who"] == "local v2")
    assert local == {"who": "local v2", "n": 4, "accuracy": 0.75, "hallucination": 0.25, "non_answer": 0.0,
                     "business_logic": 0.75}
    teacher = d.shadow_rows[0]
    assert teacher["who"] == "teacher (reference)" and teacher["n"] == 14 and teacher["hallucination"] == 0.0
    cost = d.cost
    assert cost["chats"] == 22 and cost["hosted_cost_per_chat"] == pytest.approx(0.004)
    assert cost["cost_per_chat"] == pytest.approx(16 * 0.004 / 22)
    assert cost["monthly_savings"] == pytest.approx((0.004 - 16 * 0.004 / 22) * cost["chats_per_day"] * 30)


def test_stage_before_any_rollout(db, settings):
    _, sessions = db
    with sessions() as session:
        empty = gather(session, settings, now=NOW).progression
        assert (empty.stage, empty.tone) == ("collecting quality examples", "waiting")
        _fill(session, with_rollout=False)
        trained = gather(session, settings, now=NOW).progression
        assert (trained.stage, trained.tone) == ("trained, passed the gate, not yet deployed (v2)", "progress")


@pytest.mark.parametrize(("gate_passed", "stage", "tone"), [
    (False, "refused by the gate (v3); nothing deployed, collecting quality examples", "problem"),
    (None, "trained, evaluation pending (v3)", "waiting"),
    (True, "trained, passed the gate, not yet deployed (v3)", "progress"),
])
def test_stage_follows_the_gate_of_the_newest_version(db, settings, gate_passed, stage, tone):
    _, sessions = db
    with sessions() as session:
        session.add(ModelVersion(id="v3", base_model="tiny", adapter_uri="file:///a", dataset_sha256="cd" * 32,
                                 gate_passed=gate_passed, gate_reason="hallucination 0.20 > 0.05",
                                 created_at=NOW - timedelta(hours=1)))
        session.commit()
        progression = gather(session, settings, now=NOW).progression
    assert (progression.stage, progression.tone) == (stage, tone)


def test_a_rolled_back_stage_is_a_problem(db, settings):
    _, sessions = db
    with sessions() as session:
        _fill(session, with_rollout=False)
        state(session, stable="v1", canary=None, percent=0, stage="rolled_back")
        session.commit()
        progression = gather(session, settings, now=NOW).progression
    assert (progression.stage, progression.tone) == ("rolled back to the teacher/stable", "problem")


class _Critic:
    def evaluate(self, prompt, response):
        raise AssertionError("the dashboard never calls the critic")


class _Retriever:
    def top(self, question, k=3):
        return []

    def system_prompt(self, question):
        return ""

    def topic(self, question):
        return None


@pytest.fixture
def empty_client(settings):
    from gateway.app import create_app

    with TestClient(create_app(settings, critic=_Critic(), retriever=_Retriever())) as test_client:
        yield test_client


@pytest.fixture
def client(empty_client, settings):
    engine = make_engine(settings.database_url)
    with session_factory(engine)() as session:
        _fill(session)
    engine.dispose()
    return empty_client


def test_admin_page_of_an_empty_database(empty_client):
    page = empty_client.get("/admin", headers={"Authorization": "Bearer dev-admin-key"})
    assert page.status_code == 200
    assert 'id="stage-name">collecting quality examples<' in page.text and "0 / 1,000 (0%)" in page.text
    assert "No answers in this window." in page.text and "No training runs yet." in page.text


def test_admin_page_sends_a_browser_to_the_login_form_and_refuses_wrong_keys(client):
    redirect = client.get("/admin?days=7", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"] == "/admin/login?next=%2Fadmin%3Fdays%3D7"
    assert client.get("/admin", headers={"Authorization": "Bearer dev-customer-key"}).status_code == 403
    assert client.get("/admin", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/admin/reports/x.html", follow_redirects=False).status_code == 303


def test_admin_page_renders_stage_shadow_table_charts_and_reports(client, settings):
    from hibachi.monitoring.data_quality import data_report

    export = settings.data_dir / "export.jsonl"
    export.parent.mkdir(parents=True, exist_ok=True)
    export.write_text('{"messages": [{"role": "user", "content": "hi?"}, {"role": "assistant", "content": "ok"}]}\n')
    saved = data_report(export, settings)
    admin = {"Authorization": "Bearer dev-admin-key"}
    page = client.get("/admin?days=30", headers=admin)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert 'id="stage-name">canary at 10% (v2)<' in html and 'id="rollout-percent">10%<' in html
    assert '<table id="shadow-table">' in html and "<td>local v2</td>" in html and ">75.0%<" in html
    assert html.count('<svg class="chart"') == 5 and 'class="bar"' in html
    assert "accuracy 0.91 &gt;= 0.85" in html
    assert "Gateway policy now: <b>teacher</b>" in html
    assert '<p id="canary-analysis">' in html and "too few samples" in html
    name = saved.html_path.rsplit("/", 1)[-1]
    assert f'href="/admin/reports/{name}"' in html
    report = client.get(f"/admin/reports/{name}", headers=admin)
    assert report.status_code == 200 and 'id="hibachi-summary"' in report.text
    assert client.get("/admin/reports/..%2Fhibachi.db", headers=admin).status_code == 404
    assert client.get("/admin/reports/nope.html", headers=admin).status_code == 404
    assert client.get("/admin?days=0", headers=admin).status_code == 422
