"""Invalid settings are one readable line: the setting, where it was set, what is allowed; key digests as pasted."""

from __future__ import annotations

import hashlib

import pytest

from hibachi.errors import UserError
from hibachi.settings import InvalidSettingsError, Settings, get_settings

DIGEST_A = hashlib.sha256(b"customer-key-1").hexdigest()
DIGEST_B = hashlib.sha256(b"customer-key-2").hexdigest()


def _error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSettingsError) as caught:
        get_settings()
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HIBACHI_ROLLOUT__VARIANT": "tpu"},
         "rollout.variant (environment variable HIBACHI_ROLLOUT__VARIANT): Input should be 'cpu', 'gpu' or 'vllm'"),
        # pydantic reports an aliased field under its first alias; the message names the variable actually set
        ({"DATABASE_URL": "nonsense"},
         "database_url (environment variable DATABASE_URL): must be a sqlite:/// or postgresql+psycopg:// URL"),
        ({"HIBACHI_DATABASE_URL": "nonsense"}, "database_url (environment variable HIBACHI_DATABASE_URL): must be"),
        ({"HIBACHI_ROLLOUT": '{"variant": "tpu"}'}, "rollout.variant (environment variable HIBACHI_ROLLOUT): Input"),
        ({"HIBACHI_SERVING__PORT": "70000"},
         "serving.port (environment variable HIBACHI_SERVING__PORT): Input should be less than or equal to 65535"),
        # A typo in a section is refused as at the top level: silently dropped, the gate kept its default.
        ({"HIBACHI_GATE__MIN_ACCURACCY": "0.99"},
         "gate.min_accuraccy (environment variable HIBACHI_GATE__MIN_ACCURACCY): no such setting"),
    ],
)
def test_an_invalid_environment_variable_is_named_with_what_is_allowed(monkeypatch, env, expected):
    message = _error(monkeypatch, **env)
    assert message.startswith("invalid settings: ") and expected in message
    assert not any(value in message for value in env.values())  # a value may be a secret: never echoed


def test_a_setting_from_the_config_file_names_the_file(tmp_path, monkeypatch):
    config = tmp_path / "hibachi.yaml"
    config.write_text("rollout: {variant: tpu}\nproviders:\n  - {name: a, kind: nope, model: m}\n")
    message = _error(monkeypatch, HIBACHI_CONFIG_FILE=str(config))
    assert f"rollout.variant (config file {config}): Input should be 'cpu', 'gpu' or 'vllm'" in message
    assert f"providers[0].kind (config file {config}): Input should be 'openai'" in message


def test_the_environment_wins_over_the_file_in_the_message_as_when_read(tmp_path, monkeypatch):
    config = tmp_path / "hibachi.yaml"
    config.write_text("rollout: {variant: gpu}\n")
    message = _error(monkeypatch, HIBACHI_CONFIG_FILE=str(config), HIBACHI_ROLLOUT__VARIANT="tpu")
    assert "(environment variable HIBACHI_ROLLOUT__VARIANT)" in message and "config file" not in message


def test_a_config_file_that_is_not_yaml_is_one_line(tmp_path, monkeypatch):
    config = tmp_path / "hibachi.yaml"
    config.write_text("rollout: [\n")
    assert _error(monkeypatch, HIBACHI_CONFIG_FILE=str(config)).startswith(f"config file {config} is not valid YAML")


def test_several_errors_are_counted_on_one_line(monkeypatch):
    message = _error(monkeypatch, HIBACHI_GATEWAY__PORT="x", HIBACHI_TRAFFIC__POLICY="z",
                     HIBACHI_GATE__MIN_ACCURACY="3", HIBACHI_SERVING__PORT="0")
    assert message.count("environment variable") == 3 and message.endswith("(+1 more)")


def test_a_data_dir_that_is_a_file_is_refused(tmp_path, monkeypatch):
    blocker = tmp_path / "somefile"
    blocker.write_text("")
    message = _error(monkeypatch, HIBACHI_DATA_DIR=str(blocker))
    assert f"data_dir (environment variable HIBACHI_DATA_DIR): {blocker} exists and is not a directory" in message


def test_a_cross_setting_refusal_keeps_its_own_message(monkeypatch):
    message = _error(monkeypatch, HIBACHI_ENVIRONMENT="production", DATABASE_URL="postgresql://db/app")
    assert message == ("invalid settings: gateway: production needs customer_key_hashes and admin_key_hashes "
                       "(the development keys are refused outside development)")


def test_a_list_in_the_environment_that_is_not_json_names_the_variable(monkeypatch):
    message = _error(monkeypatch, HIBACHI_GATEWAY__CORS_ORIGINS="https://shop.example", HIBACHI_GATEWAY__HOST="0.0.0.0")
    assert message.startswith("invalid settings: HIBACHI_GATEWAY__CORS_ORIGINS: a list or a section")
    assert "HOST" not in message


def test_the_cli_catches_it_as_a_user_error(monkeypatch):
    monkeypatch.setenv("HIBACHI_ROLLOUT__VARIANT", "tpu")
    with pytest.raises(UserError) as caught:
        get_settings()
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DIGEST_A, [DIGEST_A]),  # what `hibachi keys hash` prints, pasted into the Secret
        (f"{DIGEST_A},{DIGEST_B}", [DIGEST_A, DIGEST_B]),
        (f" {DIGEST_A} , {DIGEST_B.upper()}\n", [DIGEST_A, DIGEST_B]),
        (f'["{DIGEST_A}", "{DIGEST_B}"]', [DIGEST_A, DIGEST_B]),
        ("", []),
    ],
)
def test_key_hashes_from_the_environment_accept_a_digest_a_comma_list_or_json(monkeypatch, text, expected):
    monkeypatch.setenv("HIBACHI_GATEWAY__CUSTOMER_KEY_HASHES", text)
    monkeypatch.setenv("HIBACHI_GATEWAY__ADMIN_KEY_HASHES", text)
    gateway = get_settings().gateway
    assert gateway.customer_key_hashes == expected == gateway.admin_key_hashes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{DIGEST_A},not-a-digest", "gateway.customer_key_hashes[1] (environment variable "
                                     "HIBACHI_GATEWAY__CUSTOMER_KEY_HASHES): must be the sha256 hex digest of a key"),
        ("customer-key-1", "customer_key_hashes[0] (environment variable HIBACHI_GATEWAY__CUSTOMER_KEY_HASHES): must"),
        (f'["{DIGEST_A}"', "gateway.customer_key_hashes (environment variable HIBACHI_GATEWAY__CUSTOMER_KEY_HASHES): "
                           "starts with '[' but is not a JSON list"),
    ],
)
def test_a_malformed_key_hash_is_refused_by_name(monkeypatch, text, expected):
    message = _error(monkeypatch, HIBACHI_GATEWAY__CUSTOMER_KEY_HASHES=text)
    assert expected in message and "customer-key-1" not in message


def test_key_hashes_in_yaml_and_code_are_checked_too():
    assert Settings(gateway={"admin_key_hashes": [DIGEST_A.upper()]}).gateway.admin_key_hashes == [DIGEST_A]
    with pytest.raises(ValueError, match="sha256 hex digest"):
        Settings(gateway={"admin_key_hashes": ["abc"]})


def test_a_typo_in_a_config_file_section_is_refused(tmp_path, monkeypatch):
    config = tmp_path / "hibachi.yaml"
    config.write_text("gate:\n  min_acuracy: 0.99\n")
    assert _error(monkeypatch, HIBACHI_CONFIG_FILE=str(config)) == \
        f"invalid settings: gate.min_acuracy (config file {config}): no such setting"
