"""Traffic policies end to end, with the student as just another simulator endpoint."""

from __future__ import annotations

import time

import httpx
import openai
import pytest
from gateway_harness import ADMIN, FALSE_ANSWER, TRUE_ANSWER, chat, provider, set_faults, state_of, wait_stored
from sqlalchemy import select

from gateway.policy import TrafficPolicy, route_for, session_bucket
from hibachi.records import ShadowComparison, TrainingSignal

LOCAL_ANSWER = "Our adult price is $60 per person."


def _gateway(sim, make_settings, start_gateway, policy: str, percent: float = 0, student_answer: str = LOCAL_ANSWER,
             **student_faults):
    set_faults(sim, "hibachi-llama-v7", answer=student_answer, **student_faults)
    settings = make_settings([provider(sim, "openai"), provider(sim, "local", role="student",
                                                                model="hibachi-llama-v7", max_retries=0)],
                             traffic={"policy": policy, "split_percent": percent, "student_timeout_s": 0.5},
                             gateway={"rate_limit_per_minute": 10_000})
    return start_gateway(settings)


def _stored(server, model):
    wait_stored(server)
    with state_of(server).sessions() as session:
        return list(session.scalars(select(model)))


def test_route_is_sticky_and_follows_the_percent():
    policy = TrafficPolicy(policy="split", split_percent=30)
    routes = [route_for(policy, f"session-{i}", has_student=True) for i in range(2000)]
    assert routes == [route_for(policy, f"session-{i}", has_student=True) for i in range(2000)]
    assert 0.27 < routes.count("local") / 2000 < 0.33
    assert route_for(TrafficPolicy(policy="split", split_percent=100), "x", has_student=False) == "teacher"
    assert route_for(TrafficPolicy(policy="shadow"), "x", has_student=True) == "shadow"
    assert 0 <= session_bucket("anything") < 100


