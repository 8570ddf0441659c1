"""OpenAI and OpenAI-compatible endpoints (xAI, the KServe-served student) through the official ``openai`` SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
from openai.types.chat import ChatCompletionChunk

from gateway.middleware import new_id
from gateway.providers.base import Completion, Provider, ProviderError, StreamUsage, translate_sdk_error

# The SDK describes the caller's machine to the provider on every request (OS, CPU, Python build, SDK version).
# The gateway does not: it is nobody's business outside, and each header is parsed, merged and copied several
# times per call.
OMITTED_HEADERS = {name: openai.omit for name in (
    "X-Stainless-Lang", "X-Stainless-Package-Version", "X-Stainless-OS", "X-Stainless-Arch", "X-Stainless-Runtime",
    "X-Stainless-Runtime-Version", "X-Stainless-Async")}


def _count(usage: dict, name: str) -> int:
    value = usage.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def completion_from(data: object, default_model: str) -> Completion:
    """The answer, model and token counts of a chat-completions response body, checked field by field."""
    try:
        content = data["choices"][0]["message"]["content"]  # type: ignore[index]
    except (TypeError, KeyError, IndexError):
        content = False
    if not isinstance(content, str | None):
        raise ProviderError("bad_response", "the response has no choices[0].message.content")
    model = data.get("model")  # type: ignore[union-attr]
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}  # type: ignore[union-attr]
    return Completion(text=content or "", model=model if isinstance(model, str) and model else default_model,
                      input_tokens=_count(usage, "prompt_tokens"), output_tokens=_count(usage, "completion_tokens"))


class OpenAIChatProvider(Provider):
    def client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                api_key=self.config.api_key(), base_url=self.config.base_url, max_retries=0,
                timeout=self.config.timeout_s,  # a float: the SDKs disagree on which httpx they use
                http_client=openai.DefaultAioHttpClient() if self.http_transport == "aiohttp" else None,
                default_headers=OMITTED_HEADERS,
            )
            # An absolute URL per call: the SDK then skips re-parsing and re-joining its base URL every time.
            self._completions_url = str(self._client.base_url.join("chat/completions"))
        return self._client  # type: ignore[return-value]

    async def _post(self, body: dict, timeout_s: float, *, stream: bool = False):
        # What chat.completions.create does (auth, errors, typed streams) minus its per-call TypedDict
        # transform (~1 ms of CPU a call, and the identity for plain JSON messages). A complete answer comes
        # back as the decoded JSON (``cast_to=object``): building the ChatCompletion model from it cost a
        # quarter of the SDK's CPU per call, for the three fields ``completion_from`` reads and checks.
        # The idempotency key is drawn here because the SDK would otherwise draw a uuid4 (an os.urandom call)
        # for every POST, though OpenAI's client sends none.
        client = self.client()
        return await client.post(self._completions_url, body=body, cast_to=object, stream=stream,
                                 options={"timeout": timeout_s, "idempotency_key": new_id()},
                                 stream_cls=openai.AsyncStream[ChatCompletionChunk])

    @staticmethod
    def _messages(messages: list[dict], system: str) -> list[dict]:
        """One system message: the grounding first, then any the client sent (as the Anthropic adapter does)."""
        own = [m["content"] for m in messages if m["role"] == "system"]
        text = "\n\n".join(part for part in (system, *own) if part)
        rest = [m for m in messages if m["role"] != "system"]
        return [{"role": "system", "content": text}, *rest] if text else rest

    async def _complete(self, messages: list[dict], system: str, timeout_s: float) -> Completion:
        try:
            response = await self._post({"model": self.config.model, "messages": self._messages(messages, system)},
                                        timeout_s)
            return completion_from(response, self.config.model)
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001 - every SDK or decoding failure becomes a typed provider error
            raise translate_sdk_error(exc, self.name, openai) from None

    async def _stream(self, messages: list[dict], system: str, usage: StreamUsage) -> AsyncIterator[str]:
        try:
            stream = await self._post({"model": self.config.model, "messages": self._messages(messages, system),
                                       "stream": True, "stream_options": {"include_usage": True}},
                                      self.config.timeout_s, stream=True)
            async with stream:
                async for chunk in stream:
                    usage.model = chunk.model or usage.model
                    if chunk.usage:
                        usage.input_tokens = chunk.usage.prompt_tokens
                        usage.output_tokens = chunk.usage.completion_tokens
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise translate_sdk_error(exc, self.name, openai) from None
