"""The gateway's production manifests configure settings the gateway accepts in production.

The Deployment's env (values from the Secret) plus the ConfigMap's hibachi.yaml are fed to the one
settings class, as the pod would; a secret production requires but the manifest forgets (as happened
with the session secret) fails here instead of in a crash-looping pod.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from hibachi.settings import Settings

BASE = Path(__file__).resolve().parents[2] / "manifests" / "base"
# What an operator puts in the Secret `hibachi-secrets`: real-looking values of the right shape.
SECRET_VALUES = {
    "DATABASE_URL": "postgresql+psycopg://hibachi@db:5432/hibachi",
    "OPENAI_API_KEY": "sk-test-0123456789", "ANTHROPIC_API_KEY": "sk-ant-test-0123456789",
    "XAI_API_KEY": "xai-test-0123456789",
    "CUSTOMER_KEY_HASHES": f'["{hashlib.sha256(b"customer-key-9f8e").hexdigest()}"]',
    "ADMIN_KEY_HASHES": f'["{hashlib.sha256(b"admin-key-7d6c").hexdigest()}"]',
    "SESSION_SECRET": "a" * 8 + "Zq9-" * 8,
}


def _gateway_env() -> dict[str, str]:
    deployment = yaml.safe_load((BASE / "gateway-deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "hibachi-secrets", item
            env[item["name"]] = SECRET_VALUES[ref["key"]]
    return env


def test_the_deployment_and_configmap_give_valid_production_settings(tmp_path, monkeypatch):
    config = yaml.safe_load((BASE / "gateway-configmap.yaml").read_text())["data"]["hibachi.yaml"]
    (tmp_path / "hibachi.yaml").write_text(config)
    env = _gateway_env()
    env["HIBACHI_CONFIG_FILE"] = str(tmp_path / "hibachi.yaml")
    monkeypatch.delenv("HIBACHI_ENVIRONMENT")  # the pod has only what the manifests give it
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "production"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.gateway.session_secret is not None and len(settings.gateway.admin_key_hashes) == 1


@pytest.mark.parametrize("missing", ["HIBACHI_GATEWAY__SESSION_SECRET", "HIBACHI_GATEWAY__ADMIN_KEY_HASHES"])
def test_a_secret_the_manifest_forgets_is_refused_by_production(tmp_path, monkeypatch, missing):
    config = yaml.safe_load((BASE / "gateway-configmap.yaml").read_text())["data"]["hibachi.yaml"]
    (tmp_path / "hibachi.yaml").write_text(config)
    env = {k: v for k, v in _gateway_env().items() if k != missing}
    env["HIBACHI_CONFIG_FILE"] = str(tmp_path / "hibachi.yaml")
    monkeypatch.delenv("HIBACHI_ENVIRONMENT")  # the pod has only what the manifests give it
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError):
        Settings()
