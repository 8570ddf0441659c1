"""Fault injection: flaky, hanging, malformed and silent teachers; every customer still gets an answer."""

from __future__ import annotations

import errno
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from gateway_harness import CUSTOMER, TRUE_ANSWER, chat, provider, set_faults, state_of, wait_stored
from sqlalchemy import select

from gateway.streaming import STREAM_INTERRUPTED
from hibachi.records import Candidate, ChatSession, TrainingSignal

pytestmark = pytest.mark.fault


def _signals(server) -> list[TrainingSignal]:
    wait_stored(server)
    with state_of(server).sessions() as session:
        return list(session.scalars(select(TrainingSignal)))


def _candidate_errors(server, name: str) -> list[str]:
    with state_of(server).sessions() as session:
        return [e for e in session.scalars(select(Candidate.error).where(Candidate.provider == name)) if e]


def _many(server, count: int, **kwargs) -> list[httpx.Response]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: chat(server, headers={"X-Session-Id": f"f{i}"}, **kwargs), range(count)))


def test_teacher_failing_half_the_time(sim, make_settings, start_gateway, fault_table):
    set_faults(sim, "flaky-model", error_rate=0.5)
    gateway = start_gateway(make_settings([provider(sim, "flaky", max_retries=0), provider(sim, "steady")],
                                          gateway={"breaker_failures": 1000}))
    responses = _many(gateway, 40)
    answered = [r for r in responses if r.status_code == 200]
    signals = _signals(gateway)
    fault_table.record("teacher 500 half the time", sent=40, answered=len(answered), stored=len(signals))
    assert len(answered) == 40 and all(r.json()["choices"][0]["message"]["content"] == TRUE_ANSWER for r in answered)
    assert len(signals) == 40 and all(s.served_by == "teacher" for s in signals)
    errors = _candidate_errors(gateway, "flaky")
    assert 8 <= len(errors) <= 32 and all("500" in e for e in errors)  # the failures are recorded


def test_retries_hide_occasional_errors_of_a_single_teacher(sim, make_settings, start_gateway, fault_table):
    set_faults(sim, "flaky-model", error_rate=0.3, error_status=429)
    gateway = start_gateway(make_settings([provider(sim, "flaky", max_retries=4)],
                                          gateway={"breaker_failures": 1000}))
    responses = _many(gateway, 30)
    signals = _signals(gateway)
    fault_table.record("single teacher 429 30%, retried", sent=30, answered=sum(r.status_code == 200
                                                                                for r in responses),
                       stored=len(signals))
    served = [s.served_by for s in signals]
    assert all(r.status_code == 200 for r in responses)
    assert served.count("teacher") >= 28  # 0.3^5 per request: a safe answer is possible, a lost one is not
    assert sim.app.state.simulator.requests["flaky-model"] > 30  # retried


def test_a_hanging_teacher_does_not_stall_the_others(sim, make_settings, start_gateway, fault_table):
    set_faults(sim, "hang-model", hang_rate=1.0, hang_s=5)
    gateway = start_gateway(make_settings([provider(sim, "hang", timeout_s=0.5, max_retries=0),
                                           provider(sim, "steady")], gateway={"breaker_failures": 1000}))
    started = time.perf_counter()
    responses = _many(gateway, 8)
    elapsed = time.perf_counter() - started
    signals = _signals(gateway)
    fault_table.record("teacher hangs past its timeout", sent=8, answered=len(responses), stored=len(signals))
    assert all(r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == TRUE_ANSWER
               for r in responses)
    assert elapsed < 0.5 + 1.0 + 0.5
    assert all("timeout" in e for e in _candidate_errors(gateway, "hang")) and len(signals) == 8


def test_malformed_json_falls_back_to_another_teacher(sim, make_settings, start_gateway, fault_table):
    set_faults(sim, "broken-model", malformed_rate=1.0)
    gateway = start_gateway(make_settings([provider(sim, "broken", max_retries=0), provider(sim, "steady")]))
    responses = _many(gateway, 6)
    signals = _signals(gateway)
    fault_table.record("teacher returns malformed JSON", sent=6, answered=len(responses), stored=len(signals))
    assert all(r.status_code == 200 for r in responses)
    assert all(s.chosen_provider == "steady" for s in signals)
    assert _candidate_errors(gateway, "broken")[0].startswith("bad_response")


