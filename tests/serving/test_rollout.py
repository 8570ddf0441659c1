"""Rollout: deploy / set / promote / rollback with recorded history, KServe semantics, and refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from hibachi.errors import UserError
from hibachi.records import DeploymentState, ModelVersion, TrafficPolicyChange
from hibachi.settings import Settings
from serving import rollout

pytestmark = pytest.mark.storage
ISVC = "hibachi-llama"


@pytest.fixture
def rollout_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", serving={"manifests_dir": str(tmp_path / "manifests")})


@pytest.fixture
def session(db):
    _engine, factory = db
    with factory() as session:
        for version, gate in (("v1", True), ("v2", True), ("v3", None), ("bad", False)):
            session.add(ModelVersion(id=version, base_model="tiny", adapter_uri=f"pvc://models/adapters/{version}",
                                     dataset_sha256="0" * 64, gate_passed=gate,
                                     gate_reason=None if gate is not False else "hallucination 0.12 > 0.05"))
        session.commit()
        yield session


def live(settings: Settings) -> dict:
    path = settings.serving.manifests_dir / "live" / ISVC / "inferenceservice.yaml"
    return yaml.safe_load(path.read_text())


def served(settings: Settings) -> tuple[str, int | None]:
    predictor = live(settings)["spec"]["predictor"]
    args = predictor["model"]["args"]
    return args[args.index("--adapter-name") + 1], predictor.get("canaryTrafficPercent")


def test_full_rollout_history_and_rollback_restores_previous_stable(session, rollout_settings) -> None:
    s = rollout_settings
    first = rollout.deploy(session, ISVC, "v1", actor="ana", reason="first adapter", settings=s)
    assert (first.state.stable_version, first.state.canary_version, first.state.stage) == (None, "v1", "shadow")
    rollout.promote(session, ISVC, actor="ana", reason="looks fine", settings=s)
    assert served(s) == ("v1", None)
    result = rollout.deploy(session, ISVC, "v2", entry="shadow", actor="bo", reason="retrained", settings=s)
    assert served(s) == ("v2", 0) and result.state.stable_version == "v1"
    assert "kubectl patch inferenceservice hibachi-llama -n hibachi --type merge" in result.kubectl
    for percent in (10, 50, 90):
        step = rollout.set_percent(session, ISVC, percent, actor="bo", reason=f"step {percent}", settings=s)
        assert served(s) == ("v2", percent) and step.state.stage == "canary"
        assert f'"canaryTrafficPercent": {percent}' in step.kubectl
    promoted = rollout.promote(session, ISVC, actor="bo", reason="metrics ok", settings=s)
    assert (promoted.state.stable_version, promoted.state.canary_version) == ("v2", None)
    assert served(s) == ("v2", None)  # promotion removes canaryTrafficPercent
    assert '"canaryTrafficPercent": null' in promoted.kubectl
    back = rollout.rollback(session, ISVC, actor="cy", reason="customers complain", settings=s)
    assert (back.state.stable_version, back.state.stage) == ("v1", "rolled_back")
    assert served(s) == ("v1", None)  # the previous stable adapter is back, in one step

    history = rollout.history(session, ISVC, limit=20)
    assert [h.action for h in reversed(history)] == ["deploy", "promote", "deploy", "set", "set", "set", "promote",
                                                     "rollback"]
    assert [h.actor for h in history[:2]] == ["cy", "bo"] and history[0].reason == "customers complain"
    assert all(newer.previous_id == older.id for newer, older in zip(history, history[1:], strict=False))
    assert rollout.status(session, ISVC).id == back.state.id


def test_rollback_during_canary_pins_stable_with_zero_percent(session, rollout_settings) -> None:
    s = rollout_settings
    rollout.deploy(session, ISVC, "v1", actor="a", reason="r", settings=s)
    rollout.promote(session, ISVC, actor="a", reason="r", settings=s)
    rollout.deploy(session, ISVC, "v2", entry="canary", percent=50, actor="a", reason="r", settings=s)
    assert served(s) == ("v2", 50)
    back = rollout.rollback(session, ISVC, actor="analysis", reason="hallucinations up", settings=s)
    assert (back.state.stable_version, back.state.canary_version, back.state.canary_percent) == ("v1", None, 0)
    assert served(s) == ("v1", 0)
    # Another version can enter after a rollback.
    assert rollout.deploy(session, ISVC, "v3", actor="a", reason="r", settings=s).state.canary_version == "v3"


def test_invalid_requests_are_refused_and_change_nothing(session, rollout_settings) -> None:
    s = rollout_settings
    with pytest.raises(UserError, match="no rollout"):
        rollout.set_percent(session, ISVC, 10, actor="a", reason="r", settings=s)
    rollout.deploy(session, ISVC, "v1", actor="a", reason="r", settings=s)
    rollout.promote(session, ISVC, actor="a", reason="r", settings=s)
    rollout.deploy(session, ISVC, "v2", entry="canary", percent=10, actor="a", reason="r", settings=s)
    rows = session.scalar(select(func.count()).select_from(DeploymentState))
    manifest = (s.serving.manifests_dir / "live" / ISVC / "inferenceservice.yaml").read_text()
    refusals = [
        (lambda: rollout.set_percent(session, ISVC, 101, actor="a", reason="r", settings=s), "0-100"),
        (lambda: rollout.set_percent(session, ISVC, -5, actor="a", reason="r", settings=s), "0-100"),
        (lambda: rollout.deploy(session, ISVC, "v3", actor="a", reason="r", settings=s), "already has canary"),
        (lambda: rollout.deploy(session, "other", "nope", actor="a", reason="r", settings=s), "unknown adapter"),
        (lambda: rollout.deploy(session, "other", "bad", actor="a", reason="r", settings=s), "evaluation gate"),
        (lambda: rollout.deploy(session, "other", "v1", adapter_uri="s3://elsewhere", actor="a", reason="r",
                                settings=s), "registered with adapter"),
        (lambda: rollout.set_percent(session, ISVC, 20, actor=" ", reason="r", settings=s), "actor"),
        (lambda: rollout.promote(session, "other", actor="a", reason="r", settings=s), "no rollout"),
        (lambda: rollout.deploy(session, "../../escaped Name_X", "v3", actor="a", reason="r", settings=s),
         "name .* is not valid"),
        (lambda: rollout.deploy(session, "other", "v3", entry="shadow", percent=50, actor="a", reason="r",
                                settings=s), "shadow entry serves no customers"),
    ]
    for call, message in refusals:
        with pytest.raises(UserError, match=message):
            call()
    assert session.scalar(select(func.count()).select_from(DeploymentState)) == rows
    assert (s.serving.manifests_dir / "live" / ISVC / "inferenceservice.yaml").read_text() == manifest
    rollout.promote(session, ISVC, actor="a", reason="r", settings=s)
    with pytest.raises(UserError, match="no canary to promote"):
        rollout.promote(session, ISVC, actor="a", reason="r", settings=s)


def test_first_adapter_rolled_back_leaves_no_local_model_serving(session, rollout_settings) -> None:
    s = rollout_settings
    rollout.deploy(session, ISVC, "v1", entry="canary", percent=10, actor="a", reason="r", settings=s)
    back = rollout.rollback(session, ISVC, actor="analysis", reason="worse than the teacher", settings=s)
    state = back.state
    assert (state.stable_version, state.canary_version, state.canary_percent, state.stage) == \
        (None, None, 0, "rolled_back")
    assert served(s) == ("v1", 0)
    with pytest.raises(UserError, match="no canary to promote"):
        rollout.promote(session, ISVC, actor="a", reason="r", settings=s)
    with pytest.raises(UserError, match="already rolled back"):
        rollout.rollback(session, ISVC, actor="a", reason="r", settings=s)


def test_a_repeated_rollback_is_refused_instead_of_undoing_the_first(session, rollout_settings) -> None:
    s = rollout_settings
    for version in ("v1", "v2"):
        rollout.deploy(session, ISVC, version, entry="canary", percent=10, actor="a", reason="r", settings=s)
        rollout.promote(session, ISVC, actor="a", reason="r", settings=s)
    rollout.rollback(session, ISVC, actor="oncall", reason="v2 quotes wrong prices", settings=s)
    assert served(s) == ("v1", None)
    with pytest.raises(UserError, match="already rolled back .*v2 quotes wrong prices"):
        rollout.rollback(session, ISVC, actor="oncall", reason="retry", settings=s)
    assert served(s) == ("v1", None) and rollout.status(session, ISVC).stable_version == "v1"


def test_a_change_recorded_meanwhile_is_refused_and_nothing_is_served_differently(session, rollout_settings) -> None:
    """Two commands read the same state; the second to record is refused instead of forking the history."""
    s = rollout_settings
    rollout.deploy(session, ISVC, "v1", entry="canary", percent=10, actor="a", reason="r", settings=s)
    stale = rollout.status(session, ISVC)
    rollout.set_percent(session, ISVC, 50, actor="cron", reason="next step", settings=s)
    manifest = (s.serving.manifests_dir / "live" / ISVC / "inferenceservice.yaml").read_text()
    with pytest.raises(UserError, match="changed while this command ran .*#2 set by cron"):
        rollout._change(session, s, ISVC, stale, "v1", 0, stable=None, canary=None, percent=0,
                        stage="rolled_back", action="rollback", actor="oncall", reason="bad")
    assert session.scalar(select(func.count()).select_from(DeploymentState)) == 2
    assert (s.serving.manifests_dir / "live" / ISVC / "inferenceservice.yaml").read_text() == manifest


def test_a_record_that_cannot_be_written_leaves_what_is_served_unchanged(session, rollout_settings,
                                                                         monkeypatch) -> None:
    """A locked or unreachable database stops the change before the manifest (or the cluster) is touched."""
    from sqlalchemy.exc import OperationalError

    s = rollout_settings
    rollout.deploy(session, ISVC, "v1", entry="canary", percent=10, actor="a", reason="r", settings=s)
    manifest = (s.serving.manifests_dir / "live" / ISVC / "inferenceservice.yaml").read_text()

    def locked(*_args, **_kwargs):
        raise OperationalError("INSERT INTO deployment_states", {}, Exception("database is locked"))

    monkeypatch.setattr(session, "flush", locked)
    with pytest.raises(OperationalError):
        rollout.set_percent(session, ISVC, 90, actor="a", reason="r", settings=s)
    monkeypatch.undo()
    assert (s.serving.manifests_dir / "live" / ISVC / "inferenceservice.yaml").read_text() == manifest
    assert rollout.status(session, ISVC).canary_percent == 10


def _gateway_policies(session) -> list[tuple[str, float, str]]:
    rows = session.scalars(select(TrafficPolicyChange).order_by(TrafficPolicyChange.id)).all()
    return [(r.policy, r.split_percent, r.actor) for r in rows]


def test_the_gateway_traffic_policy_follows_the_students_rollout(session, rollout_settings) -> None:
    """Whoever runs a step (an operator, the monitoring pipeline), every gateway replica follows it: the policy is
    recorded with the step. Before the first promotion the gateway splits teacher/student; after it KServe splits
    the student's calls between revisions and the gateway sends every customer to the student."""
    s = rollout_settings
    rollout.deploy(session, ISVC, "v1", actor="ana", reason="first", settings=s)
    rollout.set_percent(session, ISVC, 10, actor="ana", reason="step", settings=s)
    rollout.promote(session, ISVC, actor="ana", reason="good", settings=s)
    rollout.deploy(session, ISVC, "v2", entry="canary", percent=10, actor="bo", reason="second", settings=s)
    rollout.rollback(session, ISVC, actor="bo", reason="worse", settings=s)
    assert _gateway_policies(session) == [("shadow", 0.0, "ana (hibachi rollout #1)"),
                                          ("split", 10.0, "ana (hibachi rollout #2)"),
                                          ("split", 100.0, "ana (hibachi rollout #3)")]  # v1 stays stable after
    rollout.deploy(session, "drill", "v3", entry="canary", percent=10, actor="a", reason="r", settings=s)
    assert len(_gateway_policies(session)) == 3  # not the student's InferenceService


