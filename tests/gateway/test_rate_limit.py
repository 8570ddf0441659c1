"""Per-key rate limits: a token bucket per key, in memory for one process, in one shared file for the workers of
``gateway serve --workers N`` so the configured limit holds for the gateway as a whole."""

from __future__ import annotations

import multiprocessing

import pytest

from gateway import rate_limit
from gateway.rate_limit import RateLimiter
from hibachi.errors import UserError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(rate_limit.time, "monotonic", clock)
    return clock


@pytest.fixture(params=["memory", "shared"])
def limiter_kind(request, tmp_path):
    return (lambda per_minute, **kw: RateLimiter(per_minute, **kw)) if request.param == "memory" else (
        lambda per_minute, **kw: RateLimiter(per_minute, tmp_path / "buckets", **kw))


def test_a_burst_up_to_the_limit_then_a_wait_until_the_next_token(clock, limiter_kind):
    limiter = limiter_kind(6)  # 6 a minute: a token every 10 s
    assert [limiter.acquire("k1") for _ in range(6)] == [0.0] * 6
    assert limiter.acquire("k1") == pytest.approx(10.0)
    assert limiter.acquire("k2") == 0.0  # another key has its own bucket
    clock.now += 4
    assert limiter.acquire("k1") == pytest.approx(6.0)
    clock.now += 6
    assert limiter.acquire("k1") == 0.0
    clock.now += 3600  # a long pause refills to the limit, never beyond
    assert [limiter.acquire("k1") for _ in range(7)][-2:] == [0.0, pytest.approx(10.0)]


def test_workers_mapping_one_file_share_each_keys_budget(clock, tmp_path):
    first, second = (RateLimiter(4, tmp_path / "buckets") for _ in range(2))
    allowed = [limiter.acquire("k") == 0.0 for limiter in (first, second, first, second, first, second)]
    assert allowed == [True, True, True, True, False, False]
    assert second.acquire("other") == 0.0


def test_a_full_table_reuses_the_longest_idle_bucket(clock, tmp_path):
    limiter = RateLimiter(2, tmp_path / "buckets", slots=2)
    limiter.acquire("a")
    clock.now += 1
    for _ in range(2):
        limiter.acquire("b")
    assert limiter.acquire("b") > 0  # b is spent
    clock.now += 1
    assert limiter.acquire("c") == 0.0  # no free slot: c takes a's (idle longest) as a full bucket
    assert limiter.acquire("b") > 0  # b's bucket is untouched


def _spend(path: str, attempts: int, ready, go, results) -> None:
    limiter = RateLimiter(10, rate_limit.Path(path))
    ready.put(True)
    go.wait(60)
    results.put(sum(limiter.acquire("shared-key") == 0.0 for _ in range(attempts)))


def test_processes_together_get_the_limit_once(tmp_path):
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Queue(), context.Event(), context.Queue()
    workers = [context.Process(target=_spend, args=(str(tmp_path / "buckets"), 8, ready, go, results))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=60)
    go.set()  # all spend at once: well within the 6 s a token takes to refill at 10 a minute
    spent = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert sum(spent) == 10  # 24 attempts from three processes: the limit once, not 3 x 8


def test_a_shared_directory_that_is_not_there_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="gateway.worker_shared_dir: cannot open .*missing.*No such file"):
        RateLimiter(10, tmp_path / "missing" / "buckets")
