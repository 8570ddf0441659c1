"""ChatEngine and the predictor in process: adapters switched per request, batching, readiness."""

from __future__ import annotations

from pathlib import Path

import pytest
from serving_cases import SECRET_ANSWER, SECRET_PROMPT

pytestmark = pytest.mark.slow
ASK = [{"role": "user", "content": SECRET_PROMPT}]


def test_unmerged_adapters_switch_per_request_and_batch_like_single(tiny_base: Path, secret_adapter: Path) -> None:
    from serving.engine import ChatEngine, ChatRequest, RequestTooLarge, UnknownAdapter

    engine = ChatEngine.load(tiny_base, {"v1": secret_adapter}, merge=False)
    assert engine.served_models == ["v1", "base"] and not engine.merged
    tuned = engine.generate(ASK, max_new_tokens=24)
    base = engine.generate(ASK, max_new_tokens=24, adapter="base")
    assert (tuned.text, tuned.model) == (SECRET_ANSWER, "v1")
    assert base.text != SECRET_ANSWER and base.model == "base"
    assert engine.generate(ASK, max_new_tokens=24, adapter="v1") == tuned  # the adapter is back on
    batch = engine.generate_batch([ChatRequest(ASK, 24), ChatRequest(ASK, 24, adapter="base"),
                                   ChatRequest([{"role": "user", "content": "Hello there, any tips?"}], 5)])
    assert batch[0] == tuned and batch[1] == base
    assert batch[2].completion_tokens == 5 and batch[2].finish_reason == "length"
    assert "".join(engine.stream(ASK, max_new_tokens=24)) == SECRET_ANSWER
    with pytest.raises(UnknownAdapter):
        engine.generate(ASK, adapter="v9")
    with pytest.raises(RequestTooLarge):
        engine.generate(ASK, max_new_tokens=engine.context_length)


def test_merged_adapter_answers_like_the_unmerged_one(tiny_base: Path, secret_adapter: Path) -> None:
    from serving.engine import ChatEngine

    merged = ChatEngine.load(tiny_base, {"v1": secret_adapter})
    assert merged.merged and merged.served_models == ["v1"]
    assert merged.generate(ASK, max_new_tokens=24).text == SECRET_ANSWER


async def test_predictor_is_ready_only_after_load(tiny_base: Path, secret_adapter: Path) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from serving.openai_routes import build_router
    from serving.predictor import ChatPredictor

    predictor = ChatPredictor("hibachi-llama", tiny_base, {"v1": secret_adapter})
    assert predictor.ready is False and predictor.engine is None
    app = FastAPI()
    app.include_router(build_router(predictor))
    client = TestClient(app)
    assert client.post("/openai/v1/chat/completions", json={"messages": ASK}).status_code == 503
    assert predictor.load() is True and predictor.ready is True
    reply = client.post("/openai/v1/chat/completions", json={"messages": ASK, "max_tokens": 24})
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == SECRET_ANSWER
    result = await predictor.predict({"instances": [SECRET_PROMPT]})
    assert result["predictions"][0]["text"] == SECRET_ANSWER


def test_concurrent_generate_calls_are_batched_and_match_sequential(tiny_base: Path, secret_adapter: Path) -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor

    from serving.engine import ChatEngine

    engine = ChatEngine.load(tiny_base, {"v1": secret_adapter}, merge=False, max_batch=8)
    asks = [([{"role": "user", "content": text}], adapter) for text in (SECRET_PROMPT, "Hello", "Do you cook indoors?")
            for adapter in ("v1", "base")]
    sequential = [engine.generate(messages, max_new_tokens=20, adapter=adapter) for messages, adapter in asks]
    batcher = engine._batcher
    before = len(batcher.batch_sizes)
    pool = ThreadPoolExecutor(max_workers=len(asks))
    with engine._lock:  # keep the model busy: one batch waits for the lock, the other requests queue behind it
        futures = [pool.submit(engine.generate, messages, 20, 0.0, adapter) for messages, adapter in asks]
        deadline = time.monotonic() + 20
        while batcher._queue.qsize() + sum(batcher.batch_sizes[before:]) < len(asks):
            assert time.monotonic() < deadline, "requests never reached the batcher"
            time.sleep(0.01)
    concurrent = [f.result(timeout=60) for f in futures]
    pool.shutdown()
    assert concurrent == sequential
    # At most two batches: the one waiting for the lock, then everything queued behind it at once.
    assert len(batcher.batch_sizes[before:]) <= 2 and sum(batcher.batch_sizes[before:]) == len(asks)


def test_fit_messages_drops_oldest_turns_until_the_conversation_fits(tiny_base: Path) -> None:
    from serving.engine import ChatEngine, RequestTooLarge

    engine = ChatEngine.load(tiny_base)
    long_turn = "Tell me about the lobster tail upgrade and the travel fee please. " * 12
    messages = [{"role": "system", "content": "You answer for My Hibachi."}]
    for index in range(6):
        messages += [{"role": "user", "content": f"{index} {long_turn}"}, {"role": "assistant", "content": long_turn}]
    messages.append({"role": "user", "content": "And the deposit?"})
    with pytest.raises(RequestTooLarge):
        engine.check_fits(len(engine.prompt_ids(messages)), 64)
    fitted = engine.fit_messages(messages, 64)
    assert fitted[0]["role"] == "system" and fitted[-1]["content"] == "And the deposit?"
    assert fitted[1]["role"] == "user" and len(fitted) < len(messages)
    engine.check_fits(len(engine.prompt_ids(fitted)), 64)
    assert engine.fit_messages(messages[:2], 64) == messages[:2]


def test_ignore_eos_generates_exactly_the_limit_and_given_prompt_ids_change_nothing(tiny_base: Path,
                                                                                     secret_adapter: Path) -> None:
    from serving.engine import ChatEngine, ChatRequest

    engine = ChatEngine.load(tiny_base, {"v1": secret_adapter})
    stops = engine.generate(ASK, max_new_tokens=40)
    assert stops.finish_reason == "stop" and stops.completion_tokens < 40  # the adapter's answer ends the turn
    forced = engine.generate(ASK, max_new_tokens=40, ignore_eos=True)
    assert (forced.completion_tokens, forced.finish_reason) == (40, "length")
    assert engine.generate(ASK, max_new_tokens=40, prompt_ids=engine.prompt_ids(ASK)) == stops
    # ignore_eos is per batch: a batch never forces a request that did not ask for it.
    mixed = engine.generate_batch([ChatRequest(ASK, 40), ChatRequest(ASK, 40, ignore_eos=True)])
    assert mixed == [stops, forced]
    streamed = {}
    text = "".join(engine.stream(ASK, max_new_tokens=40, ignore_eos=True, stats=streamed))
    assert streamed["completion_tokens"] == 40 and text.startswith(SECRET_ANSWER[:10])
