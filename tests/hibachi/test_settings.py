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
