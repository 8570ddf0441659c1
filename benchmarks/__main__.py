"""Run every benchmark in benchmarks/ and write one markdown table of figures and ratios.

Each ``bench_<area>.py`` module exposes ``run(quick=False) -> list[dict]``; every row compares a
figure against a baseline measured in the same run, never against a number from another day.

    python -m benchmarks [--quick] [--only critic,gateway] [--out var/benchmarks.md]
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import benchmarks

COLUMNS = ("benchmark", "figure", "value", "unit", "baseline", "ratio", "target", "meets")


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    except ImportError:
        gpu = "torch not installed"
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, {gpu}, Python {platform.python_version()}, {platform.system()}"


def cpu_calibration(repeats: int = 7) -> tuple[float, float]:
    """Best and median CPU-ms of one fixed pure-Python workload (JSON, dicts, strings, a regex: what the gateway
    does per request, in miniature). Shared virtual machines change speed from run to run; figures from two
    runs compare only as far as their calibrations agree."""
    import json
    import re
    import statistics

    word = re.compile(r"[a-z]+")
    payload = {"model": "hibachi", "messages": [{"role": "user", "content": f"How much per adult? #{i}"}
                                                for i in range(20)]}
    times = []
    for _ in range(repeats):
        started = time.process_time()
        for i in range(2000):
            decoded = json.loads(json.dumps(payload))
            words = word.findall(decoded["messages"][i % 20]["content"].lower())
            counts = {w: words.count(w) for w in words}
            "".join(sorted(counts)).upper()
        times.append((time.process_time() - started) * 1000)
    return min(times), statistics.median(times)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


def render(rows: list[dict], machine: str, started: datetime, seconds: float,
           calibration: tuple[tuple[float, float], tuple[float, float]] | None = None) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Run {started:%Y-%m-%d %H:%M UTC} in {seconds:.0f} s on: {machine}.",
        "Each ratio compares the figure with a baseline measured in the same run.",
    ]
    if calibration:
        (best_before, median_before), (best_after, median_after) = calibration
        lines.append(f"CPU calibration (a fixed pure-Python workload, best / median of 7 in CPU-ms; lower is faster): "
                     f"{best_before:.0f} / {median_before:.0f} before the benchmarks, {best_after:.0f} / "
                     f"{median_after:.0f} after. Absolute figures (CPU-ms, latencies) from runs whose calibrations "
                     "differ differ by about as much; the ratios are measured within one run. A slow spell during a "
                     "run shows in the gateway's CPU rows (its machine speed control), not here.")
    lines += [
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(column)) for column in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def discover(only: set[str] | None) -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    return [n for n in names if only is None or n.removeprefix("bench_") in only]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke check")
    parser.add_argument("--only", help="comma-separated areas, e.g. critic,gateway")
    parser.add_argument("--out", default="var/benchmarks.md", help="where the markdown table goes")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    started, clock = datetime.now(UTC), time.perf_counter()
    before = cpu_calibration()
    print(f"CPU calibration: best {before[0]:.0f} CPU-ms, median {before[1]:.0f}", flush=True)
    rows: list[dict] = []
    failures = 0
    for name in discover(only):
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            for row in module.run(quick=args.quick):
                rows.append(row)
                print("   " + ", ".join(f"{k}={_cell(v)}" for k, v in row.items()), flush=True)
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
            failures += 1
            traceback.print_exc()
            rows.append({"benchmark": name, "figure": "FAILED (see log)"})
    after = cpu_calibration()
    table = render(rows, machine_description(), started, time.perf_counter() - clock, (before, after))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table)
    print(table)
    print(f"written to {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
