"""Figure 2 — detection latency at a steady 2,000 frames a second.

The real daemon (bench/feed.py) with warm detector states for 2,000 markets receives Kalshi
frames at a steady rate for ``--seconds``; each frame carries the time it was received
(``ts``, to the microsecond), so every stage can be timed from it:

* *detected*: the pipeline hands the signal to the notifier outbox and the analyst queue;
* *notified*: a notifier's ``notify(alert)`` is called (through the durable outbox: the
  signal's rows are committed first);
* *committed*: the event is visible in SQLite (a probe thread reads new rows every 2 ms; its
  resolution is included).

About one trade in ``--spike-every`` is a block print with a price jump, so hundreds of
signals fire over the run (each market at most once: the 300 s cooldown). Targets: detected
p99 under 20 ms, committed p99 under 300 ms. The process is pinned to one core.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import trio

from .common import emit, load_average, percentile, pin_one_core, say
from .feed import bench_daemon, seed_database, warm_states
from .frames import FrameSource

TARGET_DETECT_P99_MS = 20.0
TARGET_COMMIT_P99_MS = 300.0


class CommitProbe:
    """Polls the events table from its own connection; records, for each new row, how long
    after its frame arrived it became visible."""

    def __init__(self, db: Path, interval: float = 0.002) -> None:
        self.db, self.interval = db, interval
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="commit-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self.db, timeout=30)
        last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        while not self._stop.is_set():
            rows = conn.execute("SELECT id, ts FROM events WHERE id > ? ORDER BY id",
                                (last,)).fetchall()
            now = time.time()
            if rows:
                last = rows[-1][0]
                self.latencies.extend(now - ts for _, ts in rows)
            time.sleep(self.interval)
        conn.close()


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    ms = [v * 1000 for v in values]
    return {"count": len(ms), "p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99),
            "max_ms": max(ms)}


def measure(seconds: float, rate: float, markets: int, spike_every: int) -> dict[str, Any]:
    core = pin_one_core()
    source = FrameSource(markets=markets, start=time.time(), spike_every=spike_every)
    say(f"warming {markets:,} detector states ...")
    states = warm_states(source.history(1860.0))
    handoffs: list[float] = []
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="th-bench-latency-") as tmp:
        home = Path(tmp) / "home"
        seed_database(home / "trade-hunter.db", states)
        d, feed, notifier = bench_daemon(home, source.tickers)
        probe = CommitProbe(home / "trade-hunter.db")

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(d.run)
                assert d.pipeline is not None
                d.pipeline.signal_handoffs.append(
                    lambda s: handoffs.append(time.time() - s.event.timestamp))
                probe.start()
                say(f"{rate:,.0f} frames/s for {seconds:.0f} s, pinned to core {core} ...")
                started = time.perf_counter()
                sent = await feed.socket.pace(lambda now: source.next(now=now), rate, seconds)
                elapsed = time.perf_counter() - started
                await trio.sleep(1.0)  # the last commits and notifications
                await d.store.flush()
                probe.stop()
                out.update(frames=sent, achieved_rate=sent / elapsed,
                           repeated_alerts=notifier.repeats,
                           events=d.pipeline.processed, signals=d.live.counters["signals"])
                d.request_shutdown("bench done")

        trio.run(main)
    out.update(detected=summary(handoffs), notified=summary(notifier.latencies),
               committed=summary(probe.latencies), rate=rate, seconds=seconds,
               markets=markets, core=core, load=load_average())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--markets", type=int, default=2000)
    parser.add_argument("--spike-every", type=int, default=25)
    args = parser.parse_args(argv)
    result = measure(args.seconds, args.rate, args.markets, args.spike_every)
    for key in ("detected", "notified", "committed"):
        f = result[key]
        if f.get("count"):
            say(f"  {key}: {f['count']:,} samples, p50 {f['p50_ms']:.2f} ms, p99 "
                f"{f['p99_ms']:.2f} ms, max {f['max_ms']:.1f} ms")
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
