"""Profile evidence for the ingest figure: where one event's CPU time goes.

Runs the ingest pipeline once (as bench/ingest.py: the real daemon, warm states, 2,000
markets, pinned to one core) and records

* the event loop thread with pyinstrument (sampling every 0.5 ms): time per function, self
  and inclusive, over the timed region only;
* the SQLite writer thread's CPU time (``Store.write_cpu``) and, timed inside it, how much of
  that is the event inserts, the state checkpoints and the commits;
* the detector alone over 20 markets and over the figure's markets: the same work, with and
  without the states fitting in the CPU's caches.

Prints both and emits them as JSON for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import trio
from pyinstrument import Profiler

from trade_hunter.daemon import event_writes
from trade_hunter.daemon import pipeline as pipeline_module
from trade_hunter.daemon.runtime import tune_runtime
from trade_hunter.plugins.builtin.kalshi import parse
from trade_hunter.plugins.builtin.spike import SpikeDetector, SpikeState

from .common import emit, pin_one_core, say
from .feed import bench_daemon, seed_database, warm_states
from .frames import FrameSource
from .ingest import HISTORY_SECONDS

WRITER_PARTS: Counter[str] = Counter()
_STATE = msgspec.json.Decoder(SpikeState)


def _timed_writes() -> None:
    """Time the writer's parts (in its thread) by wrapping the store's write helpers."""
    insert, batch = event_writes.insert_events, event_writes.write_batch

    def timed_insert(conn: sqlite3.Connection, events: Any, first_id: int) -> None:
        t = time.thread_time()
        insert(conn, events, first_id)
        WRITER_PARTS["event inserts"] += time.thread_time() - t

    def timed_batch(*args: Any, **kwargs: Any) -> Any:
        fn = batch(*args, **kwargs)

        def run(conn: sqlite3.Connection) -> Any:
            t = time.thread_time()
            result = fn(conn)
            WRITER_PARTS["write closures (all)"] += time.thread_time() - t
            return result
        return run

    event_writes.insert_events = timed_insert  # type: ignore[assignment]
    pipeline_module.write_batch = timed_batch  # type: ignore[assignment]  # (imported by name)


def frame_table(root: Any, events: int, top: int) -> list[dict[str, Any]]:
    """Self and inclusive time per function (µs per event), from pyinstrument's tree."""
    self_time: Counter[str] = Counter()
    total: Counter[str] = Counter()

    def walk(frame: Any, stack: frozenset[str]) -> None:
        name = "waiting in epoll (idle)" if frame.function == "epoll.poll" else frame.function
        key = f"{name} ({Path(frame.file_path_short or '?').name}:{frame.line_no})"
        if key not in stack:
            total[key] += frame.time
        for child in frame.children:
            if child.is_synthetic:  # pyinstrument's "[self]" leaf: the parent's own time
                self_time[key] += child.time
            else:
                walk(child, stack | {key})
        if not frame.children:
            self_time[key] += frame.time

    walk(root, frozenset())
    return [{"function": k, "self_us": v / events * 1e6, "total_us": total[k] / events * 1e6}
            for k, v in self_time.most_common(top)]


def detector_us(markets: int, frames_count: int, repeat: int = 2) -> float:
    """The detector alone (parsed events, warm states, no daemon): µs per event, best of
    ``repeat``."""
    source = FrameSource(markets=markets)
    warm = warm_states(source.history(HISTORY_SECONDS))
    events = []
    for frame in source.frames(frames_count):
        data = parse.decode_market_frame(frame)
        assert data is not None
        events.append(parse.ticker_event(data.msg, 0.0) if data.kind == "ticker"
                      else parse.ws_trade_event(data.msg, 0.0))
    best = float("inf")
    for _ in range(repeat):
        states = {m: _STATE.decode(b) for m, b in warm.items()}
        detector = SpikeDetector()
        started = time.perf_counter()
        for e in events:
            detector.process(e, states[e.market_id])
        best = min(best, (time.perf_counter() - started) / len(events))
    return best * 1e6


def measure(frames_count: int, markets: int, top: int) -> dict[str, Any]:
    core = pin_one_core()
    _timed_writes()
    source = FrameSource(markets=markets)
    states = warm_states(source.history(HISTORY_SECONDS))
    frames = source.frames(frames_count)
    out: dict[str, Any] = {"frames": frames_count, "markets": markets, "core": core}
    with tempfile.TemporaryDirectory(prefix="th-bench-profile-") as tmp:
        home = Path(tmp) / "home"
        seed_database(home / "trade-hunter.db", states)
        d, feed, _ = bench_daemon(home, source.tickers)
        profiler = Profiler(interval=0.0005, async_mode="disabled")

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(d.run)
                assert d.pipeline is not None
                WRITER_PARTS.clear()
                writer, commits = d.store.write_cpu, d.store.commits
                wall, loop = time.perf_counter(), time.thread_time()
                profiler.start()
                feed.socket.push(frames)
                await feed.drained(d)
                profiler.stop()
                wall, loop = time.perf_counter() - wall, time.thread_time() - loop
                events = d.pipeline.processed
                writer = d.store.write_cpu - writer
                closures = WRITER_PARTS["write closures (all)"]
                inserts = WRITER_PARTS["event inserts"]
                out.update(events=events, wall_s=wall, events_per_s=events / wall,
                           loop_us=loop / events * 1e6, writer_us=writer / events * 1e6,
                           writer_parts_us={
                               "event inserts": inserts / events * 1e6,
                               "other rows (states, markets, signals, outbox)":
                                   (closures - inserts) / events * 1e6,
                               "commits and queue": (writer - closures) / events * 1e6},
                           commits=d.store.commits - commits)
                d.request_shutdown("bench done")

        trio.run(main)
        session = profiler.last_session
        assert session is not None
        root = session.root_frame()
        out["loop_table"] = frame_table(root, out["events"], top) if root is not None else []
        out["profiler_samples"] = session.sample_count
    # Memory locality: the same detector over few markets (their states stay in the CPU's
    # caches) and over the figure's markets, in the runtime the daemon sets up.
    tune_runtime()
    out["detector_us"] = {n: detector_us(n, frames_count) for n in (20, markets)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--markets", type=int, default=2_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    result = measure(args.frames, args.markets, args.top)
    say(f"{result['events']:,} events, {result['events_per_s']:,.0f}/s under the profiler; "
        f"event loop {result['loop_us']:.1f} µs, writer {result['writer_us']:.1f} µs CPU "
        "per event")
    for part, us in result["writer_parts_us"].items():
        say(f"  writer: {part}: {us:.2f} µs")
    few, many = result["detector_us"].values()
    say(f"  the detector alone: {few:.2f} µs per event over 20 markets, {many:.2f} over "
        f"{args.markets:,}")
    for row in result["loop_table"]:
        say(f"  {row['self_us']:6.2f} µs self {row['total_us']:6.2f} µs total  "
            f"{row['function']}")
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
