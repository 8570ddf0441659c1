"""The chat route: the official openai client (normal and streamed), ensemble choice, capture, validation."""

from __future__ import annotations

import re
import time

import httpx
import openai
import pytest
from gateway_harness import (
    CUSTOMER,
    FALSE_ANSWER,
    TRUE_ANSWER,
    chat,
    provider,
    set_faults,
    state_of,
    wait_stored,
)
from sqlalchemy import select

from gateway.api.routes.chat import session_id_for_user
from gateway.ensemble import CandidateResult, Ensemble
from gateway.schemas import ID_PATTERN
from hibachi import prompt
from hibachi.records import Candidate, ChatMessage, ChatSession, TrainingSignal
from hibachi.retraining import knowledge_sha256
from hibachi.retrieval import Retriever


def _signals(server) -> list[TrainingSignal]:
    wait_stored(server)
    with state_of(server).sessions() as session:
        return list(session.scalars(select(TrainingSignal).order_by(TrainingSignal.created_at)))


@pytest.fixture
def gateway(sim, make_settings, start_gateway):
    return start_gateway(make_settings([provider(sim, "openai"), provider(sim, "anthropic", kind="anthropic"),
                                        provider(sim, "xai", kind="openai_compatible")]))


def test_openai_client_gets_a_completion_and_the_signal_is_stored(gateway, sim):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="hibachi", messages=[{"role": "user", "content": "How much is it per adult?"}], user="sess-1")
    completion = raw.parse()
    assert completion.choices[0].message.content == TRUE_ANSWER
    assert raw.headers["x-session-id"] == "sess-1" and raw.headers["x-served-by"] == "teacher"
    request_id = raw.headers["x-request-id"]
    [signal] = _signals(gateway)
    assert signal.request_id == request_id and signal.session_id == "sess-1"
    assert signal.served_by == "teacher" and signal.critic_passed and signal.trainable
    assert signal.chosen_response == TRUE_ANSWER and signal.quality_score == pytest.approx(0.95)
    with state_of(gateway).sessions() as session:
        candidates = session.scalars(select(Candidate).where(Candidate.signal_id == signal.id)).all()
        messages = session.scalars(select(ChatMessage).where(ChatMessage.session_id == "sess-1")).all()
    assert sorted(c.provider for c in candidates) == ["anthropic", "openai", "xai"]
    assert sum(c.chosen for c in candidates) == 1
    assert all(c.input_tokens > 0 and c.output_tokens > 0 for c in candidates)
    assert [(m.role, m.position) for m in messages] == [("user", 0), ("assistant", 1)]
    # Grounding: every teacher got the retrieved facts as its system prompt.
    last_system = sim.app.state.simulator.last_system
    assert all("Adults are $60" in last_system[f"{name}-model"] for name in ("openai", "anthropic", "xai"))


def test_openai_client_streams_a_completion(gateway):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    stream = client.chat.completions.create(model="hibachi", stream=True, stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "How much per adult?"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == TRUE_ANSWER
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    [signal] = _signals(gateway)
    assert signal.chosen_response == TRUE_ANSWER and signal.trainable and signal.critic_passed


def test_signals_store_the_grounding_the_turn_was_answered_with(sim, make_settings, start_gateway, kb):
    """Complete and streamed turns store the grounding every provider got, the knowledge base's hash and the prompt
    contract's version: what export takes instead of rebuilding it (components.export.export.stored_grounding)."""
    retriever = Retriever(kb)
    gateway = start_gateway(make_settings([provider(sim, "openai")]), retriever=retriever)
    questions = ["How much for 20 adults and 5 kids?", "Do you serve kobe beef?"]
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    client.chat.completions.create(model="hibachi", messages=[{"role": "user", "content": questions[0]}])
    sent = sim.app.state.simulator.last_system["openai-model"]
    list(client.chat.completions.create(model="hibachi", stream=True,
                                        messages=[{"role": "user", "content": questions[1]}]))
    signals = {s.prompt: s for s in _signals(gateway)}
    assert signals[questions[0]].grounding == sent
    for question in questions:
        signal = signals[question]
        assert signal.grounding == prompt.grounding(retriever, question)
        assert signal.grounding_kb_sha256 == knowledge_sha256(kb)
        assert signal.grounding_version == prompt.PROMPT_VERSION


def test_a_streamed_answer_is_verified_by_the_critic_before_its_first_byte(sim, make_settings, start_gateway):
    """The first teacher answers wrongly and fastest: a plain reply skips it, and so must a streamed one."""
    set_faults(sim, "liar-model", answer=FALSE_ANSWER)
    set_faults(sim, "honest-model", latency_ms=150)
    gateway = start_gateway(make_settings([provider(sim, "liar"), provider(sim, "honest", kind="anthropic")]))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="hibachi", stream=True, messages=[{"role": "user", "content": "How much per adult?"}])
    assert raw.headers["x-served-by"] == "teacher"
    assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices) == TRUE_ANSWER
    [signal] = _signals(gateway)
    assert signal.chosen_provider == "honest" and signal.critic_passed and signal.trainable
    assert signal.stream_error is None


