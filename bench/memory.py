"""Figure 4 — peak RSS with 5,000 tracked markets after an hour of traffic.

An hour of Kalshi traffic over 5,000 markets, compressed into the run: every market in turn,
one event every 5 seconds of exchange time (3.6 million in the hour; every market ends with
its full 31 minutes of price samples and an hour of volume buckets — the most history the
detector keeps for a market this active). The first ``--warm`` minutes are computed straight
into detector states and stored, as a daemon restarted after them would have them; the real
daemon (bench/feed.py) loads them and receives the rest of the hour as frames through the
whole pipeline, while the dashboard polls ``/api/state``. Frames are made as they are needed,
in chunks, so the bench holds no backlog of its own.

Reported: the process's peak resident set (``VmHWM``) against the same daemon's resident set
once started with no traffic (the reference, measured first in the same process), and the
target of 250 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from trade_hunter.plugins.builtin.kalshi.feed import MESSAGE_QUEUE

from .common import emit, load_average, peak_rss_mib, say
from .feed import bench_daemon, seed_database, warm_states
from .frames import FrameSource

TARGET_MIB = 250.0
CHUNK = MESSAGE_QUEUE  # frames made at a time: what the WebSocket buffers at most


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _seed(db: Path, markets: int, start: float, warm: float) -> None:
    source = FrameSource(markets=markets, cycle=True, rate=markets / 5.0, start=start, seed=9)
    seed_database(db, warm_states(source.history(warm * 60, step=5.0)))


def measure(markets: int, minutes: float, warm: float) -> dict[str, Any]:
    seconds = (minutes - warm) * 60
    source = FrameSource(markets=markets, cycle=True, rate=markets / 5.0,
                         start=time.time() - seconds, seed=9)
    total = int(seconds * source.rate)
    out: dict[str, Any] = {"markets": markets, "minutes": minutes, "warm_minutes": warm,
                           "frames": total}
    with tempfile.TemporaryDirectory(prefix="th-bench-memory-") as tmp:
        home = Path(tmp) / "home"
        if warm:  # in a child process: this process's heap stays the daemon's alone
            say(f"the first {warm:.0f} minutes straight into {markets:,} detector states ...")
            child = multiprocessing.get_context("spawn").Process(
                target=_seed, args=(home / "trade-hunter.db", markets, source.start, warm))
            child.start()
            child.join()
            if child.exitcode != 0:
                raise RuntimeError("seeding the warm states failed")
        d, feed, _ = bench_daemon(home, source.tickers)

        polling = trio.CancelScope()

        async def poll_state() -> None:
            with polling:
                async with httpx.AsyncClient(base_url=d.dashboard_url, timeout=30) as client:
                    while True:
                        (await client.get("/api/state")).raise_for_status()
                        await trio.sleep(2.0)

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(d.run)
                await trio.sleep(1.0)
                out["idle_rss_mib"] = rss_mib()
                out["idle_peak_mib"] = peak_rss_mib()
                say(f"idle daemon: {out['idle_rss_mib']:.0f} MiB; {total:,} frames over "
                    f"{markets:,} markets (minutes {warm:.0f} to {minutes:.0f} of exchange "
                    "time) ...")
                nursery.start_soon(poll_state)
                started, sent = time.perf_counter(), 0
                while sent < total:
                    count = min(CHUNK, total - sent)
                    feed.socket.push(source.frames(count))
                    sent += count
                    await feed.socket.idle.wait()
                    if sent % (CHUNK * 20) == 0:
                        say(f"  {sent:,} frames, {rss_mib():.0f} MiB")
                await feed.drained(d)
                assert d.pipeline is not None
                out.update(seconds_run=time.perf_counter() - started,
                           events=d.pipeline.processed, states=len(d.pipeline.states),
                           tape=len(d.live.tape), signals=d.live.counters["signals"],
                           end_rss_mib=rss_mib(), peak_rss_mib=peak_rss_mib(),
                           db_mib=(home / "trade-hunter.db").stat().st_size / 2**20)
                polling.cancel()
                d.request_shutdown("bench done")

        trio.run(main)
    out["load"] = load_average()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=5000)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--warm", type=float, default=40.0,
                        help="minutes computed straight into detector states")
    args = parser.parse_args(argv)
    result = measure(args.markets, args.minutes, args.warm)
    say(f"  peak {result['peak_rss_mib']:.0f} MiB (idle {result['idle_rss_mib']:.0f} MiB), "
        f"{result['events']:,} events in {result['seconds_run']:.0f} s, "
        f"{result['states']:,} detector states")
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
