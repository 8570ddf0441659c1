"""Drive customer conversations through a running gateway, exactly as a customer's client would.

Each conversation is sent turn by turn with the official ``openai`` client (the gateway is
OpenAI-compatible), then its outcome (booking, rating) is posted to the feedback endpoint. The
customer's outcome depends on what they were told: an answer the critic rejects rarely books.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class ScriptedConversation:
    """What a synthetic customer will say, turn by turn, and how likely they are to book."""

    session_id: str
    user_turns: Sequence[str]
    books_if_well_served: bool
    rating_if_well_served: int | None


@dataclass
class TrafficStats:
    conversations: int = 0
    requests: int = 0
    answered: int = 0
    failed: int = 0
    served_by: dict[str, int] = field(default_factory=dict)
    outcomes: int = 0
    bookings: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, served_by: str | None, latency_ms: float | None) -> None:
        with self._lock:
            self.requests += 1
            if served_by is None:
                self.failed += 1
                return
            self.answered += 1
            self.served_by[served_by] = self.served_by.get(served_by, 0) + 1
            self.latencies_ms.append(latency_ms or 0.0)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else 0.0


class GatewayClient:
    """The customer's and the admin's view of one gateway (base URL and keys)."""

    def __init__(self, base_url: str, customer_key: str, admin_key: str, timeout_s: float = 60.0) -> None:
        from openai import OpenAI

        self.base_url = base_url.rstrip("/")
        self.openai = OpenAI(base_url=f"{self.base_url}/v1", api_key=customer_key, max_retries=2, timeout=timeout_s)
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout_s,
                                 headers={"Authorization": f"Bearer {customer_key}"})
        self.admin = httpx.Client(base_url=self.base_url, timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {admin_key}"})

    def close(self) -> None:
        self.http.close()
        self.admin.close()
        self.openai.close()

    def chat(self, session_id: str, messages: list[dict]) -> tuple[str, str]:
        raw = self.openai.chat.completions.with_raw_response.create(
            model="hibachi", messages=messages, extra_headers={"X-Session-Id": session_id})
        completion = raw.parse()
        return completion.choices[0].message.content or "", raw.headers.get("x-served-by", "unknown")

    def outcome(self, session_id: str, led_to_booking: bool, rating: int | None) -> None:
        body = {"led_to_booking": led_to_booking, "customer_rating": rating}
        self.http.post(f"/v1/sessions/{session_id}/outcome", json=body).raise_for_status()

    def set_policy(self, policy: str, percent: float = 0.0, reason: str = "") -> dict:
        response = self.admin.put("/admin/api/traffic", json={"policy": policy, "split_percent": percent,
                                                               "reason": reason, "updated_by": "hibachi demo"})
        response.raise_for_status()
        return response.json()

    def signals(self, **filters) -> dict:
        response = self.admin.get("/admin/api/signals", params={k: v for k, v in filters.items() if v is not None})
        response.raise_for_status()
        return response.json()

    def correct(self, signal_id: str, corrected: str, reason: str) -> None:
        response = self.admin.post(f"/admin/api/signals/{signal_id}/corrections",
                                   json={"corrected_response": corrected, "reason": reason, "author": "hibachi demo"})
        response.raise_for_status()

    def ready(self) -> dict:
        return self.http.get("/health/ready").json()


def _run_conversation(client: GatewayClient, conversation: ScriptedConversation, stats: TrafficStats,
                      judge: Callable[[str, str], bool], rng: random.Random) -> None:
    messages: list[dict] = []
    well_served = True
    for user_text in conversation.user_turns:
        messages.append({"role": "user", "content": user_text})
        started = time.perf_counter()
        try:
            answer, served_by = client.chat(conversation.session_id, messages)
        except Exception:  # noqa: BLE001 - a failed turn is counted, the conversation ends like a real one would
            stats.add(None, None)
            well_served = False
            break
        stats.add(served_by, (time.perf_counter() - started) * 1000)
        messages.append({"role": "assistant", "content": answer})
        well_served = well_served and judge(user_text, answer)
    books = conversation.books_if_well_served and well_served and rng.random() < 0.9
    rating = conversation.rating_if_well_served if well_served else rng.choice([1, 2, 3])
    try:
        client.outcome(conversation.session_id, books, rating)
        with stats._lock:
            stats.outcomes += 1
            stats.bookings += int(books)
    except httpx.HTTPError:
        pass
    with stats._lock:
        stats.conversations += 1


def drive(client: GatewayClient, conversations: Sequence[ScriptedConversation], *, concurrency: int,
          judge: Callable[[str, str], bool], seed: int = 0,
          progress: Callable[[int], None] | None = None) -> TrafficStats:
    """Send every conversation (``concurrency`` at a time); returns what was sent and answered."""
    stats = TrafficStats()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(_run_conversation, client, c, stats, judge, random.Random(f"{seed}:{c.session_id}"))
                   for c in conversations]
        for future in as_completed(futures):
            future.result()
            if progress:
                progress(1)
    return stats
