"""Benchmark: ``GET /api/state`` latency and payload size over a week of stored data.

Not a test (nothing here gates CI). It builds a throwaway home whose database holds a week of
history — by default 2,000,000 events over 2,000 markets, with stored signals, analyst reads
and detector states — starts the real daemon on it (real hypercorn, port 0), fills the live
windows the way a running daemon has them (every market on the tape with full sparklines,
300 signals, a full trade flow), then times the endpoint with a real HTTP client, quiet and
while events keep arriving. Targets: p95 under 50 ms, payload under 300 KB.

    .venv/bin/python -m bench.state_bench                # the full week (about a minute)
    .venv/bin/python -m bench.state_bench --events 200000 --requests 100

From code: ``run(report=print, events=..., markets=..., requests=...)`` returns the figures.
"""

from __future__ import annotations

import argparse
import logging
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import trio
from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.cli import build
from trade_hunter.daemon.schema import migrate
from trade_hunter.plugins.models import (
    TOPICS,
    AnalystRead,
    MarketEvent,
    SignalContext,
    SpikeSignal,
    to_json,
)
from trade_hunter.plugins.spike import SpikeState

WEEK = 7 * 86400.0
TARGET_P95_MS = 50.0
TARGET_BYTES = 300_000
EVENT_SQL = ("INSERT INTO events (ts, received_at, platform, market_id, kind, yes_price, volume,"
             " volume_kind, trade_side, trade_size, yes_bid, yes_ask, source, ext_id)"
             " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")


def market_ids(markets: int) -> list[str]:
    return [f"KXBENCH-{i:04d}" for i in range(markets)]