def test_a_first_adapter_rolled_back_returns_customers_to_the_teachers(session, rollout_settings) -> None:
    s = rollout_settings
    rollout.deploy(session, ISVC, "v1", entry="canary", percent=10, actor="a", reason="r", settings=s)
    rollout.rollback(session, ISVC, actor="analysis", reason="worse", settings=s)
    assert [p[:2] for p in _gateway_policies(session)] == [("split", 10.0), ("teacher", 0.0)]


def test_the_gateway_policy_is_left_alone_when_told_to(session, tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "var", serving={"manifests_dir": str(tmp_path / "manifests")},
                 rollout={"gateway_follows": False})
    rollout.deploy(session, ISVC, "v1", entry="canary", percent=10, actor="a", reason="r", settings=s)
    assert _gateway_policies(session) == []


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch, as the API server applies it (null removes a field)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class RecordingApi:
    """CustomObjectsApi with one stored object: get returns it, patch merges and records the call.
    (tests/cluster runs the same path against a real API server.)"""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.obj: dict = {"metadata": {"resourceVersion": "1"}, "spec": {"predictor": {}}}

    def get_namespaced_custom_object(self, group, version, namespace, plural, name, **_options):
        return self.obj

    def patch_namespaced_custom_object(self, group, version, namespace, plural, name, body, **options):
        assert options["field_manager"] == "hibachi-rollout"
        assert body["metadata"]["resourceVersion"] == self.obj["metadata"]["resourceVersion"]  # the precondition
        self.calls.append((group, version, namespace, plural, name, body))
        self.obj = merge_patch(self.obj, body)
        self.obj["metadata"]["resourceVersion"] = str(len(self.calls) + 1)
        return self.obj


