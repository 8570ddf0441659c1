"""The gateway's request and response bodies (OpenAI-compatible where the route is).

Every number a caller may send has bounds and every text field a length limit, so input out of range is
a 422 at the edge and never an error deeper in (an unbounded integer once overflowed SQLite: a 500).
Text the database or a provider's SDK would refuse (a NUL character, an unpaired surrogate) is refused here too.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

# NUL: PostgreSQL cannot store it. An unpaired UTF-16 surrogate (valid as a JSON escape, "\udc80") is not
# Unicode text: no provider SDK or database driver can encode it, and it once failed every teacher call.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(text: str) -> str:
    if _UNSTORABLE.search(text):
        raise ValueError("text may not contain NUL characters or unpaired UTF-16 surrogates")
    return text


StoredText = Annotated[str, AfterValidator(_storable)]  # text that ends up in the database
# Session and signal ids: what the gateway issues and accepts (X-Session-Id, a 'user' of that form, uuid hex).
ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,64}$"
# A caller's own label next to its authenticated credential ("label (admin:<key id>)"): short enough that the
# credential always fits in the 128-character actor columns.
ActorLabel = Annotated[StoredText, Field(max_length=64)]


class UnsupportedParameter(Exception):
    """A request asks for something the gateway cannot give (tool calls, JSON mode, several choices): a 400."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


class TextPart(BaseModel):
    type: Literal["text"]
    text: StoredText


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "developer"]
    content: StoredText | Annotated[list[TextPart], Field(max_length=200)]  # characters: settings, in the route

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool | None = None


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat-completions body; sampling fields are accepted and left to the providers' defaults."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(default="hibachi", max_length=256)
    messages: list[MessageIn] = Field(min_length=1, max_length=1_000)  # the configured limit is checked too
    stream: bool = False
    stream_options: StreamOptions | None = None
    # Any text (OpenAI's is a free string), as long as chat_sessions.customer_user holds.
    user: StoredText | None = Field(default=None, max_length=256, description=(
        "The client's id for its customer. Without X-Session-Id it names the session: as is when it is a valid "
        "session id, else a stable id derived from it (sent back in X-Session-Id)."))
    # OpenAI's sampling fields, with OpenAI's own ranges; accepted and left to the providers' defaults.
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=128)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    # Asking for something other than one text answer: refused with a 400 (unsupported_parameter) unless it
    # amounts to one text answer (n=1, no tools, tool_choice "none", response_format text), which clients do send.
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    tool_choice: Any = None
    function_call: Any = None
    response_format: dict[str, Any] | None = None

    def refuse_unsupported(self) -> None:
        """Raise UnsupportedParameter when the answer could not be what was asked for (ignoring it once crashed
        a client that asked for JSON and parsed the prose it got)."""
        if self.n is not None and self.n > 1:
            raise UnsupportedParameter("n", "n must be 1: the gateway answers with one choice")
        for choice, tools in (("tool_choice", "tools"), ("function_call", "functions")):
            if getattr(self, choice) not in (None, "none"):
                raise UnsupportedParameter(choice, f"{choice} must be 'none' or absent: the gateway answers with "
                                                   "text only and never calls tools")
            if getattr(self, tools) and getattr(self, choice) is None:
                raise UnsupportedParameter(tools, f"{tools} are not supported: the gateway answers with text only "
                                                  f"and never calls tools (send no {tools}, or {choice}: 'none')")
        if self.response_format is not None and self.response_format.get("type") != "text":
            raise UnsupportedParameter("response_format", "response_format must be {\"type\": \"text\"} or "
                                                          "absent: the gateway answers with text only")

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

    corrected_response: StoredText = Field(min_length=1, max_length=20_000)
    reason: StoredText | None = Field(default=None, max_length=2_000)
    author: ActorLabel | None = Field(default=None, description=(
        "A label for the author, stored next to the admin credential's fingerprint: 'label (admin:<key id>)'."))


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