def fill_database(path: Path, *, events: int, markets: int, signals: int,
                  rng: random.Random) -> float:
    """A week of history written with executemany; returns the seconds it took."""
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # a throwaway file: speed over durability
    migrate(conn)
    ids = market_ids(markets)
    now = time.time()
    start = now - WEEK + 3600  # an hour inside retention: the daemon deletes nothing
    step = (now - 60 - start) / events
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO markets (market_id, platform, title, topic, last_seen)"
                     " VALUES (?,?,?,?,?)",
                     [(m, "kalshi", f"Bench market {m}: will it resolve yes?",
                       TOPICS[i % len(TOPICS)], now) for i, m in enumerate(ids)])
    chunk = 100_000
    for first in range(0, events, chunk):
        rows = []
        for n in range(first, min(events, first + chunk)):
            ts = start + n * step
            trade = n % 3 != 0
            price = round(rng.uniform(0.05, 0.95), 2)
            rows.append((ts, ts, "kalshi", ids[rng.randrange(markets)], "T" if trade else "Q",
                         price, float(rng.randint(1, 200)) if trade else 50_000.0 + n,
                         "delta" if trade else "cumulative",
                         rng.choice(("yes", "no")) if trade else None,
                         float(rng.randint(1, 200)) if trade else None,
                         None if trade else price - 0.01, None if trade else price + 0.01,
                         "kalshi", None))
        conn.executemany(EVENT_SQL, rows)
    sig_rows, read_rows = [], []
    for sid in range(1, signals + 1):
        market = ids[rng.randrange(markets)]
        created = start + rng.random() * (now - start)
        signal = SpikeSignal(
            market_id=market, platform="kalshi", title=f"Bench market {market}",
            topic=TOPICS[sid % len(TOPICS)], source="kalshi", tier="notable", score=4.2,
            rule="outlier", volume_delta=500, baseline=40, volume_multiple=12.5,
            price_move=0.04, price_score=1.3, direction="up", yes_price=0.55,
            event=MarketEvent(platform="kalshi", market_id=market, yes_price=0.55,
                              timestamp=created), context=SignalContext(),
            created_at=created, id=sid)
        sig_rows.append((sid, created, created, market, "kalshi", signal.title, signal.topic,
                         signal.tier, signal.score, signal.rule, 0, to_json(signal)))
        read = AnalystRead(signal_id=sid, noise_or_signal="signal", direction="up",
                           confidence="medium", rationale="bench", provider="heuristic",
                           created_at=created)
        read_rows.append((sid, "done", "signal", "medium", "heuristic", created, to_json(read)))
    conn.executemany("INSERT INTO signals (id, created_at, stored_at, market_id, platform,"
                     " title, topic, tier, score, rule, demo, payload)"
                     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", sig_rows)
    conn.executemany("INSERT INTO analyst_reads (signal_id, status, label, confidence,"
                     " provider, created_at, payload) VALUES (?,?,?,?,?,?,?)", read_rows)
    state = msgspec.json.encode(SpikeState(last_price=0.5, window=[10.0] * 24))
    conn.executemany("INSERT INTO detector_state (detector, market_id, payload, updated_at)"
                     " VALUES ('spike', ?, ?, ?)",
                     [(m, state, now) for m in ids])
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


def live_burst(ids: list[str], rng: random.Random, rounds: int) -> list[list[MarketEvent]]:
    """Recent flow on every market (full sparklines), with spikes that raise signals."""
    batches = []
    for r in range(rounds):
        now = time.time()
        batch = []
        for i, m in enumerate(ids):
            spike = r == rounds - 1 and i % 5 == 0  # 400 spikes: more than the 300 kept
            price = round(0.3 + 0.01 * (r % 7) + (0.2 if spike else 0.0), 2)
            batch.append(MarketEvent(
                platform="kalshi", market_id=m, title=f"Bench market {m}: will it resolve yes?",
                yes_price=price, volume=4000.0 if spike else float(rng.randint(5, 20)),
                event_kind="trade", trade_side="yes", trade_size=10.0, source="kalshi",
                timestamp=now, received_at=now))
        batches.append(batch)
    return batches


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _measure(d: Daemon, requests: int, ids: list[str], rng: random.Random
                   ) -> dict[str, Any]:
    for batch in live_burst(ids, rng, rounds=32):
        d.ingest(batch)
        while d._send is not None and d._send.statistics().current_buffer_used:
            await trio.sleep(0.01)
    await d.store.flush()
    out: dict[str, Any] = {"tape_markets": len(d.live.tape), "live_signals": len(d.live.signals)}
    async with httpx.AsyncClient(base_url=d.dashboard_url, timeout=30) as client:
        for _ in range(10):  # warm-up
            await client.get("/api/state")
        for label, busy in (("quiet", False), ("ingesting", True)):
            timings, sizes = [], []
            async with trio.open_nursery() as nursery:
                if busy:
                    nursery.start_soon(_keep_ingesting, d, ids)
                for _ in range(requests):
                    t0 = time.perf_counter()
                    response = await client.get("/api/state")
                    timings.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
                    sizes.append(len(response.content))
                nursery.cancel_scope.cancel()
            out[label] = {"p50_ms": statistics.median(timings),
                          "p95_ms": percentile(timings, 0.95), "max_ms": max(timings),
                          "bytes": max(sizes)}
    # What a tape built from the database would cost: the latest row of every market.
    t0 = time.perf_counter()
    await d.store.aquery("SELECT market_id, MAX(ts) FROM events GROUP BY market_id")
    out["scan_ms"] = (time.perf_counter() - t0) * 1000
    out["stored_events"] = (await d.store.aquery("SELECT COUNT(*) FROM events"))[0][0]
    return out


async def _keep_ingesting(d: Daemon, ids: list[str]) -> None:
    """About 2,000 events per second, like a busy live feed."""
    rng = random.Random(1)
    while True:
        now = time.time()
        d.ingest([MarketEvent(platform="kalshi", market_id=rng.choice(ids), yes_price=0.4,
                              volume=5.0, event_kind="trade", trade_side="no", source="kalshi",
                              timestamp=now, received_at=now) for _ in range(200)])
        await trio.sleep(0.1)


def run(report: Callable[[str], None] = print, *, events: int = 2_000_000,
        markets: int = 2_000, signals: int = 20_000, requests: int = 300) -> dict[str, Any]:
    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="th-state-bench-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        db = home / "trade-hunter.db"
        report(f"writing {events:,} events over {markets:,} markets (a week) ...")
        seconds = fill_database(db, events=events, markets=markets, signals=signals, rng=rng)
        report(f"  {seconds:.1f} s, database {db.stat().st_size / 1e6:.0f} MB")
        settings, host, registries = build({
            "TRADE_HUNTER_HOME": str(home), "APP_PORT": "0", "ENABLE_SIMULATION": "false",
            "THIRD_PARTY_PLUGINS": "false", "QUIET_MODE": "true",
            "DISABLED_PLUGINS": "kalshi,discord"})
        d = Daemon(settings, host, registries)

        async def main() -> dict[str, Any]:
            async with trio.open_nursery() as nursery:
                await nursery.start(d.run)
                try:
                    return await _measure(d, requests, market_ids(markets), rng)
                finally:
                    d.request_shutdown("bench finished")

        figures = trio.run(main)
    figures.update(events=events, markets=markets)
    report(f"live windows: {figures['tape_markets']:,} markets on the tape, "
           f"{figures['live_signals']} signals; {figures['stored_events']:,} events stored")
    for label in ("quiet", "ingesting"):
        f = figures[label]
        report(f"GET /api/state ({label}, {requests} requests): p50 {f['p50_ms']:.1f} ms, "
               f"p95 {f['p95_ms']:.1f} ms, max {f['max_ms']:.1f} ms, payload "
               f"{f['bytes'] / 1000:.0f} KB")
    q = figures["quiet"]
    report(f"ratios: p95/target {q['p95_ms'] / TARGET_P95_MS:.2f} (target < 1), payload/target "
           f"{q['bytes'] / TARGET_BYTES:.2f} (target < 1); a tape query over the history "
           f"takes {figures['scan_ms'] / q['p50_ms']:.1f}x a whole /api/state (which never "
           "queries the database)")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--markets", type=int, default=2_000)
    parser.add_argument("--signals", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # component warnings would drown the figures
    run(events=args.events, markets=args.markets, signals=args.signals, requests=args.requests)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
