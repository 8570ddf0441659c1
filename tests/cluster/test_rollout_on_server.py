"""Cluster mode against a real API server: the rollout, the CLI and the deploy step move the
InferenceService through the kubernetes client as the deploy step's ServiceAccount, the record and
the server agree after every step; conflicts and an operator's kubectl change are handled; every
cluster error is one line and records nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kube_apiserver import NAMESPACE, OTHER_NAMESPACE
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from components.deploy.deploy import deploy_version
from hibachi.records import DeploymentState
from hibachi.settings import Settings
from serving import cluster as kube
from serving import rollout

pytestmark = pytest.mark.cluster
SEQUENCE = [("deploy", "v2", 0), ("set", "v2", 10), ("set", "v2", 50), ("set", "v2", 90), ("promote", "v2", None),
            ("rollback", "v1", None)]


def served(isvc: dict) -> tuple[str, int | None]:
    """The adapter the predictor is started with, and the canary share, as the server stores them."""
    predictor = isvc["spec"]["predictor"]
    args = predictor["model"]["args"]
    version = args[args.index("--adapter-name") + 1]
    assert {u["mountPath"] for u in predictor["storageUris"]} == {"/mnt/models", f"/mnt/adapters/{version}"}
    assert isvc["metadata"]["labels"]["hibachi.io/adapter-version"] == version
    return version, predictor.get("canaryTrafficPercent")


def recorded(state: DeploymentState) -> tuple[str | None, int | None]:
    return state.canary_version or state.stable_version, state.canary_percent


def rows(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(DeploymentState))


def step(session, name: str, action: str, version: str, percent, settings: Settings, api):
    options = {"actor": "ana", "reason": f"{action} {percent}", "settings": settings, "api": api}
    if action == "deploy":
        return rollout.deploy(session, name, version, entry="shadow" if not percent else "canary",
                              percent=percent or 0, **options)
    if action == "set":
        return rollout.set_percent(session, name, percent, **options)
    return {"promote": rollout.promote, "rollback": rollout.rollback}[action](session, name, **options)


def enter_v1(session, name: str, settings: Settings, api) -> None:
    """The history the sequence starts from: v1 entered and promoted (so rollback has a stable to return to)."""
    rollout.deploy(session, name, "v1", actor="ana", reason="first", settings=settings, api=api)
    rollout.promote(session, name, actor="ana", reason="first", settings=settings, api=api)


def test_rollout_as_the_deployer_keeps_record_and_server_in_step(cluster, engine, isvc_name, cluster_settings):
    cluster.create_isvc(isvc_name)
    api = kube.make_api(cluster.deployer_kubeconfig)
    with Session(engine) as session:
        enter_v1(session, isvc_name, cluster_settings, api)
        assert served(cluster.get_isvc(isvc_name)) == ("v1", None)
        for action, version, percent in SEQUENCE:
            result = step(session, isvc_name, action, version, percent, cluster_settings, api)
            on_server = served(cluster.get_isvc(isvc_name))
            assert on_server == (version, percent) == recorded(result.state), action
    managers = {e["manager"] for e in cluster.get_isvc(isvc_name)["metadata"]["managedFields"]}
    assert kube.FIELD_MANAGER in managers


def run_cli(monkeypatch, capsys, env: dict, *args: str) -> tuple[int, str, str]:
    """`hibachi rollout ARGS` through the real entry point (hibachi_cli.main), in this process."""
    import hibachi_cli
    from hibachi.settings import reset_settings_cache

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "argv", ["hibachi", "rollout", *args])
    reset_settings_cache()
    with pytest.raises(SystemExit) as exited:
        hibachi_cli.main()
    out = capsys.readouterr()
    return exited.value.code or 0, out.out, out.err


def cli_env(engine, isvc_name: str, kubeconfig: Path) -> dict:
    return {"HIBACHI_DATABASE_URL": str(engine.url), "HIBACHI_ROLLOUT__USE_CLUSTER": "true",
            "HIBACHI_ROLLOUT__ISVC_NAME": isvc_name, "HIBACHI_ROLLOUT__NAMESPACE": NAMESPACE,
            "KUBECONFIG": str(kubeconfig)}


def test_cli_drives_the_sequence_and_errors_are_one_line(cluster, engine, isvc_name, monkeypatch, capsys):
    cluster.create_isvc(isvc_name)
    env = cli_env(engine, isvc_name, cluster.deployer_kubeconfig)
    commands = [["deploy", "--version", "v1"], ["promote"], ["deploy", "--version", "v2"],
                *(["set", "--percent", str(p)] for p in (10, 50, 90)), ["promote"], ["rollback"]]
    expected = [("v1", 0), ("v1", None), ("v2", 0), ("v2", 10), ("v2", 50), ("v2", 90), ("v2", None), ("v1", None)]
    for command, want in zip(commands, expected, strict=True):
        code, out, err = run_cli(monkeypatch, capsys, env, *command, "--actor", "ops", "--reason", "cli")
        assert code == 0, err
        assert "# equivalent (cluster mode): kubectl patch inferenceservice" in out
        with Session(engine) as session:
            assert served(cluster.get_isvc(isvc_name)) == want == recorded(rollout.status(session, isvc_name))
    before = rows(engine)

    bad_token = cluster.write_kubeconfig("bad-token", "not-a-token")
    unreachable = cluster.write_kubeconfig("unreachable", "x", server="https://127.0.0.1:9")
    failures = {
        "missing": (env | {"HIBACHI_ROLLOUT__ISVC_NAME": "no-such-isvc"}, "not found"),
        "401": (env | {"KUBECONFIG": str(bad_token)}, "rejected the credentials (401 Unauthorized"),
        "unreachable": (env | {"KUBECONFIG": str(unreachable)}, "cannot reach the Kubernetes API server"),
        "no kubeconfig": (env | {"KUBECONFIG": str(cluster.server.rundir / "absent")}, "no cluster credentials"),
    }
    for case, (case_env, message) in failures.items():
        code, _out, err = run_cli(monkeypatch, capsys, case_env, "deploy", "--version", "v3", "--actor", "ops")
        assert code == 2 and err.startswith("error: ") and message in err, (case, err)
        assert err.count("\n") == 1 and "Traceback" not in err, (case, err)
    assert rows(engine) == before  # nothing recorded as done
    assert served(cluster.get_isvc(isvc_name)) == ("v1", None)

    code, out, _err = run_cli(monkeypatch, capsys, env, "status")
    assert code == 0 and f"cluster: InferenceService hibachi/{isvc_name} serves v1 at 100%" in out
    assert "as recorded" in out
    cluster.kubectl("patch", "inferenceservice", isvc_name, "-n", NAMESPACE, "--type", "merge",
                    "-p", '{"spec": {"predictor": {"canaryTrafficPercent": 0}}}')
    code, out, _err = run_cli(monkeypatch, capsys, env, "status")
    assert code == 0 and "serves v1 at 0%, but the record" in out and "changed outside hibachi by kubectl-patch" in out

    # Once as a separate process too, exactly as an operator runs it: exit code 2, one line, no traceback.
    process = subprocess.run([sys.executable, "-m", "hibachi_cli", "rollout", "set", "--percent", "10"],
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, **env, "HIBACHI_ROLLOUT__ISVC_NAME": isvc_name})
    assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr
    assert process.stderr.strip().startswith("error: ") and len(process.stderr.strip().splitlines()) == 1


def test_pipeline_deploy_step_enters_the_version_as_the_deployer(cluster, engine, isvc_name, cluster_settings,
                                                                 monkeypatch):
    cluster.create_isvc(isvc_name)
    monkeypatch.setenv("KUBECONFIG", str(cluster.deployer_kubeconfig))
    with Session(engine) as session:
        enter_v1(session, isvc_name, cluster_settings, kube.make_api())
    canary = cluster_settings.model_copy(update={"rollout": cluster_settings.rollout.model_copy(
        update={"entry": "canary", "entry_percent": 10})})
    result = deploy_version(engine, "v2", settings=canary)
    assert result.deployed and (result.stage, result.canary_percent) == ("canary", 10)
    assert served(cluster.get_isvc(isvc_name)) == ("v2", 10)
    again = deploy_version(engine, "v2", settings=canary)
    assert not again.deployed and again.reason.startswith("already deployed")
    with Session(engine) as session:  # the rest of the sequence, recorded against the same object
        for action, version, percent in SEQUENCE[2:]:
            state = step(session, isvc_name, action, version, percent, canary, None).state
            assert served(cluster.get_isvc(isvc_name)) == (version, percent) == recorded(state)

    monkeypatch.setenv("KUBECONFIG", str(cluster.write_kubeconfig("bad", "wrong-token")))
    before = rows(engine)
    with pytest.raises(kube.ClusterError, match="401 Unauthorized"):  # the step fails; it does not "skip"
        deploy_version(engine, "v3", settings=canary)
    assert rows(engine) == before


def test_the_deploy_component_fails_with_one_line_and_exit_code_2(cluster, engine, isvc_name, tmp_path, monkeypatch,
                                                                  capsys):
    """The KFP step's own function (what the container runs): a cluster error is its last word, exit code 2."""
    from kfp import dsl

    from components.deploy.component import deploy_op
    from hibachi.settings import reset_settings_cache

    cluster.create_isvc(isvc_name)
    for key, value in {"HIBACHI_ROLLOUT__USE_CLUSTER": "true", "HIBACHI_ROLLOUT__ISVC_NAME": isvc_name,
                       "HIBACHI_ROLLOUT__NAMESPACE": OTHER_NAMESPACE,  # where the deployer may not go
                       "KUBECONFIG": str(cluster.deployer_kubeconfig)}.items():
        monkeypatch.setenv(key, value)
    reset_settings_cache()
    evaluation = tmp_path / "evaluation"
    evaluation.mkdir()
    (evaluation / "evaluation.json").write_text('{"version_id": "v2"}')
    record = dsl.Artifact(uri=str(tmp_path / "record"))
    with pytest.raises(SystemExit) as exited:
        deploy_op.python_func(evaluation=dsl.Artifact(uri=str(evaluation)), record=record,
                              database_url=str(engine.url))
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.startswith("error: forbidden: ") and err.count("\n") == 1, err
    assert "cannot get resource \"inferenceservices\"" in err and rows(engine) == 0
    assert not (tmp_path / "record" / "deploy.json").exists()


