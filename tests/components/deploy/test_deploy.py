"""Deploy: only a passed gate deploys, once; a refused gate deploys nothing and says why."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from components.deploy.deploy import deploy_version
from hibachi.errors import UserError
from hibachi.records import DeploymentState, ModelVersion
from hibachi.settings import Settings

pytestmark = pytest.mark.storage


def _version(factory, version_id, passed, tmp_path):
    adapter = tmp_path / version_id
    adapter.mkdir()
    with factory() as session:
        session.add(ModelVersion(id=version_id, base_model="tiny", adapter_uri=str(adapter), dataset_sha256="ab" * 32,
                                 gate_passed=passed, gate_reason="passed: ok" if passed else "refused: accuracy 0.1"))
        session.commit()


def _states(factory):
    with factory() as session:
        return session.scalar(select(func.count()).select_from(DeploymentState))


def test_refused_gate_deploys_nothing(db, tmp_path):
    engine, factory = db
    _version(factory, "v-bad", False, tmp_path)
    result = deploy_version(engine, "v-bad", tmp_path / "out", settings=Settings(data_dir=tmp_path / "var"))
    assert not result.deployed and result.reason == "not deployed: gate refused: accuracy 0.1"
    assert _states(factory) == 0
    assert '"deployed": false' in (tmp_path / "out" / "deploy.json").read_text()


def test_passed_gate_enters_as_shadow_once(db, tmp_path):
    engine, factory = db
    settings = Settings(data_dir=tmp_path / "var")
    _version(factory, "v-good", True, tmp_path)
    first = deploy_version(engine, "v-good", settings=settings)
    assert first.deployed and first.stage == "shadow" and first.canary_percent == 0
    again = deploy_version(engine, "v-good", settings=settings)
    assert not again.deployed and again.reason.startswith("already deployed")
    assert _states(factory) == 1


def test_canary_entry_at_configured_percent(db, tmp_path):
    engine, factory = db
    settings = Settings(data_dir=tmp_path / "var", rollout={"entry": "canary", "entry_percent": 10})
    _version(factory, "v-c", True, tmp_path)
    result = deploy_version(engine, "v-c", settings=settings)
    assert result.deployed and (result.stage, result.canary_percent) == ("canary", 10)
    _version(factory, "v-d", True, tmp_path)
    blocked = deploy_version(engine, "v-d", settings=settings)
    assert not blocked.deployed and "already has canary v-c" in blocked.reason


def test_unknown_version_is_a_clear_error(db, tmp_path):
    engine, _ = db
    with pytest.raises(UserError, match="model version 'nope' is not recorded"):
        deploy_version(engine, "nope", settings=Settings(data_dir=tmp_path / "var"))