def test_a_relayed_stream_is_judged_once_complete(sim, make_settings, start_gateway):
    """stream_mode relay: the first healthy teacher streams unchecked; the verdict is stored with the turn."""
    set_faults(sim, "liar-model", answer=FALSE_ANSWER)
    gateway = start_gateway(make_settings([provider(sim, "liar"), provider(sim, "honest", kind="anthropic")],
                                          gateway={"stream_mode": "relay"}))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="hibachi", stream=True, messages=[{"role": "user", "content": "How much per adult?"}])
    assert "x-served-by" not in raw.headers  # not known before the first byte
    assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices) == FALSE_ANSWER
    [signal] = _signals(gateway)
    assert signal.chosen_provider == "liar" and not signal.critic_passed


def test_raw_stream_ends_with_done(gateway):
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", headers=CUSTOMER, timeout=10, json={
            "messages": [{"role": "user", "content": "hi"}], "stream": True}) as response:
        lines = [line for line in response.iter_lines() if line]
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)


def test_the_critic_rejected_teacher_is_not_served(sim, make_settings, start_gateway):
    set_faults(sim, "liar-model", answer=FALSE_ANSWER)
    gateway = start_gateway(make_settings([provider(sim, "liar"), provider(sim, "honest", kind="anthropic")]))
    for _ in range(3):
        assert chat(gateway).json()["choices"][0]["message"]["content"] == TRUE_ANSWER
    signals = _signals(gateway)
    assert [s.chosen_provider for s in signals] == ["honest"] * 3
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert 'gateway_violations_total{adapter_version="",category="not_offered",provider="liar",role="teacher"} 3.0' \
        in metrics
    # No hallucination categories configured: any violation makes the answer one, as the canary analysis counts.
    assert 'gateway_hallucinated_answers_total{adapter_version="",provider="liar",role="teacher"} 3.0' in metrics
    assert 'gateway_hallucinated_answers_total{adapter_version="",provider="honest"' not in metrics


def test_only_the_configured_hallucination_categories_count_as_hallucinations(sim, make_settings, start_gateway):
    set_faults(sim, "liar-model", answer=FALSE_ANSWER)
    gateway = start_gateway(make_settings([provider(sim, "liar"), provider(sim, "honest", kind="anthropic")],
                                          analysis={"hallucination_categories": ["price"]}))
    chat(gateway)
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert 'gateway_violations_total{adapter_version="",category="not_offered",provider="liar"' in metrics
    assert 'gateway_hallucinated_answers_total{adapter_version="",provider="liar"' not in metrics


def test_all_teachers_rejected_gives_the_safe_answer_or_503_in_strict_mode(sim, make_settings, start_gateway):
    set_faults(sim, "liar-model", answer=FALSE_ANSWER)
    gateway = start_gateway(make_settings([provider(sim, "liar")]))
    response = chat(gateway)
    assert response.status_code == 200 and response.headers["x-served-by"] == "safe_default"
    answer = response.json()["choices"][0]["message"]["content"]
    assert "wagyu" not in answer.lower() and "Adults are $60 per person." in answer
    strict = chat(gateway, headers={"X-Hibachi-Strict": "true"})
    assert strict.status_code == 503 and int(strict.headers["retry-after"]) >= 1
    assert strict.json()["error"]["type"] == "service_unavailable"
    signals = _signals(gateway)
    assert [s.served_by for s in signals] == ["safe_default", "safe_default"]
    assert not any(s.trainable for s in signals) and signals[1].stream_error == "no answer: HTTP 503"