def test_an_operators_kubectl_change_is_detected_not_overwritten(cluster, engine, isvc_name, cluster_settings):
    cluster.create_isvc(isvc_name)
    api = kube.make_api(cluster.deployer_kubeconfig)
    with Session(engine) as session:
        enter_v1(session, isvc_name, cluster_settings, api)
        rollout.deploy(session, isvc_name, "v2", entry="canary", percent=10, actor="a", reason="r",
                       settings=cluster_settings, api=api)
        cluster.kubectl("patch", "inferenceservice", isvc_name, "-n", NAMESPACE, "--type", "merge",
                        "-p", '{"spec": {"predictor": {"canaryTrafficPercent": 30}}}')
        before = rows(engine)
        with pytest.raises(kube.ClusterError) as refused:
            rollout.set_percent(session, isvc_name, 50, actor="a", reason="r", settings=cluster_settings, api=api)
        message = str(refused.value)
        assert "changed outside hibachi by kubectl-patch" in message and "serves v2 at 30%" in message
        assert "says v2 at 10%" in message and "hibachi rollout set --percent 30" in message
        assert "\n" not in message
        assert served(cluster.get_isvc(isvc_name)) == ("v2", 30) and rows(engine) == before  # not overwritten
        # Recording what the operator did is the way forward; then the rollout goes on.
        accepted = rollout.set_percent(session, isvc_name, 30, actor="a", reason="operator moved it",
                                       settings=cluster_settings, api=api)
        assert recorded(accepted.state) == ("v2", 30)
        moved = rollout.set_percent(session, isvc_name, 50, actor="a", reason="r", settings=cluster_settings, api=api)
        assert served(cluster.get_isvc(isvc_name)) == ("v2", 50) == recorded(moved.state)

        # An operator's rollback with the overlay's patch (another adapter) is refused the same way.
        cluster.kubectl("patch", "inferenceservice", isvc_name, "-n", NAMESPACE, "--type", "merge", "-p",
                        '{"metadata": {"labels": {"hibachi.io/adapter-version": "v1"}}}')
        with pytest.raises(kube.ClusterError, match="serves v1 at 50%.*record #"):
            rollout.promote(session, isvc_name, actor="a", reason="r", settings=cluster_settings, api=api)