def test_silent_upstream_gives_safe_answer_or_504_within_timeout_plus_one(sim, make_settings, start_gateway,
                                                                          fault_table):
    set_faults(sim, "silent-model", hang_rate=1.0, hang_s=5)
    gateway = start_gateway(make_settings([provider(sim, "silent", timeout_s=0.6, max_retries=0)],
                                          gateway={"breaker_failures": 1000}))
    for strict in (False, True):
        started = time.perf_counter()
        response = chat(gateway, headers={"X-Hibachi-Strict": str(strict).lower()})
        assert time.perf_counter() - started < 0.6 + 1.0
        assert response.status_code == (504 if strict else 200)
    started = time.perf_counter()
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", headers={**CUSTOMER, "X-Hibachi-Strict": "1"},
                      json={"messages": [{"role": "user", "content": "hi"}], "stream": True}, timeout=5) as streamed:
        assert streamed.status_code == 504
    assert time.perf_counter() - started < 0.6 + 1.0
    signals = _signals(gateway)
    # Each request got its specified reply in time: the safe answer, or a 504 for strict clients.
    fault_table.record("only teacher silent (safe answer / 504)", sent=3, answered=3, stored=len(signals),
                       expected_stored=3, note="1 safe answer, 2 strict 504s in time; all recorded")
    assert sorted(s.stream_error or "" for s in signals) == ["", "no answer: HTTP 504", "no answer: HTTP 504"]


