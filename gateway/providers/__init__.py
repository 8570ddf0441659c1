"""Provider adapters: one per wire protocol, all behind the same ``Provider`` interface."""

from __future__ import annotations

from gateway.providers.anthropic_messages import AnthropicProvider
from gateway.providers.base import CircuitBreaker, Completion, Provider, ProviderError, StreamUsage
from gateway.providers.openai_chat import OpenAIChatProvider
from hibachi.settings import GatewaySettings, ProviderConfig

__all__ = ["CircuitBreaker", "Completion", "Provider", "ProviderError", "StreamUsage", "build_provider"]


def build_provider(config: ProviderConfig, gateway: GatewaySettings) -> Provider:
    kind = AnthropicProvider if config.kind == "anthropic" else OpenAIChatProvider
    breaker = CircuitBreaker(failures=gateway.breaker_failures, cooldown_s=gateway.breaker_cooldown_s)
    return kind(config=config, breaker=breaker, initial_backoff_s=gateway.retry_initial_backoff_s,
                http_transport=gateway.http_transport)
