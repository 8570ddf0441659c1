"""What a simulated provider does wrong, and where a test says so.

Faults come from (later wins): the server-wide default, the per-model setting made through
``PUT /_sim/faults/{model}``, directives in the model name (``gpt-4o@error_rate=0.5;latency_ms=20``)
and the ``X-Sim-Faults`` JSON header. The same configuration therefore works for a test that drives
the SDK directly and for a gateway whose provider settings only carry a model name.
"""

from __future__ import annotations

import json
import random

from pydantic import BaseModel, ConfigDict, Field


class Faults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0, description="delay before the answer (or first chunk)")
    chunk_delay_ms: float = Field(default=0.0, ge=0, description="delay between stream chunks")
    hallucination_rate: float = Field(default=0.0, ge=0, le=1)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_status: int = Field(default=500, ge=400, le=599)
    hang_rate: float = Field(default=0.0, ge=0, le=1, description="answer nothing for hang_s")
    hang_s: float = Field(default=30.0, ge=0)
    malformed_rate: float = Field(default=0.0, ge=0, le=1, description="a 200 whose body is broken JSON")
    stall_after_chunks: int | None = Field(default=None, ge=0, description="stream this many chunks, then go silent")
    break_after_chunks: int | None = Field(default=None, ge=0, description="stream this many chunks, then drop")
    answer: str | None = Field(default=None, description="always answer exactly this")


def split_model(model: str) -> tuple[str, dict]:
    """``name@key=value;key=value`` -> (name, {key: value}); values are JSON when they parse as JSON."""
    name, _, spec = model.partition("@")
    overrides: dict = {}
    for part in filter(None, spec.split(";")):
        key, _, raw = part.partition("=")
        try:
            overrides[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key.strip()] = raw
    return name, overrides


class FaultBook:
    def __init__(self, seed: int = 0) -> None:
        self.default = Faults()
        self.per_model: dict[str, Faults] = {}
        self.rng = random.Random(seed)

    def resolve(self, model: str, header: str | None) -> tuple[str, Faults]:
        name, overrides = split_model(model)
        merged = {**self.per_model.get(name, self.default).model_dump(exclude_unset=False)}
        merged.update(overrides)
        if header:
            merged.update(json.loads(header))
        return name, Faults.model_validate(merged)

    def roll(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate
