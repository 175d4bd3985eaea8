"""Figure 5 — start-up: from launching ``trade-hunter`` to ``/api/health`` answering.

The installed console script is launched as a person launches it (defaults, its own home),
once with an empty home and once with a week of stored data (the database the /api/state
figure built: 2,000,000 events, 20,000 signals, 2,000 detector states; ``--db``, else one is
built here), ``--repeat`` times each, alternately; the figure is the median. The clock stops
at the first ``200`` from ``GET /api/health``. Each run is then stopped with SIGTERM (a
clean stop, so the next start replays nothing). Targets: under 2 s empty, under 3 s with the
week.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from .common import emit, load_average, say
from .week import build_week

TARGET_EMPTY_S = 2.0
TARGET_WEEK_S = 3.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def console_script() -> str:
    here = Path(sys.executable).parent / "trade-hunter"
    return str(here) if here.exists() else shutil.which("trade-hunter") or "trade-hunter"


def launch(home: Path, timeout: float = 60.0) -> float:
    port = free_port()
    env = {**os.environ, "TRADE_HUNTER_HOME": str(home), "APP_PORT": str(port),
           "QUIET_MODE": "true", "THIRD_PARTY_PLUGINS": "false"}
    url = f"http://127.0.0.1:{port}/api/health"
    started = time.perf_counter()
    proc = subprocess.Popen([console_script()], env=env, cwd=home,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with httpx.Client(timeout=1.0) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"trade-hunter exited {proc.returncode}: "
                                       f"{proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
                try:
                    if client.get(url).status_code == 200:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - started > timeout:
                    raise RuntimeError("trade-hunter did not answer /api/health")
                time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(db: Path | None, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="th-bench-startup-") as tmp:
        week_home = Path(tmp) / "week"
        week_home.mkdir()
        if db is not None and db.exists():
            shutil.copy2(db, week_home / "trade-hunter.db")
        else:
            say("building a week of data ...")
            build_week(week_home / "trade-hunter.db")
        size = (week_home / "trade-hunter.db").stat().st_size
        events = _count(week_home / "trade-hunter.db")
        empty_times, week_times = [], []
        for n in range(repeat):
            empty_home = Path(tmp) / f"empty{n}"
            empty_home.mkdir()
            empty_times.append(launch(empty_home))
            week_times.append(launch(week_home))
            say(f"  run {n + 1}: empty {empty_times[-1]:.2f} s, week {week_times[-1]:.2f} s")
    return {"empty_s": statistics.median(empty_times), "week_s": statistics.median(week_times),
            "empty_runs": empty_times, "week_runs": week_times, "week_db_mb": size / 1e6,
            "week_events": events, "repeat": repeat, "load": load_average()}


def _count(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT MAX(id) FROM events").fetchone()[0] or 0)
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a week's database to copy (else built here)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.db, args.repeat)
    say(f"  median: empty {result['empty_s']:.2f} s, week {result['week_s']:.2f} s")
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
