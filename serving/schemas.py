"""Request bodies the predictor accepts, validated with pydantic at the boundary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=32_000)

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts(cls, value):
        # OpenAI clients may send content as a list of {"type": "text", "text": ...} parts.
        if isinstance(value, list):
            texts = [p.get("text") for p in value if isinstance(p, dict) and p.get("type") == "text"]
            if len(texts) != len(value) or not all(isinstance(t, str) for t in texts):
                raise ValueError("only text content parts are supported")
            return "".join(texts)
        return value


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat-completions fields this server honours; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0, le=2)
    stream: bool = False
    n: int = Field(default=1, ge=1, le=1)
    # vLLM's extension: generate exactly the token limit, never stopping at end of turn (benchmarks use it).
    ignore_eos: bool = False

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class V1Instance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    max_tokens: int = Field(default=128, ge=1)
    temperature: float = Field(default=0.0, ge=0, le=2)
    model: str | None = None