def test_session_id_from_header_wins_and_is_validated(gateway):
    assert chat(gateway, headers={"X-Session-Id": "abc"}, user="other").headers["x-session-id"] == "abc"
    generated = chat(gateway).headers["x-session-id"]
    assert len(generated) == 32
    bad = chat(gateway, headers={"X-Session-Id": "has spaces"})
    assert bad.status_code == 422 and "session id" in bad.json()["detail"]


def test_any_openai_user_gets_an_answer_under_a_stable_session_id_that_does_not_contain_it(gateway):
    """OpenAI's ``user`` is free text; it once had to be a session id, so these customers got a 422 and no answer."""
    users = ["jane.doe+party@example.com", "jane@example.com", "Jane Doe", "user/42", "é", "x" * 65, "x" * 256]
    ids = {}
    for user in users:
        first, again = chat(gateway, user=user), chat(gateway, user=user)
        assert first.status_code == again.status_code == 200, (user, first.text[:200])
        ids[user] = first.headers["x-session-id"]
        assert again.headers["x-session-id"] == ids[user]  # the same customer stays on its sticky traffic arm
        assert re.fullmatch(ID_PATTERN, ids[user]) and user not in ids[user] and "@" not in ids[user]
        # The id the header gives is the one outcome reports use.
        outcome = httpx.post(f"{gateway.url}/v1/sessions/{ids[user]}/outcome", headers=CUSTOMER,
                             json={"led_to_booking": True}, timeout=10)
        assert outcome.status_code == 202
    assert len(set(ids.values())) == len(users)
    assert chat(gateway, user="sess-2").headers["x-session-id"] == "sess-2"  # a session id stays as it is
    wait_stored(gateway)
    with state_of(gateway).sessions() as session:
        stored = dict(session.execute(select(ChatSession.id, ChatSession.customer_user)).all())
    assert {ids[user]: stored[ids[user]] for user in users} == {ids[user]: user for user in users}  # kept as sent
    for refused in ("x" * 257, "a\x00b"):  # longer than the database keeps, or text it cannot store
        assert chat(gateway, user=refused).status_code == 422


def test_a_user_that_is_no_session_id_maps_to_one_stable_id_per_user():
    assert session_id_for_user("sess-1") == "sess-1"
    derived = session_id_for_user("Jane Doe")
    assert derived == session_id_for_user("Jane Doe") != session_id_for_user("jane doe")
    assert derived.startswith("user-") and len(derived) == 37 and re.fullmatch(ID_PATTERN, derived)
    assert session_id_for_user("jane@example.com").startswith("user-")  # valid, but an address: not verbatim


TOOL = {"type": "function", "function": {"name": "book", "parameters": {"type": "object", "properties": {}}}}


def test_asking_for_more_than_one_text_answer_is_a_400_naming_the_parameter(gateway):
    """These were accepted and ignored: one prose choice came back, and a client that asked for JSON crashed on it."""
    refused = [({"n": 2}, "n"), ({"n": 3, "stream": True}, "n"), ({"tools": [TOOL]}, "tools"),
               ({"tools": [TOOL], "tool_choice": "auto"}, "tool_choice"), ({"tool_choice": "required"}, "tool_choice"),
               ({"tool_choice": {"type": "function", "function": {"name": "book"}}}, "tool_choice"),
               ({"functions": [TOOL["function"]]}, "functions"), ({"function_call": "auto"}, "function_call"),
               ({"response_format": {"type": "json_object"}}, "response_format"),
               ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}},
                "response_format")]
    for body, param in refused:
        response = chat(gateway, **body)
        assert response.status_code == 400, (body, response.text[:200])
        error = response.json()["error"]
        assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param,
                                                                  "unsupported_parameter"), body
        assert "text only" in error["message"] or "one choice" in error["message"]
    # What clients send when they want exactly one text answer keeps working.
    for body in ({"n": 1}, {"tools": []}, {"functions": []}, {"tool_choice": "none"}, {"function_call": "none"},
                 {"tools": [TOOL], "tool_choice": "none"}, {"response_format": {"type": "text"}},
                 {"n": 1, "tools": [], "tool_choice": "none", "stream": True}):
        assert chat(gateway, **body).status_code == 200, body
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    with pytest.raises(openai.BadRequestError) as raised:  # the SDK surfaces the reason
        client.chat.completions.create(model="hibachi", messages=[{"role": "user", "content": "price?"}],
                                       response_format={"type": "json_object"})
    assert raised.value.param == "response_format" and raised.value.code == "unsupported_parameter"


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"messages": []}, 422, "messages"),
    ({"messages": [{"role": "assistant", "content": "hi"}]}, 422, "last message"),
    ({"messages": [{"role": "user", "content": "x" * 5000}]}, 422, "characters"),
    ({"messages": [{"role": "user", "content": "hi"}] * 51}, 422, "too many messages"),
    ({"messages": "nope"}, 422, "messages"),
])
def test_bad_input_gets_a_clear_4xx(gateway, body, status, words):
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=CUSTOMER, timeout=10)
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_oversized_body_is_refused_with_413(gateway):
    huge = {"messages": [{"role": "user", "content": "x" * 70_000}]}
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=huge, headers=CUSTOMER, timeout=10)
    assert response.status_code == 413 and "larger than" in response.json()["detail"]


