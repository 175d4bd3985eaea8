"""Figure 1 — ingest throughput, end to end, against a floor measured on the same frames.

The frames: Kalshi ``ticker`` and ``trade`` frames in the current fixed-point format over 2,000
markets (bench/frames.py). The daemon: the real one (bench/feed.py), restarted with warm
detector states (every market with the 31 minutes of price history and the baseline a running
daemon has), so each event costs what it costs in steady state. Timed: from handing the
frames to the feed's socket until every resulting event is committed in SQLite — frame
decoding, ``MarketEvent``, de-duplication, the ingest channel, detection, live windows, batched
commits.

The floor, in the same process, on the same frames and the same database configuration
(``store.connect``: the schema and PRAGMAs the daemon uses): ``json.loads`` each frame, build
the row, ``executemany`` in batches of ``FLUSH_EVENTS`` rows, commit each — nothing else.

Both run on one core (the process is pinned), alternately, ``--repeat`` times each; the figure
is the best run of each (noise from other processes only ever slows a run down), and the
ratio is pipeline / floor. Events per CPU-second (all threads) are reported too: on a shared
machine they move less than wall-clock rates.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from trade_hunter.daemon.event_writes import EVENT_SQL
from trade_hunter.daemon.pipeline import FLUSH_EVENTS
from trade_hunter.daemon.schema import migrate
from trade_hunter.daemon.store import connect

from .common import emit, load_average, pin_one_core, say
from .feed import bench_daemon, seed_database, warm_states
from .frames import FrameSource

HISTORY_SECONDS = 1860.0   # the detector's price history: states at their steady-state size


def floor_row(frame: dict[str, Any], received: float) -> tuple[Any, ...]:
    m = frame["msg"]
    if frame["type"] == "trade":
        size = float(m["count_fp"])
        return (m["ts_ms"] / 1000, received, "kalshi", m["market_ticker"], "T",
                float(m["yes_price_dollars"]), size, "delta", m["taker_outcome_side"], size,
                None, None, "kalshi", m["trade_id"])
    return (m["ts_ms"] / 1000, received, "kalshi", m["market_ticker"], "Q",
            float(m["price_dollars"]), float(m["volume_fp"]), "cumulative", None, None,
            float(m["yes_bid_dollars"]), float(m["yes_ask_dollars"]), "kalshi", None)


def run_floor(frames: list[str], db: Path) -> dict[str, float]:
    conn = connect(db, writer=True)
    migrate(conn)
    loads = json.loads
    wall, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(frames), FLUSH_EVENTS):
        received = time.time()
        rows = [floor_row(loads(f), received) for f in frames[first:first + FLUSH_EVENTS]]
        conn.execute("BEGIN")
        conn.executemany(EVENT_SQL, rows)
        conn.execute("COMMIT")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stored = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    conn.close()
    return {"events": stored, "wall": wall, "cpu": cpu}


def run_pipeline(frames: list[str], home: Path, markets: list[str],
                 states: dict[str, bytes]) -> dict[str, Any]:
    seed_database(home / "trade-hunter.db", states)
    d, feed, _ = bench_daemon(home, markets)
    out: dict[str, Any] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(d.run)
            assert d.pipeline is not None and len(d.pipeline.states) == len(states)
            before = d.pipeline.processed
            writer = d.store.write_cpu
            wall, cpu, loop = time.perf_counter(), time.process_time(), time.thread_time()
            feed.socket.push(frames)
            await feed.drained(d)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            loop, writer = time.thread_time() - loop, d.store.write_cpu - writer
            stored = (await d.store.aquery("SELECT COUNT(*) FROM events"))[0][0]
            assert d.pipeline.processed - before == stored, "an event was not committed"
            out.update(events=stored, wall=wall, cpu=cpu, signals=d.live.counters["signals"],
                       commits=d.store.commits, loop_us=loop / stored * 1e6,
                       writer_us=writer / stored * 1e6)
            d.request_shutdown("bench done")

    trio.run(main)
    return out


def measure(frames_count: int, markets: int, repeat: int) -> dict[str, Any]:
    core = pin_one_core()
    source = FrameSource(markets=markets)
    say(f"warming {markets:,} detector states over {HISTORY_SECONDS / 60:.0f} minutes of "
        "history ...")
    states = warm_states(source.history(HISTORY_SECONDS))
    frames = source.frames(frames_count)
    say(f"{len(frames):,} frames ({sum(len(f) for f in frames) / len(frames):.0f} bytes "
        f"average), pinned to core {core}")
    floors, pipes = [], []
    with tempfile.TemporaryDirectory(prefix="th-bench-ingest-") as tmp:
        for n in range(repeat):
            floors.append(run_floor(frames, Path(tmp) / f"floor{n}.db"))
            pipes.append(run_pipeline(frames, Path(tmp) / f"home{n}", source.tickers, states))
            f, p = floors[-1], pipes[-1]
            say(f"  run {n + 1}: floor {f['events'] / f['wall']:,.0f} events/s, pipeline "
                f"{p['events'] / p['wall']:,.0f} events/s ({p['events']:,} events, "
                f"{p['signals']} signals, {p['commits']} commits; per event: event loop "
                f"{p['loop_us']:.1f} µs, SQLite writer {p['writer_us']:.1f} µs CPU)")
    best_floor = max(floors, key=lambda r: r["events"] / r["wall"])
    best_pipe = max(pipes, key=lambda r: r["events"] / r["wall"])
    rate = best_pipe["events"] / best_pipe["wall"]
    floor_rate = best_floor["events"] / best_floor["wall"]
    cpu_rate = max(p["events"] / p["cpu"] for p in pipes)
    floor_cpu_rate = max(f["events"] / f["cpu"] for f in floors)
    return {
        "frames": len(frames), "markets": markets, "events": best_pipe["events"],
        "signals": best_pipe["signals"], "repeat": repeat, "core": core,
        "events_per_s": rate, "floor_events_per_s": floor_rate, "ratio": rate / floor_rate,
        "events_per_cpu_s": cpu_rate, "floor_events_per_cpu_s": floor_cpu_rate,
        "cpu_ratio": cpu_rate / floor_cpu_rate,
        "loop_us": min(p["loop_us"] for p in pipes),
        "writer_us": min(p["writer_us"] for p in pipes),
        "floor_us": min(f["cpu"] / f["events"] * 1e6 for f in floors),
        "all_runs": [round(p["events"] / p["wall"]) for p in pipes],
        "all_floors": [round(f["events"] / f["wall"]) for f in floors],
        "load": load_average(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--markets", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    emit(measure(args.frames, args.markets, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
