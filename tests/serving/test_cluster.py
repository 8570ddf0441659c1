"""serving.cluster without a server: error translation, drift and conflict handling over a stand-in API.
(tests/cluster runs the same code against a real kube-apiserver.)"""

from __future__ import annotations

import copy
import json

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from serving import cluster
from serving.cluster import ClusterError, Split

NS, NAME = "hibachi", "llama"


def api_error(status: int, message: str = "", details: dict | None = None, body: str | None = None) -> ApiException:
    exc = ApiException(status=status, reason={401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                                              409: "Conflict", 422: "Unprocessable Entity"}.get(status, "Error"))
    exc.body = body if body is not None else json.dumps({"kind": "Status", "message": message,
                                                         "details": details or {}, "code": status})
    return exc


def isvc(version: str | None, percent: int | None, rv: str = "1", managers: list[dict] | None = None) -> dict:
    predictor = {} if percent is None else {"canaryTrafficPercent": percent}
    labels = {} if version is None else {cluster.VERSION_LABEL: version}
    return {"metadata": {"name": NAME, "namespace": NS, "resourceVersion": rv, "labels": labels,
                         "managedFields": managers or []}, "spec": {"predictor": predictor}}


class StandIn:
    """Serves one object; ``before_patch`` may change it (someone else writing) or raise."""

    def __init__(self, obj: dict, before_patch=None) -> None:
        self.obj, self.before_patch, self.patches = obj, before_patch, []
        self.api_client = type("C", (), {"configuration": type("Cfg", (), {"host": "https://k8s:6443"})()})()

    def get_namespaced_custom_object(self, group, version, namespace, plural, name, **_):
        return copy.deepcopy(self.obj)

    def patch_namespaced_custom_object(self, group, version, namespace, plural, name, body, **options):
        self.patches.append((body, options))
        if self.before_patch:
            self.before_patch(self, len(self.patches))
        if body["metadata"]["resourceVersion"] != self.obj["metadata"]["resourceVersion"]:
            raise api_error(409, "the object has been modified; please apply your changes to the latest version")
        predictor = self.obj["spec"]["predictor"]
        for key, value in body["spec"]["predictor"].items():
            if value is None:
                predictor.pop(key, None)
            else:
                predictor[key] = value
        self.obj["metadata"]["labels"].update(body["metadata"].get("labels", {}))
        self.obj["metadata"]["resourceVersion"] = str(int(self.obj["metadata"]["resourceVersion"]) + 1)
        return copy.deepcopy(self.obj)


def body(version: str, percent: int | None) -> dict:
    return {"metadata": {"labels": {cluster.VERSION_LABEL: version}},
            "spec": {"predictor": {"canaryTrafficPercent": percent}}}


def test_split_reads_the_object_and_an_unknown_version_matches_any() -> None:
    assert cluster.observed(isvc("v2", 10)) == Split("v2", 10)
    assert cluster.observed({"metadata": {}, "spec": {}}) == Split(None, None)
    assert str(Split("v2", None)) == "v2 at 100% (no canaryTrafficPercent)" and str(Split("v2", 0)) == "v2 at 0%"
    assert Split(None, 0).matches(Split("v1", 0)) and Split("v1", 0).matches(Split(None, 0))
    assert not Split(None, 0).matches(Split("v1", None)) and not Split("v1", 10).matches(Split("v2", 10))


@pytest.mark.parametrize(("exc", "expected"), [
    (api_error(404, 'inferenceservices.serving.kserve.io "llama" not found', {"name": NAME}),
     "InferenceService hibachi/llama not found on https://k8s:6443; create it first (kubectl apply -k manifests/base)"),
    (api_error(404, body="404 page not found"),
     "has no serving.kserve.io/v1beta1 InferenceService API (404 page not found); install KServe"),
    (api_error(401, "Unauthorized"), "rejected the credentials (401 Unauthorized"),
    (api_error(403, 'User "u" cannot patch resource "inferenceservices"'),
     'forbidden: User "u" cannot patch resource "inferenceservices"; bind the caller to the Role hibachi-deployer'),
    (api_error(409, "the object has been modified"), "conflict: InferenceService hibachi/llama kept changing"),
    (api_error(422, 'metadata.labels: Invalid value: "x": must be no more than 63 characters'),
     "refused the change to InferenceService hibachi/llama as invalid: metadata.labels: Invalid value"),
    (api_error(500, "etcdserver: request timed out\nretry"), "answered 500 Error to patch InferenceService "
                                                            "hibachi/llama: etcdserver: request timed out retry"),
    (MaxRetryError(None, "/apis", NewConnectionError(None, "Failed to establish a new connection: "
                                                           "[Errno 111] Connection refused")),
     "cannot reach the Kubernetes API server at https://k8s:6443 (connection refused); check KUBECONFIG"),
    (ReadTimeoutError(None, "/apis", "Read timed out. (read timeout=30)"), "(timed out)"),
])
def test_every_error_is_one_line_with_cause_and_next_step(exc: Exception, expected: str) -> None:
    error = cluster.translate(exc, StandIn(isvc("v1", None)), "patch", NS, NAME)
    assert isinstance(error, ClusterError) and error.exit_code == 2
    assert expected in str(error) and "\n" not in str(error)
    assert ";" in str(error)  # cause; next step


def test_a_missing_kubeconfig_is_one_line(tmp_path) -> None:
    with pytest.raises(ClusterError, match=r"^no cluster credentials: .*; set KUBECONFIG"):
        cluster.make_api(str(tmp_path / "absent"))


