"""``python -m bench`` (or ``./run-bench``, which sets up .venv first): every figure, each side
by side with its reference, as a table and as docs/PERFORMANCE.md.

Each figure runs in its own child process (bench/ingest.py, latency.py, state_bench.py,
startup.py, memory.py, profile.py): a clean heap, its own peak RSS. The week of data the
dashboard figure builds is reused by the start-up figure. About three minutes on an idle
2-core machine; ``--quick`` runs everything small (a smoke run; its figures are not the
targets' conditions).

    ./run-bench                                # all figures, writes docs/PERFORMANCE.md
    ./run-bench --quick --no-write
    ./run-bench --only ingest,latency
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import REPO, machine, run_child
from .report import render_markdown, render_table

FIGURES = ("ingest", "latency", "state", "startup", "memory", "profile", "backtest")


def arguments(quick: bool, week_db: Path) -> dict[str, list[str]]:
    if quick:
        return {
            "ingest": ["--frames", "40000", "--repeat", "1"],
            "latency": ["--seconds", "5"],
            "state": ["--events", "200000", "--signals", "2000", "--requests", "50",
                      "--keep", str(week_db)],
            "startup": ["--db", str(week_db), "--repeat", "1"],
            "memory": ["--markets", "1000", "--minutes", "10", "--warm", "5"],
            "profile": ["--frames", "30000"],
            "backtest": ["--repeat", "1"],
        }
    return {
        "ingest": ["--frames", "200000", "--repeat", "5"],
        "latency": ["--seconds", "30"],
        "state": ["--keep", str(week_db)],
        "startup": ["--db", str(week_db), "--repeat", "3"],
        "memory": [],
        "profile": ["--frames", "100000"],
        "backtest": ["--repeat", "5"],
    }


MODULES = {"ingest": "ingest", "latency": "latency", "state": "state_bench",
           "startup": "startup", "memory": "memory", "profile": "profile",
           "backtest": "backtest"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", default=",".join(FIGURES),
                        help=f"comma-separated figures ({', '.join(FIGURES)})")
    parser.add_argument("--no-write", action="store_true",
                        help="print the table only; do not write docs/PERFORMANCE.md")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "PERFORMANCE.md")
    args = parser.parse_args(argv)
    wanted = [f for f in args.only.split(",") if f]
    unknown = set(wanted) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(sorted(unknown))}")
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="th-bench-") as tmp:
        week_db = Path(tmp) / "week.db"
        plan = arguments(args.quick, week_db)
        if "startup" in wanted and "state" not in wanted:
            plan["startup"] = [a for a in plan["startup"] if a != str(week_db) and a != "--db"]
        for figure in FIGURES:
            if figure not in wanted:
                continue
            print(f"== {figure} ...", file=sys.stderr, flush=True)
            results[figure] = run_child(MODULES[figure], plan[figure])
    results["total_seconds"] = round(time.perf_counter() - started)
    print(render_table(results))
    if not args.no_write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(render_markdown(results, " ".join(
            ["./run-bench", *(argv if argv is not None else sys.argv[1:])])))
        print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
