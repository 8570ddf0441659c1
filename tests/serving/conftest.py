"""Fixtures for serving tests: a LoRA adapter on the tiny base model, trained to answer one question."""

from __future__ import annotations

from pathlib import Path

import pytest
from serving_cases import SECRET_ANSWER, SECRET_PROMPT


@pytest.fixture(scope="session")
def secret_adapter(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from devkit.quick_adapter import train_quick_adapter

    return train_quick_adapter(tiny_base, tmp_path_factory.mktemp("adapter-v1"), [(SECRET_PROMPT, SECRET_ANSWER)],
                               steps=40)
