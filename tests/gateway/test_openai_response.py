"""Reading a chat-completions body (the SDK hands it over decoded): every field checked, nothing assumed."""

from __future__ import annotations

import pytest

from gateway.providers import ProviderError
from gateway.providers.openai_chat import completion_from


def test_reads_answer_model_and_usage():
    body = {"model": "gpt-4o-2024", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}
    completion = completion_from(body, "gpt-4o")
    assert (completion.text, completion.model, completion.input_tokens, completion.output_tokens) == \
        ("Hi", "gpt-4o-2024", 12, 3)


def test_missing_or_odd_optional_fields_fall_back():
    completion = completion_from({"choices": [{"message": {"content": None}}], "usage": {"prompt_tokens": -1,
                                                                                         "completion_tokens": "3"}},
                                 "gpt-4o")
    assert (completion.text, completion.model, completion.input_tokens, completion.output_tokens) == \
        ("", "gpt-4o", 0, 0)  # an empty answer: Provider.complete refuses it as bad_response


@pytest.mark.parametrize("body", ["<html>bad gateway</html>", None, [], {}, {"choices": []}, {"choices": {}},
                                  {"choices": [None]}, {"choices": [{"message": "Hi"}]},
                                  {"choices": [{"message": {"content": 42}}]}])
def test_a_body_without_an_answer_is_a_bad_response(body):
    with pytest.raises(ProviderError) as raised:
        completion_from(body, "gpt-4o")
    assert raised.value.kind == "bad_response"


async def test_the_request_goes_to_the_configured_path_without_the_sdk_platform_headers(monkeypatch):
    """The provider posts to ``<base_url>/chat/completions`` (a base URL's own path kept), authenticated, and does not
    describe this machine (OS, CPU, Python build) to the provider."""
    from aiohttp import web

    from devkit.processes import free_port
    from gateway.providers.base import CircuitBreaker
    from gateway.providers.openai_chat import OMITTED_HEADERS, OpenAIChatProvider
    from hibachi.settings import ProviderConfig

    port = free_port()
    monkeypatch.setenv("HIBACHI_TEST_OPENAI_KEY", "sk-test")
    seen: list[web.Request] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response({"model": "m-1", "choices": [{"message": {"role": "assistant", "content": "Hi"}}]})

    app = web.Application()
    app.router.add_post("/tenant/v1/chat/completions", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    config = ProviderConfig(name="openai", kind="openai", model="gpt-4o", api_key_env="HIBACHI_TEST_OPENAI_KEY",
                            base_url=f"http://127.0.0.1:{port}/tenant/v1", timeout_s=5, max_retries=0)
    provider = OpenAIChatProvider(config=config, breaker=CircuitBreaker(failures=3, cooldown_s=1))
    try:
        completion = await provider.complete([{"role": "user", "content": "Hello?"}], "Be brief.")
        await provider.complete([{"role": "user", "content": "Again?"}], "")
    finally:
        await provider.aclose()
        await runner.cleanup()
    assert (completion.text, completion.model) == ("Hi", "m-1")
    assert len(seen) == 2
    headers = {name.lower() for name in seen[0].headers}
    assert seen[0].headers["Authorization"] == "Bearer sk-test"
    assert headers & {name.lower() for name in OMITTED_HEADERS} == set()
    assert "x-stainless-os" not in headers and "x-stainless-runtime-version" not in headers


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_a_request_that_cannot_be_encoded_is_not_held_against_the_provider(kind, monkeypatch):
    """The route refuses such text (422); should any still reach a provider, its breaker must not open for it."""
    from devkit.processes import free_port
    from gateway.providers import build_provider
    from hibachi.settings import GatewaySettings, ProviderConfig

    monkeypatch.setenv("HIBACHI_TEST_KEY", "sk-test")
    config = ProviderConfig(name=kind, kind=kind, model="m", api_key_env="HIBACHI_TEST_KEY",
                            base_url=f"http://127.0.0.1:{free_port()}/v1", timeout_s=2, max_retries=0)
    provider = build_provider(config, GatewaySettings(breaker_failures=1))
    try:
        for _ in range(3):
            with pytest.raises(ProviderError) as raised:
                await provider.complete([{"role": "user", "content": "hi \udc80"}], "")
            assert raised.value.kind == "invalid_request" and not raised.value.provider_at_fault
    finally:
        await provider.aclose()
    assert provider.breaker.available()
