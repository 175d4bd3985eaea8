"""The /api/state benchmark still runs (a tiny week; figures are not judged here)."""

from __future__ import annotations

import importlib.util

from ..conftest import REPO


def test_the_state_benchmark_runs():  # synchronous: the bench runs its own trio loop
    spec = importlib.util.spec_from_file_location("th_state_bench",
                                                  REPO / "bench" / "state_bench.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    lines: list[str] = []
    figures = bench.run(lines.append, events=20_000, markets=200, signals=100, requests=5)
    assert figures["stored_events"] >= 20_000 and figures["tape_markets"] == 200
    assert figures["quiet"]["bytes"] > 1000 and figures["ingesting"]["p95_ms"] > 0
    assert any(line.startswith("GET /api/state (quiet") for line in lines)