class Interfering:
    """The deployer's API, with someone else writing the object between each read and patch."""

    def __init__(self, api, admin, name: str, change: dict, times: int) -> None:
        self.api, self.admin, self.name, self.change, self.times, self.patches = api, admin, name, change, times, 0

    def get_namespaced_custom_object(self, *args, **kwargs):
        return self.api.get_namespaced_custom_object(*args, **kwargs)

    def patch_namespaced_custom_object(self, *args, **kwargs):
        self.patches += 1
        if self.patches <= self.times:
            self.admin.patch_namespaced_custom_object(kube.GROUP, kube.VERSION, NAMESPACE, kube.PLURAL, self.name,
                                                      self.change(self.patches) if callable(self.change)
                                                      else self.change)
        return self.api.patch_namespaced_custom_object(*args, **kwargs)


def test_conflicts_reread_and_recheck(cluster, engine, isvc_name, cluster_settings):
    cluster.create_isvc(isvc_name)
    api, admin = kube.make_api(cluster.deployer_kubeconfig), cluster.custom()
    with Session(engine) as session:
        enter_v1(session, isvc_name, cluster_settings, api)
        # Someone annotates the object in between: the patch gets 409, is re-read and re-applied.
        annotate = Interfering(api, admin, isvc_name, lambda n: {"metadata": {"annotations": {"seen": str(n)}}}, 1)
        result = rollout.deploy(session, isvc_name, "v2", entry="canary", percent=10, actor="a", reason="r",
                                settings=cluster_settings, api=annotate)
        assert annotate.patches == 2
        assert served(cluster.get_isvc(isvc_name)) == ("v2", 10) == recorded(result.state)

        # Someone moves the split in between: the re-read sees it and refuses.
        before = rows(engine)
        split = Interfering(api, admin, isvc_name, {"spec": {"predictor": {"canaryTrafficPercent": 20}}}, 1)
        with pytest.raises(kube.ClusterError, match="changed outside hibachi.*serves v2 at 20%"):
            rollout.set_percent(session, isvc_name, 50, actor="a", reason="r", settings=cluster_settings, api=split)
        assert split.patches == 1 and rows(engine) == before

        # Someone keeps writing: after ATTEMPTS conflicts, one line saying so, nothing recorded.
        busy = Interfering(api, admin, isvc_name, lambda n: {"metadata": {"annotations": {"seen": f"b{n}"}}}, 99)
        with pytest.raises(kube.ClusterError, match="^conflict: InferenceService .* kept changing"):
            rollout.set_percent(session, isvc_name, 20, actor="a", reason="r", settings=cluster_settings, api=busy)
        assert busy.patches == kube.ATTEMPTS and rows(engine) == before
        assert served(cluster.get_isvc(isvc_name)) == ("v2", 20)


