"""`hibachi serve` refuses unusable input with a one-line error before loading anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from hibachi.errors import UserError
from serving.cli import _adapter_names, command


def test_a_directory_without_a_checkpoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no config.json"):
        command(base_model=tmp_path, adapter=None, adapter_name=None, port=1, merge=True, name=None)


def test_there_is_no_host_option_that_would_be_ignored() -> None:
    from typer.testing import CliRunner

    from hibachi_cli import app

    result = CliRunner().invoke(app, ["serve", "--host", "127.0.0.1"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_adapter_arguments_are_checked(tmp_path: Path, secret_adapter: Path) -> None:
    with pytest.raises(UserError, match="not a PEFT adapter"):
        _adapter_names([tmp_path], [])
    with pytest.raises(UserError, match="--adapter-name given 1"):
        _adapter_names([secret_adapter, secret_adapter], ["v1"])
    with pytest.raises(UserError, match="unique"):
        _adapter_names([secret_adapter, secret_adapter], ["v1", "v1"])
    assert _adapter_names([secret_adapter], ["v9"]) == {"v9": secret_adapter}
    assert _adapter_names([secret_adapter], []) == {secret_adapter.resolve().name: secret_adapter}
