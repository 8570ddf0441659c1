"""What every provider adapter shares: the call result, retry policy, hard timeouts and a circuit breaker.

Adapters (one per wire protocol) only translate messages and responses; the SDK clients are built
with ``max_retries=0`` because retries, backoff and the cooldown live here, the same for every kind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from hibachi.settings import ProviderConfig


class ProviderError(Exception):
    """A provider gave no usable answer; ``kind`` is timeout | rate_limited | server | rejected | connection |
    bad_response | invalid_request."""

    def __init__(self, kind: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.retryable = retryable

    @property
    def provider_at_fault(self) -> bool:
        """False when the request itself could not be sent: that says nothing of the provider's health."""
        return self.kind != "invalid_request"


def translate_sdk_error(exc: Exception, name: str, sdk: Any) -> ProviderError:
    """An ``openai`` or ``anthropic`` SDK exception (both SDKs share the class names) as a typed ProviderError."""
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderError("timeout", f"{name} timed out", retryable=True)
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderError("connection", f"{name} unreachable: {exc}", retryable=True)
    if isinstance(exc, sdk.RateLimitError):
        return ProviderError("rate_limited", f"{name} returned 429", retryable=True)
    if isinstance(exc, sdk.APIStatusError):
        retryable = exc.status_code >= 500
        return ProviderError("server" if retryable else "rejected", f"{name} returned {exc.status_code}",
                             retryable=retryable)
    if isinstance(exc, UnicodeEncodeError):  # text the request could not be encoded with (never the provider's)
        return ProviderError("invalid_request", f"the request to {name} could not be encoded ({exc.reason})")
    return ProviderError("bad_response", f"{name} sent an unreadable response ({type(exc).__name__})")


@dataclass
class Completion:
    text: str
    model: str  # the model that answered, as the provider reports it (the adapter version for the student)
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class StreamUsage:
    """Filled in while a stream runs: the answering model and token counts when the provider reports them."""

    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class CircuitBreaker:
    """Open after ``failures`` consecutive failures; closed again (half-open) once ``cooldown_s`` has passed."""

    failures: int
    cooldown_s: float
    consecutive: int = 0
    open_until: float = 0.0

    def available(self, now: float | None = None) -> bool:
        return (now if now is not None else time.monotonic()) >= self.open_until

    def record_success(self) -> None:
        self.consecutive = 0
        self.open_until = 0.0

    def record_failure(self) -> None:
        self.consecutive += 1
        # A provider that fails its first call after a cooldown (half-open) goes straight back to cooling down.
        if self.open_until or self.consecutive >= self.failures:
            self.open_until = time.monotonic() + self.cooldown_s
            self.consecutive = 0


@dataclass
class Provider:
    """A configured endpoint plus its breaker; subclasses implement ``_complete`` and ``_stream``."""

    config: ProviderConfig
    breaker: CircuitBreaker
    initial_backoff_s: float = 0.05
    http_transport: str = "aiohttp"
    _client: object | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.config.name

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.config.price_in_per_1k + output_tokens * self.config.price_out_per_1k) / 1000

    async def complete(self, messages: list[dict], system: str, timeout_s: float | None = None) -> Completion:
        """One answer within the hard timeout (retries included); records success/failure on the breaker."""
        timeout = timeout_s or self.config.timeout_s
        try:
            async with asyncio.timeout(timeout):  # no extra task per call, unlike wait_for
                result = await self._with_retries(lambda: self._complete(messages, system, timeout))
        except TimeoutError:
            self.breaker.record_failure()
            raise ProviderError("timeout", f"{self.name} gave no answer within {timeout:g}s") from None
        except ProviderError as exc:
            if exc.provider_at_fault:
                self.breaker.record_failure()
            raise
        if not result.text.strip():
            self.breaker.record_failure()
            raise ProviderError("bad_response", f"{self.name} returned an empty answer")
        self.breaker.record_success()
        return result

    async def _with_retries(self, call: Callable[[], Awaitable[Completion]]) -> Completion:
        if not self.config.max_retries:
            return await call()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.max_retries + 1),
            wait=wait_exponential_jitter(initial=self.initial_backoff_s, max=2.0),
            retry=retry_if_exception(lambda exc: isinstance(exc, ProviderError) and exc.retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable")  # pragma: no cover

    def stream(self, messages: list[dict], system: str, usage: StreamUsage) -> AsyncIterator[str]:
        """Text deltas as they arrive; errors surface as ProviderError. No retries once tokens flow."""
        return self._stream(messages, system, usage)

    async def _complete(self, messages: list[dict], system: str, timeout_s: float) -> Completion:
        raise NotImplementedError

    def _stream(self, messages: list[dict], system: str, usage: StreamUsage) -> AsyncIterator[str]:
        raise NotImplementedError

    async def aclose(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            await close()
