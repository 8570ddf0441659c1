"""Shared fixtures of the component tests: one tiny base model per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    from hibachi.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
