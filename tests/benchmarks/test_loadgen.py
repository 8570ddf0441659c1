"""The benchmark load generator: open-loop schedule, keep-alive reuse, errors counted, its own CPU measured."""

from __future__ import annotations

import asyncio
import json

from benchmarks.loadgen import open_loop, percentile, post_request


async def _server(delay_s: float, fail_every: int = 0):
    """A minimal HTTP/1.1 server: answers each request after ``delay_s``; every ``fail_every``-th gets a 500."""
    seen = {"requests": 0, "connections": 0, "in_flight": 0, "most_in_flight": 0}

    async def handle(reader, writer):
        seen["connections"] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                body = json.loads(await reader.readexactly(length))
                seen["requests"] += 1
                number = seen["requests"]
                seen["in_flight"] += 1
                seen["most_in_flight"] = max(seen["most_in_flight"], seen["in_flight"])
                await asyncio.sleep(delay_s)
                seen["in_flight"] -= 1
                status = b"500 Oops" if fail_every and number % fail_every == 0 else b"200 OK"
                answer = json.dumps({"echo": body["n"]}).encode()
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(answer)).encode()
                             + b"\r\n\r\n" + answer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


def test_open_loop_keeps_its_schedule_and_reuses_connections():
    async def scenario():
        server, port, seen = await _server(0.02)
        async with server:
            result = await open_loop("127.0.0.1", port, post_request("127.0.0.1", port, "/x", {"n": 1}), rate=200,
                                     seconds=0.5, warmup_s=0.2)
        return result, seen

    result, seen = asyncio.run(scenario())
    assert result.sent == 100 and not result.errors and len(result.latencies_ms) == 100
    assert seen["requests"] == 140  # 40 warm-up requests are sent, not counted
    # Open loop: requests start on schedule (100 of them over 0.5 s) without waiting for earlier answers, so
    # several are in flight at once; a closed loop would have one at a time and take 100 x 20 ms.
    assert result.wall_s > 0.45 and seen["most_in_flight"] >= 2
    assert 20 <= percentile(result.latencies_ms, 50) < 200
    # 20 ms answers at 200/s need about 4 connections at a time, not one per request.
    assert seen["connections"] < 40
    assert 0 < result.cpu_share < 1


def test_failed_requests_are_counted_not_timed():
    async def scenario():
        server, port, _ = await _server(0.0, fail_every=4)
        async with server:
            return await open_loop("127.0.0.1", port, [post_request("127.0.0.1", port, "/x", {"n": i})
                                                       for i in range(3)], rate=100, seconds=0.4, warmup_s=0)

    result = asyncio.run(scenario())
    assert result.sent == 40 and len(result.errors) == 10 and set(result.errors) == {"HTTP 500"}
    assert len(result.latencies_ms) == 30


def test_post_request_is_a_complete_http_message():
    raw = post_request("h", 8, "/v1/chat", {"a": 1}, {"Authorization": "Bearer k"})
    head, body = raw.split(b"\r\n\r\n")
    assert head.startswith(b"POST /v1/chat HTTP/1.1\r\nHost: h:8") and b"Authorization: Bearer k" in head
    assert body == b'{"a":1}' and b"Content-Length: 7" in head
    assert percentile([5, 1, 3], 50) == 3


def test_a_connection_idle_too_long_is_closed_not_reused():
    """The server may be closing it right then (its keep-alive timeout): a request written into it would be lost."""
    from benchmarks.loadgen import _Pool

    async def scenario():
        server, port, seen = await _server(0.0)
        async with server:
            pool = _Pool("127.0.0.1", port, max_idle_s=0.05)
            first = await pool.get()
            pool.put(first)
            assert await pool.get() is first  # fresh enough: reused
            pool.put(first)
            await asyncio.sleep(0.1)
            second = await pool.get()
            pool.close()
        return first, second

    first, second = asyncio.run(scenario())
    assert second is not first and first[1].is_closing()