def test_every_cluster_error_is_one_line_and_records_nothing(cluster, engine, isvc_name, cluster_settings):
    cluster.create_isvc(isvc_name)
    deployer = kube.make_api(cluster.deployer_kubeconfig)
    elsewhere = cluster_settings.model_copy(update={"rollout": cluster_settings.rollout.model_copy(
        update={"namespace": OTHER_NAMESPACE})})
    with Session(engine) as session:
        from hibachi.records import ModelVersion

        session.add(ModelVersion(id="v" * 70, base_model="tiny", adapter_uri="pvc://m/long", dataset_sha256="0" * 64,
                                 gate_passed=True))
        session.commit()
        cases = [
            ("not found", lambda: rollout.deploy(session, "no-such-isvc", "v1", actor="a", reason="r",
                                                 settings=cluster_settings, api=deployer),
             r"^InferenceService hibachi/no-such-isvc not found on https://127\.0\.0\.1:\d+; create it first"),
            ("unauthorized", lambda: rollout.deploy(
                session, isvc_name, "v1", actor="a", reason="r", settings=cluster_settings,
                api=kube.make_api(cluster.write_kubeconfig("bad2", "nope"))), r"401 Unauthorized.*refresh"),
            ("forbidden", lambda: rollout.deploy(session, isvc_name, "v1", actor="a", reason="r", settings=elsewhere,
                                                 api=deployer),
             r'^forbidden: .*"system:serviceaccount:hibachi:hibachi-deployer" cannot get .* in the namespace '
             r'"elsewhere"; bind the caller to the Role hibachi-deployer'),
            ("unreachable", lambda: rollout.deploy(
                session, isvc_name, "v1", actor="a", reason="r", settings=cluster_settings,
                api=kube.make_api(cluster.write_kubeconfig("down", "x", server="https://127.0.0.1:9"))),
             r"^cannot reach the Kubernetes API server at https://127\.0\.0\.1:9 \(connection refused\)"),
            ("invalid", lambda: rollout.deploy(session, isvc_name, "v" * 70, actor="a", reason="r",
                                               settings=cluster_settings, api=deployer),
             r"^the server refused the change to InferenceService hibachi/llama-\w+ as invalid: .*63"),
        ]
        for case, call, pattern in cases:
            with pytest.raises(kube.ClusterError, match=pattern) as caught:
                call()
            assert "\n" not in str(caught.value) and caught.value.exit_code == 2, case
        assert rows(engine) == 0
    assert served(cluster.get_isvc(isvc_name)) == ("v1", None)


