"""Gateway benchmarks, each against a baseline measured in the same run against the same simulated provider.

1. Overhead: the gateway (auth, grounding, critic, journal fsync + background capture) over a direct
   ``openai`` SDK call to the simulator, p50 and p99 added milliseconds at 50, 100 and 200 requests/s
   (open-loop load: requests start on schedule whether or not earlier ones finished). Target p50 < 5 ms.
2. Shadow: served latency with the shadow policy on vs off when the local model is 5x slower than the
   teacher (20 ms vs 100 ms). Target ratio <= 1.05.

The simulator and the gateway run as separate processes (this module re-invoked with ``--serve-*``);
the load generator runs here. ``python -m benchmarks.bench_gateway [--quick]`` prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TEACHER_MS = 20
ROUNDS = 3
LOCAL_MS = 100
ANSWER = "Adults are $60 per person and children are $30 per person."


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _components():
    """The real critic and retriever when their packages are present, otherwise labelled stand-ins."""
    try:
        from hibachi.critic import get_critic  # noqa: I001 - first-party status flips when retrieval lands
        from hibachi.knowledge import load_knowledge_base
        from hibachi.retrieval import Retriever

        return get_critic(), Retriever(load_knowledge_base()), "real critic and retriever"
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "gateway"))
        from gateway_harness import FactsRetriever, WagyuCritic

        return WagyuCritic(), FactsRetriever(), "stand-in critic and retriever (hibachi.critic/retrieval absent)"


def _serve_gateway(port: int) -> None:
    import uvicorn

    from gateway.app import create_app
    from hibachi.settings import get_settings

    critic, retriever, _ = _components()
    uvicorn.run(create_app(get_settings(), critic=critic, retriever=retriever), host="127.0.0.1", port=port,
                log_level="warning", access_log=False)


def _serve_simulator(port: int) -> None:
    import uvicorn

    from devkit.simulators.faults import Faults
    from devkit.simulators.server import create_simulator_app

    app = create_simulator_app()
    app.state.simulator.faults.default = Faults(answer=ANSWER)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    from devkit.processes import free_port

    return free_port()


def _spawn(role: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    # A log file, not a pipe: an unread pipe fills up and would stall the server mid-benchmark.
    log = tempfile.NamedTemporaryFile(prefix=f"bench-{role}-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_gateway", f"--serve-{role}", str(port)],
                               env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=log,
                               start_new_session=True)
    log.close()
    deadline = time.monotonic() + 60
    ready = f"http://127.0.0.1:{port}/" + ("health/ready" if role == "gateway" else "health")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{role} exited: {Path(log.name).read_text()[-2000:]}")
        try:
            if httpx.get(ready, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{role} did not become ready")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


async def _load(base_url: str, model: str, rate: float, seconds: float, api_key: str) -> list[float]:
    """Open-loop load; returns each request's latency in ms (failed requests raise)."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
    latencies: list[float] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        await client.chat.completions.create(model=model, user=f"bench-{i % 500}",
                                             messages=[{"role": "user", "content": f"How much per adult? #{i % 50}"}])
        latencies.append((time.perf_counter() - started) * 1000)

    # Warm up connections, caches, the capture writer and the allocator: one second of the same load.
    for i in range(int(rate)):
        await asyncio.sleep(1 / rate)
        asyncio.create_task(one(i))
    await asyncio.sleep(0.5)
    latencies.clear()
    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    await client.close()
    return latencies