def test_shadow_never_changes_the_served_answer_and_stores_a_comparison(sim, make_settings, start_gateway):
    gateway = _gateway(sim, make_settings, start_gateway, "shadow", student_answer=FALSE_ANSWER)
    answers = [chat(gateway, headers={"X-Session-Id": f"s{i}"}) for i in range(5)]
    assert all(r.headers["x-served-by"] == "teacher" for r in answers)
    assert {r.json()["choices"][0]["message"]["content"] for r in answers} == {TRUE_ANSWER}
    deadline = time.monotonic() + 5
    while len(_stored(gateway, ShadowComparison)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    shadows = _stored(gateway, ShadowComparison)
    signals = {s.id: s for s in _stored(gateway, TrainingSignal)}
    assert len(shadows) == 5 and all(s.signal_id in signals for s in shadows)
    assert all(s.local_response == FALSE_ANSWER and s.critic_passed is False for s in shadows)
    assert all(s.teacher_response == TRUE_ANSWER and 0 <= s.similarity < 1 for s in shadows)
    assert all(s.adapter_version == "hibachi-llama-v7" for s in shadows)
    assert all(s.served_by == "teacher" and s.policy == "shadow" for s in signals.values())


def test_shadow_does_not_delay_the_customer(sim, make_settings, start_gateway):
    gateway = _gateway(sim, make_settings, start_gateway, "shadow", latency_ms=1500)
    started = time.perf_counter()
    response = chat(gateway)
    assert response.status_code == 200 and time.perf_counter() - started < 1.0  # the 1.5 s student is not awaited


def test_split_serves_about_p_percent_of_sessions_locally(sim, make_settings, start_gateway):
    gateway = _gateway(sim, make_settings, start_gateway, "split", percent=30)
    sessions = [f"customer-{i}" for i in range(80)]
    served = {s: chat(gateway, headers={"X-Session-Id": s}).headers["x-served-by"] for s in sessions}
    expected = {s: "local" if session_bucket(s) < 30 else "teacher" for s in sessions}
    assert served == expected
    assert 0.15 < list(served.values()).count("local") / len(sessions) < 0.45
    again = {s: chat(gateway, headers={"X-Session-Id": s}).headers["x-served-by"] for s in sessions[:10]}
    assert again == {s: expected[s] for s in sessions[:10]}  # sticky per session
    local = [s for s in _stored(gateway, TrainingSignal) if s.served_by == "local"]
    assert local and all(s.adapter_version == "hibachi-llama-v7" and s.chosen_response == LOCAL_ANSWER
                         for s in local)


@pytest.mark.parametrize("faults", [{"student_answer": FALSE_ANSWER}, {"error_rate": 1.0},
                                    {"hang_rate": 1.0, "hang_s": 6}])
def test_a_failing_local_answer_is_replaced_by_the_teachers(sim, make_settings, start_gateway, faults):
    gateway = _gateway(sim, make_settings, start_gateway, "split", percent=100, **faults)
    started = time.perf_counter()
    response = chat(gateway)
    assert time.perf_counter() - started < 4.0  # the student's 0.5 s timeout, not its 6 s hang
    assert response.headers["x-served-by"] == "fallback"
    assert response.json()["choices"][0]["message"]["content"] == TRUE_ANSWER
    [signal] = _stored(gateway, TrainingSignal)
    assert signal.served_by == "fallback" and signal.chosen_provider == "openai"
    reason = "critic" if "student_answer" in faults else ("timeout" if "hang_rate" in faults else "server")
    assert f'reason="{reason}"' in httpx.get(f"{gateway.url}/metrics").text


def test_split_streams_the_local_answer_or_falls_back(sim, make_settings, start_gateway):
    gateway = _gateway(sim, make_settings, start_gateway, "split", percent=100)
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    stream = client.chat.completions.create(model="hibachi", stream=True,
                                            messages=[{"role": "user", "content": "price?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == LOCAL_ANSWER
    set_faults(sim, "hibachi-llama-v7", answer=FALSE_ANSWER)
    stream = client.chat.completions.create(model="hibachi", stream=True,
                                            messages=[{"role": "user", "content": "price?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == TRUE_ANSWER
    assert [s.served_by for s in sorted(_stored(gateway, TrainingSignal), key=lambda s: s.created_at)] == [
        "local", "fallback"]


def test_outcomes_are_credited_to_the_adapter_that_served(sim, make_settings, start_gateway):
    gateway = _gateway(sim, make_settings, start_gateway, "split", percent=100)
    assert chat(gateway, headers={"X-Session-Id": "booked"}).headers["x-served-by"] == "local"
    httpx.post(f"{gateway.url}/v1/sessions/booked/outcome", headers=ADMIN, json={"led_to_booking": False,
                                                                                 "customer_rating": 2})
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert ('gateway_outcomes_total{adapter_version="hibachi-llama-v7",led_to_booking="false",served_by="local"} 1.0'
            in metrics)
    assert 'gateway_customer_rating_count{adapter_version="hibachi-llama-v7",served_by="local"} 1.0' in metrics


def test_policy_change_at_runtime_takes_effect(sim, make_settings, start_gateway):
    gateway = _gateway(sim, make_settings, start_gateway, "teacher")
    assert chat(gateway).headers["x-served-by"] == "teacher"
    httpx.put(f"{gateway.url}/admin/api/traffic", headers=ADMIN, json={"policy": "split", "split_percent": 100})
    assert chat(gateway).headers["x-served-by"] == "local"


def test_shadow_runs_after_a_streamed_answer_too(sim, make_settings, start_gateway):
    gateway = _gateway(sim, make_settings, start_gateway, "shadow")
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    stream = client.chat.completions.create(model="hibachi", stream=True,
                                            messages=[{"role": "user", "content": "price?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == TRUE_ANSWER
    deadline = time.monotonic() + 5
    while not _stored(gateway, ShadowComparison) and time.monotonic() < deadline:
        time.sleep(0.05)
    [shadow] = _stored(gateway, ShadowComparison)
    assert shadow.local_response == LOCAL_ANSWER and shadow.critic_passed is True
