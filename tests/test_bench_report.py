"""The benchmark report (bench/report.py): every figure with its reference, ratio and target,
unmet targets marked and explained, the record of changes appended. No timing here: the
figures are made up."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from .conftest import REPO


def load_report():
    spec = importlib.util.spec_from_file_location("th_bench_report", REPO / "bench" / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def latency(p50: float, p99: float) -> dict[str, float]:
    return {"count": 100, "p50_ms": p50, "p99_ms": p99, "max_ms": p99 * 1.5}


RESULTS = {
    "machine": {"date": "2026-11-27 09:00 UTC", "python": "CPython 3.11.7", "sqlite": "3.45.1",
                "os": "Linux 6.1", "cpu": "Test CPU", "cores": 2, "memory_gib": 4.0},
    "quick": False, "total_seconds": 200,
    "ingest": {"frames": 200_000, "markets": 2000, "events": 192_126, "signals": 133,
               "repeat": 3, "events_per_s": 42_000.0, "floor_events_per_s": 90_000.0,
               "ratio": 42 / 90, "events_per_cpu_s": 43_000.0,
               "floor_events_per_cpu_s": 95_000.0, "cpu_ratio": 43 / 95, "loop_us": 15.0,
               "writer_us": 8.0, "floor_us": 10.5, "all_runs": [41_000, 42_000, 40_000],
               "all_floors": [90_000, 88_000, 89_000], "load": [1.5, 1.0, 1.0]},
    "latency": {"rate": 2000.0, "seconds": 30.0, "markets": 2000, "achieved_rate": 1999.0,
                "signals": 600, "detected": latency(0.3, 0.6), "notified": latency(50, 105),
                "committed": latency(55, 104), "repeated_alerts": 0, "load": [1.0, 1, 1]},
    "state": {"stored_events": 2_064_000, "markets": 2000, "tape_markets": 2000,
              "live_signals": 300, "requests": 300, "scan_ms": 200.0,
              "quiet": {"p50_ms": 3.6, "p95_ms": 5.3, "bytes": 177_000, "frames_per_s": 0,
                        "events_per_s": 0},
              "ingesting": {"p50_ms": 3.7, "p95_ms": 4.8, "bytes": 178_000,
                            "frames_per_s": 2099.0, "events_per_s": 2012.0}},
    "memory": {"markets": 5000, "minutes": 60.0, "warm_minutes": 40.0, "frames": 1_200_000,
               "events": 1_152_055, "signals": 959, "seconds_run": 45.0,
               "peak_rss_mib": 260.0, "end_rss_mib": 250.0, "idle_rss_mib": 120.0,
               "db_mib": 250.0},
    "profile": {"events": 96_018, "loop_us": 24.0, "writer_us": 6.0,
                "writer_parts_us": {"event inserts": 4.0, "commits and queue": 2.0},
                "loop_table": [{"function": "_remember (spike.py:215)", "self_us": 3.5,
                                "total_us": 4.2}],
                "detector_us": {"20": 1.5, "2000": 3.2}},
    "startup": {"empty_s": 0.5, "week_s": 0.6, "empty_runs": [0.5, 0.5, 0.6],
                "week_runs": [0.9, 0.6, 0.55], "week_db_mb": 412.0, "week_events": 2_064_000,
                "repeat": 3},
}


def test_every_figure_is_reported_with_reference_ratio_and_target():
    report = load_report()
    rows = {row["figure"].strip(): row for row in report.rows(RESULTS)}
    ingest = rows["1. Ingest, one core (wall clock)"]
    assert (ingest["measured"], ingest["reference"], ingest["ratio"], ingest["met"]) == (
        "42,000 events/s", "floor 90,000 events/s", "0.47 × floor", "NO")
    assert rows["2. Frame → signal handed to notifiers"]["met"] == "yes"
    assert rows["frame → committed in SQLite"]["ratio"] == "0.35 × target"
    assert rows["3. GET /api/state, 2,012 events/s in"]["met"] == "yes"
    assert rows["payload"]["measured"] == "178 KB"
    memory = rows["4. Peak RSS, 5,000 markets, 60 min of traffic"]
    assert (memory["measured"], memory["met"]) == ("273 MB (260 MiB)", "NO")
    assert rows["5. Start-up, empty home"]["ratio"] == "0.25 × target"
    table = report.render_table(RESULTS)
    assert all(name in table for name in rows)


def test_the_document_names_the_machine_explains_a_miss_and_records_the_changes():
    text = load_report().render_markdown(RESULTS, "./run-bench")
    assert "Test CPU, 2 cores" in text and "CPython 3.11.7" in text and "2026-11-27" in text
    assert "**Not met in this run: 42,000 events/s against 50,000.**" in text
    assert "15.0 in the event loop, 8.0 in SQLite" in text
    assert "0 of 3 pipeline runs reached 50,000 events/s" in text
    assert "0.45-0.48 of the floor measured just before it (median 0.46)" in text
    assert "| 3.50 | 4.20 | `_remember (spike.py:215)` |" in text
    assert "1.50 µs per event over 20 markets and 3.20 µs over 2,000" in text
    assert "## What was changed for these figures" in text
    assert "HISTORY" not in text  # the record's table is filled in
    assert text.count("| 1. Ingest") == 1


def test_the_runner_refuses_an_unknown_figure():
    out = subprocess.run([sys.executable, "-m", "bench", "--only", "speed"], cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2 and "unknown figure(s): speed" in out.stderr
