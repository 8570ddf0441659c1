"""Typed builders for the KServe objects: the one source of truth for manifests, overlays and rollouts.

``build_inference_service`` returns the camelCase manifest dict (kserve's typed models serialised with
``ApiClient().sanitize_for_serialization``) for three variants:

- ``cpu`` / ``gpu``: the project's predictor image (``hibachi serve``) as a ServingRuntime; the base
  checkpoint lands at /mnt/models and the adapter at /mnt/adapters/<version> through KServe's
  storage initializer (``storageUris``); the model's args name the adapter version it serves.
- ``vllm``: production on KServe's huggingface runtime with the vLLM backend and LoRA enabled
  (``--enable-lora --lora-modules <version>=/mnt/adapters/<version>``).

KServe's canary semantics: the spec always describes the newest revision; ``canaryTrafficPercent``
sends that share to it and the rest to the previous ready revision; no field means 100% (promoted).
``python -m serving.render_manifests`` writes manifests/ from these functions.
"""

from __future__ import annotations

from typing import Literal

Variant = Literal["cpu", "gpu", "vllm"]
VARIANTS: tuple[Variant, ...] = ("cpu", "gpu", "vllm")
API_VERSION = "serving.kserve.io/v1beta1"
RUNTIME_API_VERSION = "serving.kserve.io/v1alpha1"
PREDICTOR_IMAGE = "ghcr.io/my-hibachi/hibachi-predictor:0.1.0"
MODEL_FORMAT = "hibachi-llama"
HF_RUNTIME = "kserve-huggingfaceserver"  # KServe's ClusterServingRuntime for Hugging Face models
BASE_MOUNT = "/mnt/models"
ADAPTER_MOUNT = "/mnt/adapters"
PORT = 8080
MAX_LORA_RANK = 64

_RESOURCES = {
    "cpu": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
    "gpu": {"requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"},
            "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}},
    "vllm": {"requests": {"cpu": "4", "memory": "24Gi", "nvidia.com/gpu": "1"},
             "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"}},
}


def runtime_name(variant: Variant) -> str:
    return HF_RUNTIME if variant == "vllm" else f"hibachi-predictor-{variant}"


def adapter_mount(version: str) -> str:
    return f"{ADAPTER_MOUNT}/{version}"


def default_version(adapter_uri: str) -> str:
    return adapter_uri.rstrip("/").rsplit("/", 1)[-1]


def _serialize(obj) -> dict:
    from kubernetes.client import ApiClient

    return ApiClient().sanitize_for_serialization(obj)


def _model_args(variant: Variant, name: str, version: str) -> list[str]:
    if variant == "vllm":
        return [f"--model_name={name}", "--backend=vllm", "--enable-lora", f"--max-lora-rank={MAX_LORA_RANK}",
                "--lora-modules", f"{version}={adapter_mount(version)}"]
    return ["--adapter", adapter_mount(version), "--adapter-name", version, "--name", name]


def build_inference_service(name: str, namespace: str, storage_uri: str, adapter_uri: str,
                            canary_percent: int | None = None, variant: Variant = "cpu",
                            adapter_version: str | None = None) -> dict:
    """The InferenceService serving ``adapter_uri`` (version id = ``adapter_version`` or its last path part)."""
    from kserve import (
        V1beta1InferenceService,
        V1beta1InferenceServiceSpec,
        V1beta1ModelFormat,
        V1beta1ModelSpec,
        V1beta1PredictorSpec,
    )
    from kserve.models import V1beta1StorageUri
    from kubernetes.client import V1ObjectMeta, V1ResourceRequirements

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if canary_percent is not None and not 0 <= canary_percent <= 100:
        raise ValueError(f"canary_percent must be within 0-100, got {canary_percent}")
    version = adapter_version or default_version(adapter_uri)
    model = V1beta1ModelSpec(
        name="kserve-container",
        model_format=V1beta1ModelFormat(name="huggingface" if variant == "vllm" else MODEL_FORMAT),
        runtime=runtime_name(variant),
        args=_model_args(variant, name, version),
        resources=V1ResourceRequirements(**_RESOURCES[variant]),
    )
    predictor = V1beta1PredictorSpec(
        model=model,
        canary_traffic_percent=canary_percent,
        min_replicas=1,
        storage_uris=[V1beta1StorageUri(uri=storage_uri, mount_path=BASE_MOUNT),
                      V1beta1StorageUri(uri=adapter_uri, mount_path=adapter_mount(version))],
    )
    isvc = V1beta1InferenceService(
        api_version=API_VERSION,
        kind="InferenceService",
        metadata=V1ObjectMeta(
            name=name, namespace=namespace,
            labels={"app.kubernetes.io/part-of": "hibachi", "hibachi.io/adapter-version": version},
            # Tag routing gives the newest revision its own URL, which the gateway shadows traffic to.
            annotations={"serving.kserve.io/enable-tag-routing": "true"},
        ),
        spec=V1beta1InferenceServiceSpec(predictor=predictor),
    )
    return _serialize(isvc)


