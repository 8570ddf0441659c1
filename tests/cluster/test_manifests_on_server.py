"""The manifests on a real API server: every kustomization passes server-side validation with nothing
pruned, and an operator's rollout with `kubectl apply -k` moves the InferenceService step by step."""

from __future__ import annotations

import json

import pytest
import yaml
from kube_apiserver import NAMESPACE

from serving.render_manifests import OVERLAYS, REPO_MANIFESTS

pytestmark = pytest.mark.cluster
KUSTOMIZE_DIRS = ["base", "variants/gpu", "variants/vllm", *(f"overlays/{name}" for name in OVERLAYS)]
ISVC = "hibachi-llama"  # the name the manifests use


def missing_fields(sent, stored, path: str = "") -> list[str]:
    """Paths of what was sent but is absent or different in what the server kept (pruned, rewritten)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [f"{path}: {stored!r} instead of an object"]
        return [problem for key, value in sent.items()
                for problem in (missing_fields(value, stored[key], f"{path}.{key}") if key in stored
                                else [f"{path}.{key}: dropped by the server"])]
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [f"{path}: {stored!r} instead of {len(sent)} items"]
        return [problem for i, (a, b) in enumerate(zip(sent, stored, strict=True))
                for problem in missing_fields(a, b, f"{path}[{i}]")]
    return [] if sent == stored else [f"{path}: {stored!r} instead of {sent!r}"]


def adapter_of(isvc: dict) -> str:
    args = isvc["spec"]["predictor"]["model"]["args"]
    return args[args.index("--adapter-name") + 1]


@pytest.fixture
def no_operator_isvc(cluster):
    cluster.kubectl("delete", "inferenceservice", ISVC, "-n", NAMESPACE, "--ignore-not-found", "--wait=false")
    yield
    cluster.kubectl("delete", "inferenceservice", ISVC, "-n", NAMESPACE, "--ignore-not-found", "--wait=false")


@pytest.mark.parametrize("directory", KUSTOMIZE_DIRS)
def test_every_kustomization_passes_server_side_validation(cluster, no_operator_isvc, directory: str) -> None:
    docs = [doc for doc in yaml.safe_load_all(cluster.kubectl("kustomize", str(REPO_MANIFESTS / directory)).stdout)
            if doc]
    result = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-k", str(REPO_MANIFESTS / directory),
                             "-o", "json")
    stored = json.loads(result.stdout)["items"]
    assert [(d["kind"], d["metadata"]["name"]) for d in stored] == [(d["kind"], d["metadata"]["name"]) for d in docs]
    for sent, kept in zip(docs, stored, strict=True):
        assert missing_fields(sent, kept) == [], f"{sent['kind']} {sent['metadata']['name']}"
    kinds = {d["kind"] for d in stored}
    assert {"InferenceService", "ServingRuntime", "Service", "ServiceAccount", "Role", "RoleBinding"} <= kinds


def test_operator_rollout_with_kubectl_apply(cluster, no_operator_isvc) -> None:
    """shadow -> canary-10 -> 50 -> 90 -> promote -> rollback, as the README tells an operator to."""
    cluster.kubectl("apply", "-k", str(REPO_MANIFESTS / "base"))
    steps = [("base", "v1", None), ("overlays/shadow", "v2", 0), ("overlays/canary-10", "v2", 10),
             ("overlays/canary-50", "v2", 50), ("overlays/canary-90", "v2", 90), ("overlays/promote", "v2", None),
             ("overlays/rollback", "v1", 0)]
    seen = []
    for directory, adapter, _percent in steps:
        cluster.kubectl("apply", "-k", str(REPO_MANIFESTS / directory))
        isvc = cluster.get_isvc(ISVC)
        predictor = isvc["spec"]["predictor"]
        seen.append((directory, adapter_of(isvc), predictor.get("canaryTrafficPercent")))
        assert {u["mountPath"] for u in predictor["storageUris"]} == {"/mnt/models", f"/mnt/adapters/{adapter}"}
        assert isvc["metadata"]["labels"]["hibachi.io/adapter-version"] == adapter
    assert seen == steps


def test_the_pruning_check_sees_a_field_the_server_drops(cluster) -> None:
    """Kubernetes 1.20 drops unknown fields of a CRD object silently; the comparison above catches that."""
    isvc = cluster.isvc_object("pruned", "v1", 10)
    isvc["spec"]["predictor"]["canaryTrafficPrecent"] = 10  # a typo an operator could make
    kept = cluster.custom().create_namespaced_custom_object("serving.kserve.io", "v1beta1", NAMESPACE,
                                                            "inferenceservices", isvc, dry_run="All")
    assert missing_fields(isvc, kept) == [".spec.predictor.canaryTrafficPrecent: dropped by the server"]
