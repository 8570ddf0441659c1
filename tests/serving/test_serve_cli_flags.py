"""`hibachi serve` checks its flags and the adapter's config before any weights load, and its README documents
only options the command has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hibachi.errors import UserError
from hibachi_cli import app
from serving.cli import _adapter_names

README = Path(__file__).resolve().parents[2] / "serving" / "README.md"


@pytest.mark.parametrize("port", ["0", "70000"])
def test_a_port_out_of_range_is_refused_before_the_model_loads(tmp_path, monkeypatch, port):
    import serving.server

    def must_not_load(*_args, **_kwargs):
        raise AssertionError("the model was loaded before the port was checked")

    monkeypatch.setattr(serving.server, "build_predictor", must_not_load)
    (tmp_path / "config.json").write_text("{}")
    result = CliRunner().invoke(app, ["serve", "--base-model", str(tmp_path), "--port", port])
    assert result.exit_code == 2 and "Invalid value for '--port'" in result.output


@pytest.mark.parametrize(("content", "expected"), [
    ("{not json", "adapter_config.json is not valid JSON"),
    ("[1, 2]", "adapter_config.json must hold a JSON object, not list"),
    (b"\xff\xfe", "adapter_config.json is not valid JSON"),
])
def test_an_adapter_config_that_is_not_a_json_object_names_the_file(tmp_path, content, expected):
    config = tmp_path / "adapter_config.json"
    config.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(UserError, match=re.escape(f"--adapter {tmp_path}: {config}")) as caught:
        _adapter_names([tmp_path], [])
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def _serve_options() -> set[str]:
    command = typer.main.get_command(app).commands["serve"]
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def test_the_readme_names_only_options_hibachi_serve_has():
    section = README.read_text().split("## Predictor", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", section))
    assert documented and documented <= _serve_options(), documented - _serve_options()