def test_cluster_mode_patches_through_the_kubernetes_client(session, tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "var", rollout={"use_cluster": True, "variant": "vllm"},
                 serving={"manifests_dir": str(tmp_path / "manifests")})
    api = RecordingApi()
    rollout.deploy(session, ISVC, "v1", actor="a", reason="r", settings=s, api=api)
    rollout.promote(session, ISVC, actor="a", reason="r", settings=s, api=api)
    rollout.deploy(session, ISVC, "v2", entry="canary", percent=10, actor="a", reason="r", settings=s, api=api)
    rollout.rollback(session, ISVC, actor="a", reason="r", settings=s, api=api)
    assert [c[:5] for c in api.calls] == [("serving.kserve.io", "v1beta1", "hibachi", "inferenceservices", ISVC)] * 4
    bodies = [c[5]["spec"]["predictor"] for c in api.calls]
    assert [b["canaryTrafficPercent"] for b in bodies] == [0, None, 10, 0]
    assert "v2=/mnt/adapters/v2" in bodies[2]["model"]["args"] and "--enable-lora" in bodies[2]["model"]["args"]
    assert "v1=/mnt/adapters/v1" in bodies[3]["model"]["args"]
    assert api.obj["metadata"]["labels"]["hibachi.io/adapter-version"] == "v1"  # what the record says is served
    assert api.obj["spec"]["predictor"]["canaryTrafficPercent"] == 0
    assert not (tmp_path / "manifests").exists()  # cluster mode writes no files


