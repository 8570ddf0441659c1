"""Schema-based fuzzing of the gateway's OpenAPI with schemathesis: no input makes it answer 5xx or crash.

The gateway runs for real (uvicorn on loopback, the real critic and retrieval, simulated teachers);
every operation in its published schema gets requests generated from the schema by schemathesis,
sent with the admin key (which also passes the customer routes).
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from gateway_harness import ADMIN, provider
from hypothesis import HealthCheck, given, settings

from hibachi.critic import get_critic
from hibachi.knowledge import load_knowledge_base
from hibachi.retrieval import Retriever

pytestmark = pytest.mark.fault

EXAMPLES_PER_OPERATION = 25
# Overload answers are the documented way to say "try again", not crashes.
RETRY_LATER = (503, 504)


def test_generated_requests_never_get_a_server_error(sim, make_settings, start_gateway, fault_table):
    settings_ = make_settings([provider(sim, "openai"), provider(sim, "anthropic", kind="anthropic")],
                              gateway={"rate_limit_per_minute": 100_000})
    server = start_gateway(settings_, critic=get_critic(), retriever=Retriever(load_knowledge_base()))
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    sent, failures, operations = 0, [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            nonlocal sent
            response = case.call(base_url=server.url, headers=ADMIN, timeout=15)
            sent += 1
            if response.status_code >= 500 and response.status_code not in RETRY_LATER:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}")

        fuzz()
    fault_table.record("schemathesis fuzz of the OpenAPI", sent=sent, answered=sent - len(failures), stored=0,
                       expected_stored=0, note=f"{operations} operations, no 5xx")
    assert operations >= 8 and sent >= operations
    assert not failures, "\n".join(failures[:10])
    assert httpx.get(f"{server.url}/health/live", timeout=5).status_code == 200  # still up after the fuzz