def test_least_privilege_of_the_deployer(cluster, isvc_name):
    """The deploy step's token: get and patch InferenceServices in hibachi; nothing else."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    cluster.create_isvc(isvc_name)
    config = cluster.deployer_kubeconfig
    custom, core = cluster.custom(config), cluster.core(config)
    assert custom.get_namespaced_custom_object(kube.GROUP, kube.VERSION, NAMESPACE, kube.PLURAL, isvc_name)
    custom.patch_namespaced_custom_object(kube.GROUP, kube.VERSION, NAMESPACE, kube.PLURAL, isvc_name,
                                          {"metadata": {"annotations": {"checked": "yes"}}})
    cluster.kubectl("create", "secret", "generic", "hibachi-secrets", "-n", NAMESPACE, "--from-literal=k=v")
    forbidden = {
        "delete the InferenceService": lambda: custom.delete_namespaced_custom_object(
            kube.GROUP, kube.VERSION, NAMESPACE, kube.PLURAL, isvc_name),
        "create one": lambda: custom.create_namespaced_custom_object(
            kube.GROUP, kube.VERSION, NAMESPACE, kube.PLURAL, cluster.isvc_object(isvc_name + "-2", "v1")),
        "list them": lambda: custom.list_namespaced_custom_object(kube.GROUP, kube.VERSION, NAMESPACE, kube.PLURAL),
        "read a Secret": lambda: core.read_namespaced_secret("hibachi-secrets", NAMESPACE),
        "list Secrets": lambda: core.list_namespaced_secret(NAMESPACE),
        "read in another namespace": lambda: custom.get_namespaced_custom_object(
            kube.GROUP, kube.VERSION, OTHER_NAMESPACE, kube.PLURAL, isvc_name),
        "patch in another namespace": lambda: custom.patch_namespaced_custom_object(
            kube.GROUP, kube.VERSION, OTHER_NAMESPACE, kube.PLURAL, isvc_name, {"metadata": {"labels": {"a": "b"}}}),
        "change its own Role": lambda: client.RbacAuthorizationV1Api(cluster.api_client(config)).patch_namespaced_role(
            "hibachi-deployer", NAMESPACE, {"rules": []}),
    }
    for what, call in forbidden.items():
        with pytest.raises(ApiException) as refused:
            call()
        assert refused.value.status == 403, what
    assert cluster.get_isvc(isvc_name)["metadata"]["annotations"]["checked"] == "yes"
    review = client.AuthorizationV1Api(cluster.api_client(config)).create_self_subject_rules_review(
        client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace=NAMESPACE)))
    granted = {(tuple(r.api_groups or []), tuple(r.resources or []), tuple(r.verbs)) for r in
               review.status.resource_rules if "selfsubject" not in ",".join(r.resources or [])}
    assert granted == {(("serving.kserve.io",), ("inferenceservices",), ("get", "patch"))}
