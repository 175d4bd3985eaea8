"""The market page's chart data: ``GET /api/markets/{id}/series`` over a week of a busy market.

A week of history (bench/week.py: by default 1,000,000 events over 1,000 markets) plus one
busy market with 300,000 events of its own over the same week (a trade or quote every two
seconds, two trades for each quote) and 200 signals; then the real daemon (bench/feed.py)
answers the series endpoint over real HTTP for every range (15m to 1w, 1,000 buckets) and the
market's own page (``GET /api/markets/{id}``). Target: p95 under 50 ms for every range.

    .venv/bin/python -m bench.market_series               # the full week (a minute or two)
    .venv/bin/python -m bench.market_series --events 100000 --busy 30000 --requests 10
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import trio

if __package__ in (None, ""):  # loaded by path (tests/web/test_market_bench.py)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit, percentile
from bench.feed import bench_daemon
from bench.frames import FrameSource
from bench.week import EVENT_SQL, SIGNAL_SQL, WEEK, build_week
from trade_hunter.daemon.store import connect
from trade_hunter.plugins.models import MarketEvent, SignalContext, SpikeSignal, to_json

TARGET_P95_MS = 50.0
BUSY = "KXBENCHBUSY-26DEC31-B50"
RANGES = ("15m", "1h", "6h", "1d", "1w")


def add_busy_market(db: Path, events: int, signals: int, seed: int = 7) -> None:
    """``events`` events and ``signals`` signals of one market over the last week."""
    rng = random.Random(seed)
    conn = connect(db, writer=True)
    now = time.time()
    start, step = now - WEEK + 3600, (WEEK - 3660) / max(events, 1)
    price = 0.50
    rows = []
    for n in range(events):
        ts = start + n * step
        price = min(0.95, max(0.05, round(price + rng.choice((-0.01, 0, 0, 0.01)), 2)))
        trade = n % 3 != 0
        size = float(rng.choice((1, 2, 5, 10, 25, 100, 500)))
        rows.append((ts, ts, "kalshi", BUSY, "T" if trade else "Q", price,
                     size if trade else 1e6 + n, "delta" if trade else "cumulative",
                     rng.choice(("yes", "no")) if trade else None, size if trade else None,
                     None if trade else price - 0.01, None if trade else price + 0.01,
                     "kalshi", None))
    sig_rows = []
    first_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM signals").fetchone()[0] + 1
    for i in range(signals):
        created = start + (i + 0.5) * (now - start) / signals
        s = SpikeSignal(market_id=BUSY, platform="kalshi", title="Busy bench market",
                        topic="macro", source="kalshi", tier="notable", score=4.5,
                        rule="outlier", volume_delta=600, baseline=40, volume_multiple=15,
                        price_move=0.04, price_score=1.3, direction="up", yes_price=0.5,
                        event=MarketEvent(platform="kalshi", market_id=BUSY, timestamp=created),
                        context=SignalContext(), created_at=created, id=first_id + i)
        sig_rows.append((s.id, created, created, BUSY, "kalshi", s.title, s.topic, s.tier,
                         s.score, s.rule, 0, to_json(s)))
    conn.execute("BEGIN")
    conn.executemany(EVENT_SQL, rows)
    conn.executemany(SIGNAL_SQL, sig_rows)
    conn.execute("INSERT OR REPLACE INTO markets (market_id, platform, title, topic, last_seen)"
                 " VALUES (?, 'kalshi', 'Busy bench market', 'macro', ?)", (BUSY, now))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


async def _time(client: httpx.AsyncClient, path: str, requests: int
                ) -> tuple[list[float], Any, float]:
    """Warm timings, the last body, and the first (cold) request's time: the long ranges
    read the market's minute rollups once, then only their newest minutes."""
    t0 = time.perf_counter()
    (await client.get(path)).raise_for_status()
    cold = (time.perf_counter() - t0) * 1000
    for _ in range(2):  # warm-up: page cache, statement cache
        (await client.get(path)).raise_for_status()
    timings, body = [], None
    for _ in range(requests):
        t0 = time.perf_counter()
        response = await client.get(path)
        timings.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
        body = response.json()
    return timings, body, cold


async def _measure(d: Any, requests: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=d.dashboard_url, timeout=30) as client:
        for r in RANGES:
            timings, body, cold = await _time(
                client, f"/api/markets/{BUSY}/series?range={r}&resolution=1000", requests)
            out[r] = {"cold_ms": cold, "p50_ms": statistics.median(timings),
                      "p95_ms": percentile(timings, 0.95), "max_ms": max(timings),
                      "points": len(body["price"]), "trades_sent": len(body["trades"]),
                      "trades_in_range": body["trade_count"]}
        timings, body, cold = await _time(client, f"/api/markets/{BUSY}", requests)
        out["detail"] = {"cold_ms": cold, "p50_ms": statistics.median(timings),
                         "p95_ms": percentile(timings, 0.95), "max_ms": max(timings),
                         "signals": len(body["signals"])}
    return out


def run(report: Callable[[str], None] = print, *, events: int = 1_000_000,
        markets: int = 1_000, busy: int = 300_000, signals: int = 200,
        requests: int = 50) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="th-market-bench-") as tmp:
        home = Path(tmp) / "home"
        db = home / "trade-hunter.db"
        report(f"writing {events:,} events over {markets:,} markets and {busy:,} of one "
               "busy market (a week) ...")
        seconds = build_week(db, events=events, markets=markets, signals=min(events // 100,
                                                                                 10_000))
        add_busy_market(db, busy, signals)
        report(f"  {seconds:.1f} s, database {db.stat().st_size / 1e6:.0f} MB")
        source = FrameSource(markets=markets, start=time.time(), seed=5)
        d, _feed, _ = bench_daemon(home, source.tickers, DISABLED_PLUGINS="discord")

        async def main() -> dict[str, Any]:
            async with trio.open_nursery() as nursery:
                await nursery.start(d.run)
                try:
                    return await _measure(d, requests)
                finally:
                    d.request_shutdown("bench finished")

        figures = trio.run(main)
    figures.update(events=events, busy_events=busy, requests=requests)
    for r in RANGES:
        f = figures[r]
        report(f"GET /series range={r}: first {f['cold_ms']:.0f} ms, then p50 {f['p50_ms']:.1f} ms, p95 {f['p95_ms']:.1f} ms, "
               f"max {f['max_ms']:.1f} ms; {f['points']} price points, {f['trades_sent']} "
               f"trade points for {f['trades_in_range']:,} trades")
    f = figures["detail"]
    report(f"GET /api/markets/{{id}}: first {f['cold_ms']:.0f} ms, then p50 {f['p50_ms']:.1f} ms, p95 {f['p95_ms']:.1f} ms "
           f"({f['signals']} signals)")
    worst = max(figures[r]["p95_ms"] for r in RANGES)
    report(f"ratio: worst p95/target {worst / TARGET_P95_MS:.2f} (target < 1)")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--markets", type=int, default=1_000)
    parser.add_argument("--busy", type=int, default=300_000)
    parser.add_argument("--signals", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    emit(run(events=args.events, markets=args.markets, busy=args.busy,
             signals=args.signals, requests=args.requests))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