def build_serving_runtime(variant: Literal["cpu", "gpu"] = "cpu", image: str = PREDICTOR_IMAGE) -> dict:
    """The ServingRuntime running the project's predictor image (``hibachi serve``) for ``hibachi-llama``."""
    from kserve import V1alpha1ServingRuntime, V1alpha1ServingRuntimeSpec, V1alpha1SupportedModelFormat
    from kubernetes.client import (
        V1Container,
        V1ContainerPort,
        V1EnvVar,
        V1HTTPGetAction,
        V1ObjectMeta,
        V1Probe,
        V1SecurityContext,
    )

    if variant not in ("cpu", "gpu"):
        raise ValueError(f"the project's runtime comes in cpu and gpu, got {variant!r}")
    container = V1Container(
        name="kserve-container",
        image=image,
        # The predictor's own entry point: the serving image carries no dev kit and no full CLI.
        command=["python", "-m", "serving"],
        args=["--base-model", BASE_MOUNT, "--port", str(PORT)],
        env=[V1EnvVar(name="HF_HUB_OFFLINE", value="1"), V1EnvVar(name="HIBACHI_LOG_JSON", value="true")],
        ports=[V1ContainerPort(container_port=PORT, protocol="TCP")],
        readiness_probe=V1Probe(http_get=V1HTTPGetAction(path="/v2/health/ready", port=PORT),
                                period_seconds=5, failure_threshold=3),
        security_context=V1SecurityContext(run_as_non_root=True, run_as_user=1000,
                                           allow_privilege_escalation=False),
    )
    runtime = V1alpha1ServingRuntime(
        api_version=RUNTIME_API_VERSION,
        kind="ServingRuntime",
        metadata=V1ObjectMeta(name=runtime_name(variant), labels={"app.kubernetes.io/part-of": "hibachi"}),
        spec=V1alpha1ServingRuntimeSpec(
            supported_model_formats=[V1alpha1SupportedModelFormat(name=MODEL_FORMAT, version="1",
                                                                  auto_select=variant == "cpu")],
            protocol_versions=["v1", "v2"],
            containers=[container],
            annotations={"prometheus.kserve.io/port": str(PORT), "prometheus.kserve.io/path": "/metrics"},
        ),
    )
    return _serialize(runtime)


def canary_patch(name: str, namespace: str, storage_uri: str, adapter_uri: str, canary_percent: int | None,
                 variant: Variant = "cpu", adapter_version: str | None = None) -> dict:
    """The merge patch moving an existing InferenceService to this adapter and traffic share.

    ``canaryTrafficPercent: None`` serialises to null, which a JSON merge patch reads as "remove the
    field" (promotion). The kustomize overlays and the cluster patch both come from this function.
    """
    full = build_inference_service(name, namespace, storage_uri, adapter_uri, canary_percent, variant,
                                   adapter_version)
    predictor = full["spec"]["predictor"]
    return {
        "apiVersion": API_VERSION, "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace, "labels": full["metadata"]["labels"]},
        "spec": {"predictor": {"canaryTrafficPercent": canary_percent, "model": {"args": predictor["model"]["args"]},
                               "storageUris": predictor["storageUris"]}},
    }


# The pipeline's deploy step (and `hibachi rollout` in cluster mode) reads the InferenceService, then
# merge-patches it (serving/cluster.py): nothing else, in its own namespace only. The operator creates
# the InferenceService (kubectl apply -k manifests/base); deleting it stays with people.
DEPLOYER = "hibachi-deployer"
DEPLOYER_VERBS = ("get", "patch")


def build_deployer_rbac(namespace: str, name: str = DEPLOYER) -> list[dict]:
    """ServiceAccount, Role and RoleBinding allowing exactly ``DEPLOYER_VERBS`` on InferenceServices."""
    from kubernetes.client import (
        RbacV1Subject,
        V1ObjectMeta,
        V1PolicyRule,
        V1Role,
        V1RoleBinding,
        V1RoleRef,
        V1ServiceAccount,
    )

    def meta() -> V1ObjectMeta:
        return V1ObjectMeta(name=name, namespace=namespace, labels={"app.kubernetes.io/part-of": "hibachi",
                                                                    "app.kubernetes.io/component": "deploy"})

    rule = V1PolicyRule(api_groups=[API_VERSION.split("/")[0]], resources=["inferenceservices"],
                        verbs=list(DEPLOYER_VERBS))
    return [_serialize(V1ServiceAccount(api_version="v1", kind="ServiceAccount", metadata=meta())),
            _serialize(V1Role(api_version="rbac.authorization.k8s.io/v1", kind="Role", metadata=meta(),
                              rules=[rule])),
            _serialize(V1RoleBinding(api_version="rbac.authorization.k8s.io/v1", kind="RoleBinding",
                                     metadata=meta(),
                                     role_ref=V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role",
                                                        name=name),
                                     subjects=[RbacV1Subject(kind="ServiceAccount", name=name,
                                                             namespace=namespace)]))]