def test_live_manifest_renders_and_validates(session, rollout_settings) -> None:
    from test_manifests import assert_valid, kustomize

    rollout.deploy(session, ISVC, "v1", entry="canary", percent=10, actor="a", reason="r", settings=rollout_settings)
    (isvc,) = kustomize(rollout_settings.serving.manifests_dir / "live" / ISVC)
    assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert_valid(isvc)


def test_cli_prints_state_and_kubectl_and_refuses_bad_percent(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the CLI run once is enough; the storage paths are covered above on both databases")
    from hibachi.db import make_engine, session_factory, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        session.add(ModelVersion(id="v1", base_model="tiny", adapter_uri="pvc://m/v1", dataset_sha256="0" * 64))
        session.commit()
    engine.dispose()
    env = {**os.environ, "HIBACHI_DATABASE_URL": db_url, "HIBACHI_SERVING__MANIFESTS_DIR": str(tmp_path / "mf")}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hibachi_cli", "rollout", *args], capture_output=True,
                              text=True, env=env, timeout=120)

    deployed = cli("deploy", "--version", "v1", "--entry", "canary", "--percent", "10", "--actor", "dee",
                   "--reason", "try it")
    assert deployed.returncode == 0, deployed.stderr
    assert "canary v1 at 10%" in deployed.stdout and "kubectl patch inferenceservice" in deployed.stdout
    refused = cli("set", "--percent", "150", "--reason", "oops")
    assert refused.returncode == 2 and "0-100" in refused.stderr and "Traceback" not in refused.stderr
    status = cli("status")
    assert status.returncode == 0 and "by dee: try it" in status.stdout
    queries = cli("queries", "--window", "1h", "--json")  # the current canary's
    assert queries.returncode == 0, queries.stderr
    booking = json.loads(queries.stdout)["booking_loss_rate"]
    assert 'adapter_version="v1"' in booking and "[1h]" in booking
    listed = cli("queries", "--version", "v2")
    assert "# hallucination_rate\n" in listed.stdout and "# non_answer_rate: not from /metrics" in listed.stdout
    refused = cli("queries", "--version", 'v1"} or vector(1)')
    assert refused.returncode == 2 and "bad adapter version" in refused.stderr
