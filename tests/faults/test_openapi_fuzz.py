"""Schema-based fuzzing of the gateway's OpenAPI with schemathesis: no input makes it answer 5xx or crash.

The gateway runs for real (uvicorn on loopback, the real critic and retrieval, simulated teachers);
every operation in its published schema gets requests generated from the schema by schemathesis,
sent with the admin key (which also passes the customer routes). It runs on SQLite, and on
PostgreSQL too when HIBACHI_TEST_POSTGRES_URL is set (PostgreSQL refuses some text SQLite stores).

Seeded: ``make test`` runs the same cases every time (FIXED_SEED, a few per operation), so CI is
deterministic. ``make faults`` sets ``FUZZ_SEED=random`` and more examples: a fresh seed each run,
printed with the fault table and in any failure, and ``make faults FUZZ_SEED=<seed>`` replays it.
"""

from __future__ import annotations

import os
import secrets

import httpx
import pytest
import schemathesis
from gateway_harness import ADMIN, provider
from hypothesis import HealthCheck, given, seed, settings

from hibachi.critic import get_critic
from hibachi.knowledge import load_knowledge_base
from hibachi.retrieval import Retriever

pytestmark = [pytest.mark.fault, pytest.mark.storage]

FIXED_SEED = 20261202
EXAMPLES_PER_OPERATION = 25  # with the fixed seed (make test)
RANDOM_EXAMPLES_PER_OPERATION = 150  # with FUZZ_SEED=random (make faults); FUZZ_EXAMPLES overrides


def fuzz_plan(environ=os.environ) -> tuple[int, int]:
    """(seed, examples per operation): fixed unless FUZZ_SEED says 'random' or names a seed to replay."""
    raw = environ.get("FUZZ_SEED", "").strip()
    if not raw:
        return FIXED_SEED, int(environ.get("FUZZ_EXAMPLES") or EXAMPLES_PER_OPERATION)
    chosen = secrets.randbelow(2**32) if raw == "random" else int(raw)
    return chosen, int(environ.get("FUZZ_EXAMPLES") or RANDOM_EXAMPLES_PER_OPERATION)


def test_fuzz_plan_is_fixed_by_default_and_replayable():
    assert fuzz_plan({}) == (FIXED_SEED, EXAMPLES_PER_OPERATION)
    assert fuzz_plan({"FUZZ_SEED": "1234"}) == (1234, RANDOM_EXAMPLES_PER_OPERATION)
    assert fuzz_plan({"FUZZ_SEED": "1234", "FUZZ_EXAMPLES": "7"}) == (1234, 7)
    drawn = {fuzz_plan({"FUZZ_SEED": "random"})[0] for _ in range(5)}
    assert len(drawn) > 1 and all(0 <= s < 2**32 for s in drawn)
# Overload answers are the documented way to say "try again", not crashes.
RETRY_LATER = (503, 504)


def test_generated_requests_never_get_a_server_error(sim, make_settings, start_gateway, fault_table, db_url):
    fuzz_seed, examples = fuzz_plan()
    replay = f"fuzz seed {fuzz_seed} ({examples} examples per operation); replay: make faults FUZZ_SEED={fuzz_seed}"
    print(replay)
    # Wrong keys drawn for the login form must not lock the fuzzing client out of everything else.
    settings_ = make_settings([provider(sim, "openai"), provider(sim, "anthropic", kind="anthropic")],
                              database_url=db_url,
                              gateway={"rate_limit_per_minute": 100_000, "login_free_failures": 1000})
    server = start_gateway(settings_, critic=get_critic(), retriever=Retriever(load_knowledge_base()))
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    sent, failures, operations = 0, [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @seed(fuzz_seed + operations)
        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case):
            nonlocal sent
            response = case.call(base_url=server.url, headers=ADMIN, timeout=15)
            sent += 1
            if response.status_code >= 500 and response.status_code not in RETRY_LATER:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}")

        fuzz()
    fault_table.record(f"schemathesis fuzz of the OpenAPI ({db_url.split(':')[0]})", sent=sent,
                       answered=sent - len(failures), stored=0, expected_stored=0,
                       note=f"{operations} operations, no 5xx; seed {fuzz_seed}")
    assert operations >= 8 and sent >= operations
    assert not failures, replay + "\n" + "\n".join(failures[:10])
    assert httpx.get(f"{server.url}/health/live", timeout=5).status_code == 200  # still up after the fuzz