def test_best_prefers_quality_then_speed():
    slow = CandidateResult("a", "m", "teacher", response="x", critic_passed=True, quality_score=0.9, latency_ms=50)
    fast = CandidateResult("b", "m", "teacher", response="y", critic_passed=True, quality_score=0.9, latency_ms=5)
    better = CandidateResult("c", "m", "teacher", response="z", critic_passed=True, quality_score=0.99,
                             latency_ms=90)
    failed = CandidateResult("d", "m", "teacher", response="w", critic_passed=False, quality_score=1.0)
    assert Ensemble.best([slow, fast]) is fast
    assert Ensemble.best([slow, fast, better, failed]) is better
    assert Ensemble.best([failed]) is None


def test_cors_is_off_by_default_and_configurable(sim, make_settings, start_gateway, gateway):
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    closed = httpx.options(f"{gateway.url}/v1/chat/completions", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    opened = start_gateway(make_settings([provider(sim, "openai")], gateway={"cors_origins": ["https://shop.example"]}))
    allowed = httpx.options(f"{opened.url}/v1/chat/completions", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"


def test_a_client_leaving_a_relayed_stream_still_leaves_an_untrainable_signal(sim, make_settings, start_gateway):
    set_faults(sim, "slow-model", chunk_delay_ms=100)
    gateway = start_gateway(make_settings([provider(sim, "slow")], gateway={"stream_mode": "relay"}))
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", headers=CUSTOMER, timeout=10, json={
            "messages": [{"role": "user", "content": "hi"}], "stream": True}) as response:
        for line in response.iter_lines():
            if '"content":"Adults' in line:
                break  # the customer closes the connection after the first words
    deadline = time.monotonic() + 5
    signals = []
    while not signals and time.monotonic() < deadline:
        time.sleep(0.1)
        signals = _signals(gateway)
    [signal] = signals
    assert signal.trainable is False and signal.stream_error == "client disconnected"


async def test_a_fast_critic_stays_inline_and_a_cpu_heavy_one_moves_off():
    from gateway_harness import WagyuCritic

    from gateway.ensemble import Judge
    from gateway.metrics import GatewayMetrics

    class BusyCritic(WagyuCritic):
        def evaluate(self, prompt, response):
            deadline = time.thread_time() + 0.004  # 4 ms of CPU
            while time.thread_time() < deadline:
                pass
            return super().evaluate(prompt, response)

    fast, busy = Judge(WagyuCritic(), GatewayMetrics()), Judge(BusyCritic(), GatewayMetrics())
    for _ in range(3):
        await fast.evaluate("q", "a")
        await busy.evaluate("q", "a")
    assert not fast.off_loop and fast.average_s < Judge.INLINE_BUDGET_S
    assert busy.off_loop and busy.average_s > Judge.INLINE_BUDGET_S


async def test_a_slow_critic_moves_off_the_event_loop():
    from gateway_harness import WagyuCritic

    from gateway.ensemble import Judge
    from gateway.metrics import GatewayMetrics

    class SlowCritic(WagyuCritic):
        def evaluate(self, prompt, response):
            time.sleep(0.01)
            return super().evaluate(prompt, response)

    judge = Judge(SlowCritic(), GatewayMetrics())
    for _ in range(3):
        await judge.evaluate("q", "a")
    assert judge.off_loop and judge.average_wait_s > Judge.BLOCKING_BUDGET_S  # later calls go through a thread
    verdict = await judge.evaluate("q", "wagyu")
    assert verdict.passed is False
