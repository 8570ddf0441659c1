"""The gateway's request and response bodies (OpenAI-compatible where the route is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[TextPart]

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat-completions body; sampling fields are accepted and left to the providers' defaults."""

    model_config = ConfigDict(extra="allow")

    model: str = "hibachi"
    messages: list[MessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    user: str | None = Field(default=None, description="Used as the session id when X-Session-Id is absent.")

    @field_validator("messages")
    @classmethod
    def _ends_with_user(cls, messages: list[MessageIn]) -> list[MessageIn]:
        if messages[-1].role != "user":
            raise ValueError("the last message must have role 'user' (the customer's question)")
        if not messages[-1].text().strip():
            raise ValueError("the last user message is empty")
        return messages


class Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    led_to_booking: bool | None = None
    customer_rating: int | None = Field(default=None, ge=1, le=5)


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corrected_response: str = Field(min_length=1, max_length=20_000)
    reason: str | None = Field(default=None, max_length=2_000)
    author: str | None = Field(default=None, max_length=128, description="Defaults to the admin key's fingerprint.")


class CorrectionOut(BaseModel):
    id: int
    signal_id: str
    corrected_response: str
    author: str
    reason: str | None
    created_at: datetime


class CandidateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    provider: str
    model: str
    role: str
    response: str | None
    error: str | None
    latency_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    critic_passed: bool | None
    quality_score: float | None
    violations: list[Any]
    chosen: bool


class SignalSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    request_id: str
    session_id: str
    prompt: str
    chosen_response: str
    chosen_provider: str | None
    served_by: str
    policy: str
    adapter_version: str | None
    quality_score: float
    critic_passed: bool
    trainable: bool
    stream_error: str | None
    latency_ms: float
    cost_usd: float
    created_at: datetime


class SignalDetail(SignalSummary):
    conversation: list[Any]
    topic: str | None
    input_tokens: int
    output_tokens: int
    candidates: list[CandidateOut]
    corrections: list[CorrectionOut]


class SignalPage(BaseModel):
    items: list[SignalSummary]
    total: int
    page: int
    page_size: int
