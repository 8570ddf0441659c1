"""Anthropic's Messages API through the official ``anthropic`` SDK (system prompt as its own field)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic

from gateway.providers.base import Completion, Provider, ProviderError, StreamUsage, translate_sdk_error

MAX_TOKENS = 1024


class AnthropicProvider(Provider):
    def client(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            self._client = anthropic.AsyncAnthropic(
                api_key=self.config.api_key(), base_url=self.config.base_url, max_retries=0,
                timeout=self.config.timeout_s,  # a float: the SDKs disagree on which httpx they use
                http_client=anthropic.DefaultAioHttpClient() if self.http_transport == "aiohttp" else None,
            )
        return self._client  # type: ignore[return-value]

    @staticmethod
    def _split(messages: list[dict], system: str) -> tuple[str, list[dict]]:
        own = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"]
        return "\n\n".join(part for part in (system, own) if part), turns

    async def _complete(self, messages: list[dict], system: str, timeout_s: float) -> Completion:
        system_text, turns = self._split(messages, system)
        try:
            response = await self.client().messages.create(
                model=self.config.model, system=system_text, messages=turns, max_tokens=MAX_TOKENS,
                timeout=timeout_s,
            )
            text = "".join(block.text for block in response.content if block.type == "text")
            return Completion(text=text, model=response.model or self.config.model,
                              input_tokens=response.usage.input_tokens, output_tokens=response.usage.output_tokens)
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise translate_sdk_error(exc, self.name, anthropic) from None

    async def _stream(self, messages: list[dict], system: str, usage: StreamUsage) -> AsyncIterator[str]:
        system_text, turns = self._split(messages, system)
        try:
            stream = await self.client().messages.create(
                model=self.config.model, system=system_text, messages=turns, max_tokens=MAX_TOKENS, stream=True,
            )
            async with stream:
                async for event in stream:
                    if event.type == "message_start":
                        usage.model = event.message.model
                        usage.input_tokens = event.message.usage.input_tokens
                    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                        yield event.delta.text
                    elif event.type == "message_delta":
                        usage.output_tokens = event.usage.output_tokens
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise translate_sdk_error(exc, self.name, anthropic) from None