@pytest.mark.parametrize("stream_mode", ["verified", "relay"])
def test_stream_breaking_before_the_first_token_falls_back(sim, make_settings, start_gateway, fault_table,
                                                           stream_mode):
    set_faults(sim, "down-model", error_rate=1.0)
    set_faults(sim, "slow-model", latency_ms=3000)
    gateway = start_gateway(make_settings([provider(sim, "down", max_retries=0),
                                           provider(sim, "slow", timeout_s=0.4, max_retries=0),
                                           provider(sim, "steady", kind="anthropic")],
                                          gateway={"breaker_failures": 1000, "stream_mode": stream_mode}))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    stream = client.chat.completions.create(model="hibachi", stream=True,
                                            messages=[{"role": "user", "content": "price?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == TRUE_ANSWER
    [signal] = _signals(gateway)
    fault_table.record(f"stream fails before first token ({stream_mode})", sent=1, answered=1, stored=1)
    assert signal.chosen_provider == "steady" and signal.trainable
    assert _candidate_errors(gateway, "down") and "timeout" in _candidate_errors(gateway, "slow")[0]


@pytest.mark.parametrize("fault", [{"stall_after_chunks": 3, "hang_s": 5}, {"break_after_chunks": 3}])
def test_stream_breaking_mid_answer_ends_with_an_error_event(sim, make_settings, start_gateway, fault_table, fault,
                                                             capfd):
    set_faults(sim, "midway-model", **fault)
    gateway = start_gateway(make_settings([provider(sim, "midway", timeout_s=0.5, max_retries=0),
                                           provider(sim, "steady")], gateway={"stream_mode": "relay"}))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    received = []
    started = time.perf_counter()
    with pytest.raises(openai.APIError, match="interrupted") as raised:
        for chunk in client.chat.completions.create(model="hibachi", stream=True,
                                                    messages=[{"role": "user", "content": "price?"}]):
            received.append(chunk.choices[0].delta.content or "")
    assert time.perf_counter() - started < 0.5 + 1.0
    assert "".join(received) == "Adults are $60 "  # three chunks reached the customer, then the error event
    # The customer learns that it broke, not which provider or why (that once read "midway ...: <its error>").
    assert raised.value.message == STREAM_INTERRUPTED
    [signal] = _signals(gateway)
    fault_table.record(f"stream breaks mid-answer ({next(iter(fault))})", sent=1, answered=1, stored=1,
                       note="error event; trainable=False")
    assert signal.trainable is False and signal.chosen_response == "Adults are $60 "
    assert "midway" in signal.stream_error  # the detail stays in the stored signal and the log
    logged = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    assert [e["error"] for e in logged if e["msg"] == "relayed stream interrupted"] == [signal.stream_error]


def test_a_stalled_first_teacher_leaves_time_for_the_next_when_relaying(sim, make_settings, start_gateway):
    set_faults(sim, "stalled-model", hang_rate=1.0, hang_s=5)
    gateway = start_gateway(make_settings([provider(sim, "stalled", timeout_s=1.0, max_retries=0),
                                           provider(sim, "steady", timeout_s=1.0)],
                                          gateway={"breaker_failures": 1000, "stream_mode": "relay"}))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    started = time.perf_counter()
    stream = client.chat.completions.create(model="hibachi", stream=True,
                                            messages=[{"role": "user", "content": "price?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == TRUE_ANSWER
    assert time.perf_counter() - started < 1.0 + 0.5  # the stalled teacher had half the deadline, not all of it
    [signal] = _signals(gateway)
    assert signal.chosen_provider == "steady" and "timeout" in _candidate_errors(gateway, "stalled")[0]


def test_streams_that_keep_breaking_part_way_open_the_breaker(sim, make_settings, start_gateway):
    set_faults(sim, "midway-model", break_after_chunks=3)
    gateway = start_gateway(make_settings([provider(sim, "midway", max_retries=0), provider(sim, "steady")],
                                          gateway={"breaker_failures": 2, "stream_mode": "relay"}))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    for _ in range(2):
        with pytest.raises(openai.APIError, match="interrupted"):
            list(client.chat.completions.create(model="hibachi", stream=True,
                                                messages=[{"role": "user", "content": "price?"}]))
    stream = client.chat.completions.create(model="hibachi", stream=True,
                                            messages=[{"role": "user", "content": "price?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == TRUE_ANSWER
    assert sim.app.state.simulator.requests["midway-model"] == 2  # cooling down after two broken streams


def test_a_slow_teacher_that_never_fails_does_not_slow_every_answer(sim, make_settings, start_gateway, fault_table):
    """Once an answer passed, the others get gateway.ensemble_grace_s; a slow but healthy teacher is cancelled
    then, recorded as such, and neither its breaker nor its error count moves."""
    set_faults(sim, "sluggish-model", latency_ms=3000)
    gateway = start_gateway(make_settings([provider(sim, "sluggish", timeout_s=5, max_retries=0),
                                           provider(sim, "steady")],
                                          gateway={"ensemble_grace_s": 0.2, "breaker_failures": 1}))
    started = time.perf_counter()
    responses = [chat(gateway, headers={"X-Session-Id": f"s{i}"}) for i in range(3)]
    elapsed = time.perf_counter() - started
    assert [r.json()["choices"][0]["message"]["content"] for r in responses] == [TRUE_ANSWER] * 3
    assert elapsed < 3 * (0.2 + 0.8)  # not 3 x 3 s
    fault_table.record("one teacher slow (3 s) but healthy", sent=3, answered=3, stored=len(_signals(gateway)),
                       note="cancelled after the grace period; answered by the other teacher")
    errors = _candidate_errors(gateway, "sluggish")
    assert len(errors) == 3 and all(e.startswith("cancelled: sluggish was still answering 0.2s") for e in errors)
    assert state_of(gateway).service.ensemble.teachers[0].breaker.available()  # not held against it
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert 'gateway_ensemble_cancelled_total{provider="sluggish"} 3.0' in metrics
    assert 'gateway_provider_errors_total{kind="cancelled"' not in metrics


def test_a_provider_in_cooldown_gets_no_traffic_until_it_expires(sim, make_settings, start_gateway, fault_table):
    set_faults(sim, "down-model", error_rate=1.0)
    gateway = start_gateway(make_settings([provider(sim, "down", max_retries=0), provider(sim, "steady")],
                                          gateway={"breaker_failures": 2, "breaker_cooldown_s": 3.0}))
    requests = sim.app.state.simulator.requests
    for _ in range(2):
        chat(gateway)
    assert requests["down-model"] == 2
    responses = [chat(gateway) for _ in range(5)]
    assert requests["down-model"] == 2  # cooling down: no calls at all
    assert all(r.status_code == 200 for r in responses)
    time.sleep(3.1)  # 5 chats on a busy 2-core machine once outlasted a 0.6 s cooldown
    chat(gateway)
    assert requests["down-model"] == 3  # cooldown over: tried again (half-open), failed, cooling down again
    chat(gateway)
    assert requests["down-model"] == 3
    signals = _signals(gateway)
    fault_table.record("provider in cooldown", sent=9, answered=9, stored=len(signals))
    assert len(signals) == 9
    assert "gateway_provider_skipped_total" in httpx.get(f"{gateway.url}/metrics").text


def test_a_cooling_student_is_skipped_straight_to_the_teacher(sim, make_settings, start_gateway):
    set_faults(sim, "local-model", error_rate=1.0)
    gateway = start_gateway(make_settings(
        [provider(sim, "openai"), provider(sim, "local", role="student", max_retries=0)],
        traffic={"policy": "split", "split_percent": 100}, gateway={"breaker_failures": 1, "breaker_cooldown_s": 30}))
    assert [chat(gateway).headers["x-served-by"] for _ in range(3)] == ["fallback"] * 3
    assert sim.app.state.simulator.requests["local-model"] == 1  # later turns never waited on it
    assert httpx.get(f"{gateway.url}/health/ready").status_code == 200


@pytest.mark.parametrize("stream_mode", ["verified", "relay"])
def test_silent_teachers_share_one_deadline_when_streaming(sim, make_settings, start_gateway, fault_table,
                                                           stream_mode):
    for name in ("mute1", "mute2", "mute3"):
        set_faults(sim, f"{name}-model", hang_rate=1.0, hang_s=5)
    gateway = start_gateway(make_settings([provider(sim, n, timeout_s=0.5, max_retries=0)
                                           for n in ("mute1", "mute2", "mute3")],
                                          gateway={"breaker_failures": 1000, "stream_mode": stream_mode}))
    started = time.perf_counter()
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", headers=CUSTOMER, timeout=10,
                      json={"messages": [{"role": "user", "content": "hi"}], "stream": True}) as response:
        lines = [line for line in response.iter_lines() if line]
    elapsed = time.perf_counter() - started
    fault_table.record(f"three silent teachers, streamed ({stream_mode})", sent=1, answered=1,
                       stored=len(_signals(gateway)),
                       note="safe answer within timeout + 1 s")
    assert response.status_code == 200 and lines[-1] == "data: [DONE]"
    assert elapsed < 0.5 + 1.0  # not 3 x 0.5 s


def test_an_answer_with_a_lone_surrogate_still_reaches_the_customer(sim, make_settings, start_gateway):
    # A provider may send a lone UTF-16 surrogate as a JSON escape; the reply and the signal must not break on it.
    odd = "Adults are $60 per person \ud83d and children $30."
    set_faults(sim, "odd-model", answer=odd)
    gateway = start_gateway(make_settings([provider(sim, "odd")]))
    response = chat(gateway)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == odd
    # Stored with the surrogate replaced (no database driver can encode it), not stuck in the journal for ever.
    assert [s.chosen_response for s in _signals(gateway)] == [odd.replace("\ud83d", "\ufffd")]


def test_a_full_disk_under_the_journal_costs_signals_not_answers(sim, make_settings, start_gateway, fault_table,
                                                                  monkeypatch):
    gateway = start_gateway(make_settings([provider(sim, "steady")]))
    assert chat(gateway, headers={"X-Session-Id": "before"}).status_code == 200
    journal = state_of(gateway).capture.journal
    write = journal._write

    def disk_full(data: bytes) -> None:  # part of the batch reaches the file, then the disk is full
        write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def no_sync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal, "_write", disk_full)
    monkeypatch.setattr("gateway.journal.os.fsync", no_sync)  # readiness's probe write fails too
    answered = chat(gateway, headers={"X-Session-Id": "during"})
    assert answered.status_code == 200 and answered.json()["choices"][0]["message"]["content"] == TRUE_ANSWER
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="dev-customer-key", max_retries=0)
    stream = client.chat.completions.create(model="hibachi", stream=True, extra_headers={"X-Session-Id": "during"},
                                            messages=[{"role": "user", "content": "price?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == TRUE_ANSWER
    outcome = httpx.post(f"{gateway.url}/v1/sessions/before/outcome", json={"led_to_booking": True},
                         headers=CUSTOMER)
    assert outcome.status_code == 503 and outcome.headers["retry-after"] == "30"  # not accepted: send it again
    ready = httpx.get(f"{gateway.url}/health/ready")
    assert ready.status_code == 503 and ready.json()["journal_writable"] is False
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert 'gateway_capture_failures_total{type="signal"} 2.0' in metrics
    assert 'gateway_capture_failures_total{type="outcome"} 1.0' in metrics

    monkeypatch.undo()  # room on the disk again
    assert httpx.get(f"{gateway.url}/health/ready").status_code == 200
    assert chat(gateway, headers={"X-Session-Id": "after"}).status_code == 200
    assert httpx.post(f"{gateway.url}/v1/sessions/before/outcome", json={"led_to_booking": True},
                      headers=CUSTOMER).status_code == 202
    # The torn lines were never acknowledged and nothing was appended behind them: the later records are intact.
    assert sorted(s.session_id for s in _signals(gateway)) == ["after", "before"]
    with state_of(gateway).sessions() as session:
        assert session.get(ChatSession, "before").led_to_booking is True
    fault_table.record("journal disk full (writes fail part way)", sent=3, answered=3, stored=1,
                       note="answered; capture failures counted; readiness 503 until the disk has room")
