"""The market-series benchmark still runs (a tiny week; figures are not judged here)."""

from __future__ import annotations

import importlib.util

from ..conftest import REPO


def test_the_market_series_benchmark_runs():  # synchronous: the bench runs its own trio loop
    spec = importlib.util.spec_from_file_location("th_market_bench",
                                                  REPO / "bench" / "market_series.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    lines: list[str] = []
    figures = bench.run(lines.append, events=5_000, markets=50, busy=6_000, signals=10,
                        requests=2)
    assert figures["1w"]["trades_in_range"] == 4_000 and figures["1w"]["points"] <= 2_000
    assert figures["detail"]["signals"] == 10
    assert any(line.startswith("GET /series range=1w") for line in lines)