def run(quick: bool = False) -> list[dict]:
    seconds = 2.0 if quick else 5.0
    rates = (50, 100, 200)
    rows: list[dict] = []
    sim_port = _free_port()
    sim = _spawn("simulator", sim_port, {})
    teacher = {"name": "openai", "kind": "openai", "model": f"gpt-4o@latency_ms={TEACHER_MS}",
               "base_url": f"http://127.0.0.1:{sim_port}/v1", "timeout_s": 10, "max_retries": 0}
    student = {"name": "local", "kind": "openai_compatible", "role": "student",
               "model": f"hibachi-llama@latency_ms={LOCAL_MS}", "base_url": f"http://127.0.0.1:{sim_port}/openai/v1",
               "timeout_s": 10, "max_retries": 0}
    _, _, components = _components()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for policy in ("teacher", "shadow"):
                env = {"HIBACHI_DATA_DIR": str(Path(tmp) / policy), "HIBACHI_ENVIRONMENT": "development",
                       "HIBACHI_CONFIG_FILE": str(Path(tmp) / "none.yaml"), "HIBACHI_LOG_LEVEL": "WARNING",
                       "HIBACHI_GATEWAY__RATE_LIMIT_PER_MINUTE": "1000000",
                       "HIBACHI_PROVIDERS": json.dumps([teacher, student]), "HIBACHI_TRAFFIC__POLICY": policy}
                port = _free_port()
                gateway = _spawn("gateway", port, env)
                try:
                    if policy == "teacher":
                        for rate in rates:
                            # Alternate short rounds so a neighbour's load on this shared machine hits both alike.
                            direct, via = [], []
                            for _ in range(ROUNDS):
                                direct += asyncio.run(_load(f"http://127.0.0.1:{sim_port}/v1", teacher["model"],
                                                            rate, seconds / ROUNDS, "direct"))
                                via += asyncio.run(_load(f"http://127.0.0.1:{port}/v1", "hibachi", rate,
                                                         seconds / ROUNDS, "dev-customer-key"))
                            for q in (50, 99):
                                base, value = _percentile(direct, q), _percentile(via, q)
                                rows.append({"benchmark": "gateway", "figure": f"overhead p{q} at {rate} rps "
                                             f"(capture on, {components})", "value": round(value - base, 2),
                                             "unit": "ms added", "baseline": round(base, 2),
                                             "ratio": round(value / base, 3),
                                             "target": "< 5 ms" if q == 50 else "",
                                             "meets": (value - base) < 5 if q == 50 else None})
                        off = asyncio.run(_load(f"http://127.0.0.1:{port}/v1", "hibachi", 50, seconds,
                                                "dev-customer-key"))
                        off_direct = asyncio.run(_load(f"http://127.0.0.1:{sim_port}/v1", teacher["model"], 50,
                                                       seconds, "direct"))
                    else:
                        on = asyncio.run(_load(f"http://127.0.0.1:{port}/v1", "hibachi", 50, seconds,
                                               "dev-customer-key"))
                        on_direct = asyncio.run(_load(f"http://127.0.0.1:{sim_port}/v1", teacher["model"], 50,
                                                      seconds, "direct"))
                finally:
                    _stop(gateway)
    finally:
        _stop(sim)
    ratio = statistics.median(on) / statistics.median(off)
    # How busy the machine was during each half: the direct teacher call measured right after it.
    drift = statistics.median(on_direct) / statistics.median(off_direct)
    rows.append({"benchmark": "gateway", "figure": f"served p50 latency, shadow on vs off (local {LOCAL_MS} ms = 5x "
                 f"teacher {TEACHER_MS} ms, 50 rps)", "value": round(statistics.median(on), 2), "unit": "ms",
                 "baseline": round(statistics.median(off), 2), "ratio": round(ratio, 3), "target": "<= 1.05",
                 "meets": ratio <= 1.05})
    rows.append({"benchmark": "gateway", "figure": "control: direct teacher p50 measured beside the shadow-on vs "
                 "shadow-off runs (machine noise)", "value": round(statistics.median(on_direct), 2), "unit": "ms",
                 "baseline": round(statistics.median(off_direct), 2), "ratio": round(drift, 3), "target": "",
                 "meets": None})
    p99_ratio = _percentile(on, 99) / _percentile(off, 99)
    rows.append({"benchmark": "gateway", "figure": "served p99 latency, shadow on vs off", "unit": "ms",
                 "value": round(_percentile(on, 99), 2), "baseline": round(_percentile(off, 99), 2),
                 "ratio": round(p99_ratio, 3), "target": "", "meets": None})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve-gateway", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-simulator", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_gateway:
        return _serve_gateway(args.serve_gateway)
    if args.serve_simulator:
        return _serve_simulator(args.serve_simulator)
    rows = run(quick=args.quick)
    columns = ("figure", "value", "unit", "baseline", "ratio", "target", "meets")
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row.get(c, "")) for c in columns))


if __name__ == "__main__":
    main()