def test_patch_carries_the_precondition_and_the_field_manager() -> None:
    api = StandIn(isvc("v1", None, rv="7"))
    updated = cluster.apply_split(api, NS, NAME, body("v2", 0), Split("v2", 0), Split("v1", None), 3)
    sent, options = api.patches[0]
    assert sent["metadata"]["resourceVersion"] == "7" and options["field_manager"] == "hibachi-rollout"
    assert cluster.observed(updated) == Split("v2", 0)


def test_a_split_changed_outside_is_refused_with_who_did_it() -> None:
    managers = [{"manager": "hibachi-rollout", "operation": "Update", "time": "2026-01-01T00:00:00Z",
                 "fieldsV1": {"f:spec": {"f:predictor": {"f:model": {}}}}},
                {"manager": "kubectl-edit", "operation": "Update", "time": "2026-01-02T00:00:00Z",
                 "fieldsV1": {"f:spec": {"f:predictor": {"f:canaryTrafficPercent": {}}}}}]
    api = StandIn(isvc("v2", 30, managers=managers))
    with pytest.raises(ClusterError) as refused:
        cluster.apply_split(api, NS, NAME, body("v2", 50), Split("v2", 50), Split("v2", 10), 12)
    message = str(refused.value)
    assert message.startswith("InferenceService hibachi/llama was changed outside hibachi by kubectl-edit (Update "
                              "at 2026-01-02T00:00:00Z): the server serves v2 at 30%, the rollout record #12 says "
                              "v2 at 10%")
    assert "record the server's split with `hibachi rollout set --percent 30`" in message
    assert api.patches == []  # nothing overwritten
    # The step that leads to what the server already serves is how the operator's change gets recorded.
    assert cluster.observed(cluster.apply_split(api, NS, NAME, body("v2", 30), Split("v2", 30), Split("v2", 10))) \
        == Split("v2", 30)


def test_a_conflict_rereads_rechecks_and_retries() -> None:
    def someone_annotates(api, n):
        if n == 1:
            api.obj["metadata"]["resourceVersion"] = "99"

    api = StandIn(isvc("v2", 10), someone_annotates)
    cluster.apply_split(api, NS, NAME, body("v2", 50), Split("v2", 50), Split("v2", 10))
    assert len(api.patches) == 2 and cluster.observed(api.obj) == Split("v2", 50)

    def someone_moves_the_split(api, n):
        api.obj["metadata"]["resourceVersion"] = f"m{n}"
        api.obj["spec"]["predictor"]["canaryTrafficPercent"] = 20

    api = StandIn(isvc("v2", 50), someone_moves_the_split)
    with pytest.raises(ClusterError, match="changed outside hibachi by someone: the server serves v2 at 20%"):
        cluster.apply_split(api, NS, NAME, body("v2", 90), Split("v2", 90), Split("v2", 50))
    assert len(api.patches) == 1

    def always_busy(api, n):
        api.obj["metadata"]["resourceVersion"] = f"b{n}"

    api = StandIn(isvc("v2", 50), always_busy)
    with pytest.raises(ClusterError, match="^conflict: .*3 attempts"):
        cluster.apply_split(api, NS, NAME, body("v2", 90), Split("v2", 90), Split("v2", 50))
    assert len(api.patches) == cluster.ATTEMPTS


def test_a_patch_the_server_did_not_keep_is_an_error() -> None:
    class Ignoring(StandIn):
        def patch_namespaced_custom_object(self, *args, **kwargs):
            super().patch_namespaced_custom_object(*args, **kwargs)
            self.obj["spec"]["predictor"]["canaryTrafficPercent"] = 0  # e.g. a mutating webhook
            return copy.deepcopy(self.obj)

    with pytest.raises(ClusterError, match="does not serve v2 at 50% after the patch"):
        cluster.apply_split(Ignoring(isvc("v2", 10)), NS, NAME, body("v2", 50), Split("v2", 50), Split("v2", 10))


def test_status_line_says_whether_the_server_matches_the_record() -> None:
    state = type("State", (), {"id": 4, "stable_version": "v1", "canary_version": "v2", "canary_percent": 10})()
    assert cluster.compare(StandIn(isvc("v2", 10)), NS, NAME, state) == \
        "cluster: InferenceService hibachi/llama serves v2 at 10%, as recorded"
    differs = cluster.compare(StandIn(isvc("v2", 40)), NS, NAME, state)
    assert differs.startswith("cluster: InferenceService hibachi/llama serves v2 at 40%, but the record #4 says v2 at "
                              "10%: changed outside hibachi by someone")


def test_a_split_hibachi_wrote_but_did_not_record_is_named_as_such() -> None:
    # kubectl created the object; hibachi alone owns the split (a field has one owner among Update managers).
    managers = [{"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-01-03T00:00:00Z",
                 "fieldsV1": {"f:spec": {"f:predictor": {"f:model": {}}}}},
                {"manager": "hibachi-rollout", "operation": "Update", "time": "2026-01-02T00:00:00Z",
                 "fieldsV1": {"f:spec": {"f:predictor": {"f:canaryTrafficPercent": {}}}}}]
    with pytest.raises(ClusterError) as refused:
        cluster.apply_split(StandIn(isvc("v2", 90, managers=managers)), NS, NAME, body("v2", 50), Split("v2", 50),
                            Split("v2", 10), 12)
    assert "was changed by a `hibachi rollout` step that was not recorded (at 2026-01-02T00:00:00Z)" in \
        str(refused.value)
