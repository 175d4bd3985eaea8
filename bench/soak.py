"""Memory soak: does the daemon's resident memory level off under steady ingest plus a crowd
of dashboards polling?

The real daemon (``trade-hunter``, its own process, a throwaway home, simulation on) receives
``--rate`` events per second over HTTP ingest (``POST /api/events``, batches of 50 over
``--markets`` markets, every one acknowledged only once stored) while ``--clients``
dashboards each poll ``GET /api/state`` every 3 seconds, as the page does. Every
``--every`` seconds the daemon's RSS (``VmRSS``) is sampled from ``/proc``.

Reported: RSS over time, its growth over the second half of the run (MiB per 10 minutes; a
level RSS is near 0), and the requests served. Default 30 minutes; ``--minutes 3`` for a
short look. Not part of ``python -m bench`` (it is long by design)::

    .venv/bin/python -m bench.soak --minutes 3
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from .common import REPO, emit, say

POLL_SECONDS = 3.0  # the dashboard's refresh
BATCH = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS and its parts (anonymous: the heaps, SQLite's page caches; file and shmem:
    mapped files such as the WAL index) from /proc."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name = line.split(":", 1)[0]
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            out[name] = int(line.split()[1]) / 1024
    return out


def rss_mib(pid: int) -> float:
    return memory_mib(pid)["VmRSS"]


def start_daemon(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TRADE_HUNTER_HOME": str(home), "APP_PORT": str(port),
           "ENABLE_SIMULATION": "true", "SIMULATION_SEED": "7", "THIRD_PARTY_PLUGINS": "false",
           "DISABLED_PLUGINS": "kalshi", "QUIET_MODE": "true", "HTTP_MAX_CONNECTIONS": "512"}
    return subprocess.Popen([sys.executable, "-m", "trade_hunter.daemon.cli"], env=env,
                            cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        with trio.fail_after(60):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the daemon exited: {proc.stderr.read().decode()}"
                                       if proc.stderr else "the daemon exited")
                try:
                    if (await client.get("/api/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await trio.sleep(0.1)


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stats = {"ingested": 0, "ingest_errors": 0, "polls": 0, "poll_errors": 0}
    samples: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="th-soak-") as tmp:
        proc = start_daemon(Path(tmp), port)
        try:
            await wait_ready(base, proc)
            t0 = time.monotonic()
            end = t0 + args.minutes * 60

            async def ingest() -> None:
                n = 0
                async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                    while time.monotonic() < end:
                        # paced by a schedule: the wait for each commit does not slow it
                        await trio.sleep_until(trio.current_time() + max(
                            0.0, t0 + n / args.rate - time.monotonic()))
                        batch = [{"source": "soak", "platform": "bench",
                                  "market_id": f"SOAK-{(n + i) % args.markets}",
                                  "title": f"Soak market {(n + i) % args.markets}",
                                  "yes_price": 0.3 + ((n + i) % 40) / 100, "volume": 5.0,
                                  "event_kind": "trade", "trade_side": "yes"}
                                 for i in range(BATCH)]
                        n += BATCH
                        try:
                            answer = await client.post("/api/events", json=batch)
                            ok = answer.status_code == 200
                        except httpx.HTTPError:
                            ok = False
                        stats["ingested" if ok else "ingest_errors"] += BATCH if ok else 1

            async def dashboard(i: int) -> None:
                async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                    await trio.sleep(POLL_SECONDS * i / args.clients)  # spread out
                    while time.monotonic() < end:
                        try:
                            ok = (await client.get("/api/state")).status_code == 200
                        except httpx.HTTPError:
                            ok = False
                        stats["polls" if ok else "poll_errors"] += 1
                        await trio.sleep(POLL_SECONDS)

            async def sample() -> None:
                while time.monotonic() < end:
                    at = time.monotonic() - t0
                    mem = memory_mib(proc.pid)
                    samples.append((at, mem["VmRSS"]))
                    say(f"  {at / 60:5.1f} min  RSS {mem['VmRSS']:6.1f} MiB (anon "
                        f"{mem.get('RssAnon', 0):.1f}, file {mem.get('RssFile', 0):.1f}, shmem "
                        f"{mem.get('RssShmem', 0):.1f})  ingested {stats['ingested']:,}  polls "
                        f"{stats['polls']:,}")
                    await trio.sleep(args.every)
                samples.append((time.monotonic() - t0, rss_mib(proc.pid)))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(ingest)
                nursery.start_soon(sample)
                for i in range(args.clients):
                    nursery.start_soon(dashboard, i)
        finally:
            proc.terminate()
            proc.wait(30)
    half = [s for s in samples if s[0] >= samples[-1][0] / 2]
    slope = 0.0
    if len(half) >= 2:  # least squares over the second half: MiB per 10 minutes
        mt = sum(t for t, _ in half) / len(half)
        mr = sum(r for _, r in half) / len(half)
        den = sum((t - mt) ** 2 for t, _ in half) or 1.0
        slope = sum((t - mt) * (r - mr) for t, r in half) / den * 600
    return {"minutes": args.minutes, "rate": args.rate, "clients": args.clients,
            "samples": [[round(t, 1), round(r, 1)] for t, r in samples],
            "rss_start_mib": round(samples[0][1], 1), "rss_end_mib": round(samples[-1][1], 1),
            "rss_max_mib": round(max(r for _, r in samples), 1),
            "growth_second_half_mib_per_10min": round(slope, 2), **stats}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="run length (default 30)")
    parser.add_argument("--rate", type=float, default=500.0,
                        help="ingested events per second (default 500)")
    parser.add_argument("--clients", type=int, default=60,
                        help="dashboards polling /api/state every 3 s (default 60)")
    parser.add_argument("--markets", type=int, default=500, help="markets ingested over")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    args = parser.parse_args()
    say(f"soak: {args.minutes:g} min, {args.rate:g} events/s, {args.clients} dashboards "
        f"(repository {REPO})")
    result = trio.run(soak, args)
    say(f"RSS {result['rss_start_mib']} → {result['rss_end_mib']} MiB (max "
        f"{result['rss_max_mib']}); second half: {result['growth_second_half_mib_per_10min']:+} "
        f"MiB per 10 min; {result['ingested']:,} events stored, {result['polls']:,} polls, "
        f"{result['ingest_errors'] + result['poll_errors']} errors")
    emit(result)


if __name__ == "__main__":
    main()
