"""An open-loop HTTP/1.1 load generator cheap enough not to be the bottleneck on a 2-core machine.

Requests start on a fixed schedule (``rate`` per second) whether or not earlier ones finished, so a slow
server shows up as latency, never as a politely lowered rate. Each request is pre-serialised bytes written
to a kept-alive connection from a pool (a new connection only when all are busy); the response is read by
its Content-Length. No HTTP library, no SDK: a few tens of microseconds of CPU per request, measured and
reported (``cpu_s``), so a reader can see that the generator was not what saturated.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field


def post_request(host: str, port: int, path: str, body: dict, headers: dict[str, str] | None = None) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(payload)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@dataclass
class LoadResult:
    sent: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # one per successful (2xx) response
    errors: list[str] = field(default_factory=list)  # one per failed request: status line or exception
    wall_s: float = 0.0
    cpu_s: float = 0.0  # this process's CPU over the measured window

    @property
    def cpu_share(self) -> float:
        """The generator's own CPU as a share of one core."""
        return self.cpu_s / self.wall_s if self.wall_s else 0.0


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            raise ValueError("chunked responses are not supported by this generator")
    if length:
        await reader.readexactly(length)
    return status


class _Pool:
    """Kept-alive connections, most recently used first. One idle for ``max_idle_s`` is closed rather than reused,
    as HTTP clients do: the server may be closing it at that very moment (uvicorn's default keep-alive is 5 s), and
    a request written into a closing connection is lost before the server reads it."""

    def __init__(self, host: str, port: int, max_idle_s: float = 2.0) -> None:
        self.host, self.port, self.max_idle_s = host, port, max_idle_s
        self.idle: list[tuple[float, tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = []
        self.all: list[asyncio.StreamWriter] = []

    async def get(self):
        while self.idle:
            since, connection = self.idle.pop()
            if time.monotonic() - since < self.max_idle_s:
                return connection
            connection[1].close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.all.append(writer)
        return reader, writer

    def put(self, connection) -> None:
        self.idle.append((time.monotonic(), connection))

    def close(self) -> None:
        for writer in self.all:
            writer.close()


async def open_loop(host: str, port: int, request: bytes | list[bytes], rate: float, seconds: float,
                    warmup_s: float = 1.0, timeout_s: float = 30.0) -> LoadResult:
    """Send ``rate`` requests per second for ``seconds`` (after ``warmup_s`` of the same load, not counted).

    ``request`` may be a list: request ``i`` sends ``request[i % len(request)]``.
    """
    requests = request if isinstance(request, list) else [request]
    pool = _Pool(host, port)
    result = LoadResult()

    async def one(i: int, counted: bool) -> None:
        started = time.perf_counter()
        connection = None
        try:
            connection = await pool.get()
            reader, writer = connection
            writer.write(requests[i % len(requests)])
            status = await asyncio.wait_for(_read_response(reader), timeout_s)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            if connection is not None:
                connection[1].close()
            if counted:
                result.errors.append(f"{type(exc).__name__}: {exc}")
            return
        pool.put(connection)
        if not counted:
            return
        if 200 <= status < 300:
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            result.errors.append(f"HTTP {status}")

    async def schedule(count: int, offset: int, counted: bool) -> list[asyncio.Task]:
        tasks = []
        start = time.perf_counter()
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(offset + i, counted)))
        return tasks

    warm = await schedule(int(rate * warmup_s), 0, False)
    await asyncio.gather(*warm)
    cpu, wall = time.process_time(), time.perf_counter()
    tasks = await schedule(int(rate * seconds), len(warm), True)
    result.sent = len(tasks)
    await asyncio.gather(*tasks)
    result.wall_s, result.cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    pool.close()
    return result


def run_open_loop(*args, **kwargs) -> LoadResult:
    """``open_loop`` on a fresh event loop (uvloop when installed)."""
    try:
        import uvloop

        return uvloop.run(open_loop(*args, **kwargs))
    except ImportError:
        return asyncio.run(open_loop(*args, **kwargs))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]
