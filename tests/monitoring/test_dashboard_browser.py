"""/admin in headless Chromium against a gateway served by uvicorn on a free port, with a filled database.

The browser gets in the way an owner does: /admin sends it to the login form, a wrong key is refused
there, the admin key opens the dashboard through a session cookie, and logging out ends it.
"""

from __future__ import annotations

import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from monitoring_rows import local_turn, shadow, state

from devkit.processes import free_port
from hibachi.db import make_engine, session_factory, upgrade
from hibachi.records import ModelVersion
from hibachi.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                               "(apt-get install -y chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _critic():
    from hibachi.critic import get_critic

    return get_critic()


def fill_with_traffic(settings: Settings) -> None:
    """A week of synthetic teacher traffic (devkit.synth), then a canary with fallbacks and shadow comparisons."""
    from devkit.synth.generator import SynthConfig, generate_traffic
    from devkit.synth.load import load_traffic

    engine = make_engine(settings.database_url)
    upgrade(engine)
    now = datetime.now(UTC)
    with session_factory(engine)() as session:
        stats = load_traffic(session, generate_traffic(SynthConfig(conversations=80, days=7, seed=3)), _critic(),
                             teachers=settings.teachers, now=now)
        assert stats.signals >= 80
        for i in range(30):
            local_turn(session, "v2", passed=i % 6 != 0, hallucinated=i % 12 == 0, booked=i % 2 == 0,
                       when=now - timedelta(hours=i + 1))
        for i in range(20):
            shadow(session, "v2", similarity=0.9 if i % 5 else 0.4, hallucinated=i % 10 == 0,
                   when=now - timedelta(hours=i + 1))
        session.add(ModelVersion(id="v2", base_model="tiny", adapter_uri="file:///adapters/v2",
                                 dataset_sha256="cd" * 32, gate_passed=True, gate_reason="all gate metrics met"))
        state(session, stable="v1", canary="v2", percent=10)
        session.commit()
    engine.dispose()


class _Stub:
    def evaluate(self, prompt, response):
        raise AssertionError("not used by the dashboard")

    def top(self, question, k=3):
        return []

    def system_prompt(self, question):
        return ""

    def topic(self, question):
        return None


@pytest.fixture
def gateway_url(tmp_path):
    from gateway.app import create_app

    settings = Settings(data_dir=tmp_path / "var")
    fill_with_traffic(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, critic=_Stub(), retriever=_Stub()), host="127.0.0.1",
                                           port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "gateway did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


def _log_in(page, key: str):
    with page.expect_navigation():
        page.fill("#key", key)
        page.click("#login-submit")


def test_admin_dashboard_in_headless_chromium(gateway_url, tmp_path):
    from playwright.sync_api import sync_playwright

    shot = tmp_path / "admin.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS[1:])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 2000})
            page = context.new_page()
            response = page.goto(f"{gateway_url}/admin?days=30")
            assert response.status == 200 and page.url == f"{gateway_url}/admin/login?next=%2Fadmin%3Fdays%3D30"
            assert page.locator("#key").get_attribute("type") == "password"

            _log_in(page, "not-the-admin-key")
            assert "That is not an admin key." in page.inner_text("#login-error")
            assert page.url == f"{gateway_url}/admin/login" and context.cookies() == []

            _log_in(page, "dev-admin-key")
            assert page.url == f"{gateway_url}/admin?days=30"
            [cookie] = context.cookies()
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > time.time()
            assert page.evaluate("document.cookie") == ""  # HttpOnly: no script on the page can read it
            assert page.inner_text("#stage-name") == "canary at 10% (v2)"
            assert "progress" in page.get_attribute("#stage-name", "class")
            assert page.inner_text("#rollout-percent") == "10%"
            assert "Canary analysis" in page.inner_text("#canary-analysis")
            rows = page.locator("#shadow-table tr")
            assert rows.count() == 3  # header, teacher reference, local v2
            assert "local v2" in rows.nth(2).inner_text() and "20" in rows.nth(2).inner_text()
            assert page.locator("svg.chart").count() == 5
            assert page.locator("svg.chart rect.bar").count() > 10
            assert page.locator("#training-runs").inner_text().count("v2") >= 1
            page.screenshot(path=str(shot), full_page=True)

            # A change from the page's own script with its CSRF token goes through; without it, it does not.
            put = """async (token) => (await fetch('/admin/api/traffic', {method: 'PUT',
                headers: {'Content-Type': 'application/json', ...(token ? {'X-CSRF-Token': token} : {})},
                body: JSON.stringify({policy: 'teacher', reason: 'from the dashboard'})})).status"""
            token = page.get_attribute("meta[name=csrf-token]", "content")
            assert page.evaluate(put, None) == 403 and page.evaluate(put, token) == 200

            with page.expect_navigation():
                page.click("#logout button")
            assert page.url == f"{gateway_url}/admin/login" and context.cookies() == []
            assert page.goto(f"{gateway_url}/admin").url.startswith(f"{gateway_url}/admin/login")
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    keep = Path("var/screenshots")
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, keep / "admin-dashboard.png")
