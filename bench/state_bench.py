"""Figure 3 — ``GET /api/state`` latency and payload over a week of stored data.

The real daemon (bench/feed.py) on a database holding a week of history (bench/week.py:
2,000,000 events over 2,000 markets, signals, reads, detector states). Its live windows are
filled the way a running daemon has them: Kalshi frames for every market in turn (full
sparklines on the whole tape, hundreds of signals, a full trade flow). Then the endpoint is
timed with a real HTTP client, quiet (the reference) and while frames keep arriving at
2,100 a second (over 2,000 events a second). Targets: p95 under 50 ms while ingesting,
payload under 300 KB. For scale, it
also times what one tape row per market would cost if read from the history instead.

    .venv/bin/python -m bench.state_bench                # the full week (about a minute)
    .venv/bin/python -m bench.state_bench --events 200000 --requests 100

From code: ``run(report=print, events=..., markets=..., requests=...)`` returns the figures;
``keep=path`` leaves the week's database there (the start-up figure reuses it).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import trio

if __package__ in (None, ""):  # loaded by path (tests/web/test_state_bench.py)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit, percentile
from bench.feed import bench_daemon
from bench.frames import FrameSource
from bench.week import build_week

TARGET_P95_MS = 50.0
TARGET_BYTES = 300_000
# Frames/s: about 4 % of ticker frames repeat a quote and are dropped, so events arrive at
# 2,000/s or more, the target's condition.
INGEST_RATE = 2100.0


async def _measure(d: Any, feed: Any, source: FrameSource, requests: int,
                   markets: int) -> dict[str, Any]:
    # Fill the live windows: every market in turn, 32 frames each, spikes among them.
    burst = FrameSource(markets=markets, start=time.time() - 120, rate=markets * 32 / 60,
                        cycle=True, spike_every=3, seed=11)
    feed.socket.push(burst.frames(markets * 32))
    await feed.drained(d)
    source.seq = burst.seq  # one trade channel: its sequence goes on (else: "duplicates")
    out: dict[str, Any] = {"tape_markets": len(d.live.tape), "live_signals": len(d.live.signals)}
    async with httpx.AsyncClient(base_url=d.dashboard_url, timeout=30) as client:
        for _ in range(10):  # warm-up
            (await client.get("/api/state")).raise_for_status()
        for label, busy in (("quiet", False), ("ingesting", True)):
            timings, sizes = [], []
            async with trio.open_nursery() as nursery:
                if busy:
                    nursery.start_soon(feed.socket.pace,
                                       lambda now: source.next(now=now), INGEST_RATE, 3600.0)
                    await trio.sleep(1.0)  # the stream is under way
                before, sent, started = d.pipeline.processed, feed.socket.sent, \
                    time.perf_counter()
                for _ in range(requests):
                    t0 = time.perf_counter()
                    response = await client.get("/api/state")
                    timings.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
                    sizes.append(len(response.content))
                elapsed = time.perf_counter() - started
                nursery.cancel_scope.cancel()
            out[label] = {"p50_ms": statistics.median(timings),
                          "p95_ms": percentile(timings, 0.95), "max_ms": max(timings),
                          "bytes": max(sizes),
                          "frames_per_s": (feed.socket.sent - sent) / elapsed,
                          "events_per_s": (d.pipeline.processed - before) / elapsed}
    # What a tape built from the database would cost: the latest row of every market.
    t0 = time.perf_counter()
    await d.store.aquery("SELECT market_id, MAX(ts) FROM events GROUP BY market_id")
    out["scan_ms"] = (time.perf_counter() - t0) * 1000
    out["stored_events"] = (await d.store.aquery("SELECT COUNT(*) FROM events"))[0][0]
    return out


def run(report: Callable[[str], None] = print, *, events: int = 2_000_000,
        markets: int = 2_000, signals: int = 20_000, requests: int = 300,
        keep: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="th-state-bench-") as tmp:
        home = Path(tmp) / "home"
        db = home / "trade-hunter.db"
        report(f"writing {events:,} events over {markets:,} markets (a week) ...")
        seconds = build_week(db, events=events, markets=markets, signals=signals)
        report(f"  {seconds:.1f} s, database {db.stat().st_size / 1e6:.0f} MB")
        source = FrameSource(markets=markets, start=time.time(), seed=5)
        d, feed, _ = bench_daemon(home, source.tickers, DISABLED_PLUGINS="discord")

        async def main() -> dict[str, Any]:
            async with trio.open_nursery() as nursery:
                await nursery.start(d.run)
                try:
                    return await _measure(d, feed, source, requests, markets)
                finally:
                    d.request_shutdown("bench finished")

        figures = trio.run(main)
        if keep is not None:
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(db, keep)
    figures.update(events=events, markets=markets, requests=requests)
    report(f"live windows: {figures['tape_markets']:,} markets on the tape, "
           f"{figures['live_signals']} signals; {figures['stored_events']:,} events stored")
    for label in ("quiet", "ingesting"):
        f = figures[label]
        report(f"GET /api/state ({label}, {requests} requests, {f['events_per_s']:,.0f} "
               f"events/s in): p50 {f['p50_ms']:.1f} ms, p95 {f['p95_ms']:.1f} ms, max "
               f"{f['max_ms']:.1f} ms, payload {f['bytes'] / 1000:.0f} KB")
    busy = figures["ingesting"]
    report(f"ratios: p95/target {busy['p95_ms'] / TARGET_P95_MS:.2f}, payload/target "
           f"{busy['bytes'] / TARGET_BYTES:.2f} (targets < 1); a tape query over the history "
           f"takes {figures['scan_ms'] / figures['quiet']['p50_ms']:.1f}x a whole /api/state "
           "(which never queries the database)")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--markets", type=int, default=2_000)
    parser.add_argument("--signals", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="copy the week's database here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # component warnings would drown the figures
    emit(run(events=args.events, markets=args.markets, signals=args.signals,
             requests=args.requests, keep=args.keep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
