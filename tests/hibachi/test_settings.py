"""One settings class: environment, YAML file, derived defaults, and refusal of placeholders in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hibachi.settings import Settings


def test_embedded_defaults_derive_from_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'hibachi.db'}"
    assert settings.gateway.outbox_dir == tmp_path / "outbox"
    assert {p.name for p in settings.teachers} == {"openai", "anthropic", "xai"}
    assert [p.name for p in settings.students] == ["local"]


def test_environment_and_nested_sections(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db:5432/app")
    monkeypatch.setenv("HIBACHI_GATEWAY__PORT", "9999")
    monkeypatch.setenv("HIBACHI_TRAFFIC__POLICY", "split")
    monkeypatch.setenv("HIBACHI_TRAFFIC__SPLIT_PERCENT", "10")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@db:5432/app"
    assert settings.gateway.port == 9999
    assert (settings.traffic.policy, settings.traffic.split_percent) == ("split", 10)


def test_yaml_config_file(tmp_path, monkeypatch):
    config = tmp_path / "hibachi.yaml"
    config.write_text(
        "providers:\n"
        "  - {name: openai, kind: openai, model: gpt-4o-mini, api_key_env: OPENAI_API_KEY}\n"
        "gate: {min_accuracy: 0.9}\n"
    )
    monkeypatch.setenv("HIBACHI_CONFIG_FILE", str(config))
    settings = Settings()
    assert [p.model for p in settings.providers] == ["gpt-4o-mini"]
    assert settings.gate.min_accuracy == 0.9


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"database_url": "mysql://x"}, "sqlite:/// or postgresql"),
        ({"traffic": {"policy": "split", "split_percent": 120}}, "less than or equal to 100"),
        ({"gateway": {"workers": 0}}, "gateway.workers\n  Input should be greater than or equal to 1"),
        ({"gateway": {"keep_alive_s": 0}}, "gateway.keep_alive_s\n  Input should be greater than or equal to 1"),
        ({"gateway": {"capture_writer": "nobody"}},
         "gateway.capture_writer\n  Input should be 'worker' or 'supervisor'"),
        ({"environment": "production", "database_url": "postgresql+psycopg://db/app"}, "customer_key_hashes"),
        ({"providers": [{"name": "a", "kind": "openai", "model": "m"}, {"name": "a", "kind": "openai", "model": "m"}]},
         "names must be unique"),
    ],
)
def test_bad_configuration_is_refused_with_the_field(overrides, message):
    with pytest.raises(ValidationError, match=message):
        Settings(**overrides)


def test_production_refuses_sqlite():
    with pytest.raises(ValidationError, match="production needs PostgreSQL"):
        Settings(environment="production", database_url="sqlite:///x.db",
                 gateway={"customer_key_hashes": ["a" * 64], "admin_key_hashes": ["b" * 64]})


PRODUCTION = {"environment": "production", "database_url": "postgresql+psycopg://db/app",
              "gateway": {"customer_key_hashes": ["a" * 64], "admin_key_hashes": ["b" * 64],
                          "session_secret": "Jq3v-8mZb1xKf0T2pWc7rYd5uNh9sLe4aGk6oVi"}}


@pytest.mark.parametrize("secret", [None, "changeme", "secret", "too-short-for-a-signing-key"])
def test_production_refuses_a_missing_placeholder_or_short_session_secret(secret):
    gateway = {**PRODUCTION["gateway"], "session_secret": secret}
    with pytest.raises(ValidationError, match="gateway.session_secret: production needs a random secret"):
        Settings(**{**PRODUCTION, "gateway": gateway})


def _sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("key", ["dev-admin-key", "dev-customer-key", "changeme"])
@pytest.mark.parametrize("field", ["customer_key_hashes", "admin_key_hashes"])
def test_production_refuses_the_hash_of_a_development_or_placeholder_key(field, key):
    gateway = {**PRODUCTION["gateway"], field: ["c" * 64, _sha256(key)]}
    with pytest.raises(ValidationError, match=f"gateway.{field}: holds the hash of a development or placeholder"):
        Settings(**{**PRODUCTION, "gateway": gateway})


def test_production_refuses_a_placeholder_admin_key_and_provider_key(monkeypatch):
    with pytest.raises(ValidationError, match="admin_key: a development or placeholder key"):
        Settings(**PRODUCTION, admin_key="dev-admin-key")
    monkeypatch.setenv("OPENAI_API_KEY", "changeme")
    with pytest.raises(ValidationError, match=r"providers\[openai\].api_key_env: \$OPENAI_API_KEY holds a placeholder"):
        Settings(**PRODUCTION)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-a-real-looking-key")
    assert Settings(**PRODUCTION).environment == "production"


def test_development_accepts_the_development_keys():
    settings = Settings(admin_key="dev-admin-key")
    assert settings.accepts_dev_keys and settings.admin_key.get_secret_value() == "dev-admin-key"


def test_hibachi_database_url_wins_over_database_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@plain/app")
    monkeypatch.setenv("HIBACHI_DATABASE_URL", "postgresql+psycopg://u@prefixed/app")
    assert Settings().database_url == "postgresql+psycopg://u@prefixed/app"


def test_pipeline_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("HIBACHI_PIPELINE__COMPONENTS_IMAGE", "registry.local/components:9")
    monkeypatch.setenv("HIBACHI_PIPELINE__DB_SECRET", "hibachi-db")
    settings = Settings()
    assert settings.pipeline.components_image == "registry.local/components:9"
    assert (settings.pipeline.db_secret, settings.pipeline.checkpoint_pvc) == ("hibachi-db", None)


def test_base_model_defaults_to_the_stand_in_under_data_dir_and_serving_follows_training(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.training.base_model == tmp_path / "models" / "base" == settings.serving.base_model
    chosen = Settings(data_dir=tmp_path, training={"base_model": "/models/llama"})
    assert str(chosen.serving.base_model) == "/models/llama"
