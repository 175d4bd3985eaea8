"""Shared pieces of the benchmarks: each figure runs in its own child process (a clean heap,
its own core pinning, its own peak RSS) and prints one JSON object on its last stdout line."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULT = "BENCH-RESULT "


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 1]) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def pin_one_core() -> int | None:
    """Run this process on one core (the last one), so a figure "on one core" is one core:
    the SQLite writer thread shares it with the event loop. Returns the core, or None where
    affinity is not supported."""
    if not hasattr(os, "sched_setaffinity") or os.environ.get("BENCH_NO_PIN"):
        return None  # BENCH_NO_PIN: for profiling, where each thread should show its own work
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import sqlite3

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()}",
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory,
    }


def peak_rss_mib() -> float:
    """This process's peak resident set size (VmHWM), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result: dict[str, Any]) -> None:
    """The child's answer to :func:`run_child` (the last line it prints)."""
    print(RESULT + json.dumps(result), flush=True)


def run_child(module: str, args: Sequence[str] = (), *, timeout: float = 900) -> dict[str, Any]:
    """Run ``python -m bench.<module> args`` and return the JSON result it emitted; its
    progress lines go to our stderr as they come."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", f"bench.{module}", *args], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    result: dict[str, Any] | None = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(RESULT):
            result = json.loads(line[len(RESULT):])
        else:
            print(f"  {line.rstrip()}", file=sys.stderr, flush=True)
    proc.wait(timeout=timeout)
    if proc.returncode != 0 or result is None:
        raise RuntimeError(f"bench.{module} failed (exit {proc.returncode})")
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def say(text: str) -> None:
    print(text, flush=True)
