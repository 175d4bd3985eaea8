"""After kill -9 and a restart: committed events and signals, tracked tickers and detector
baselines are still there, and a market still in cooldown does not re-fire."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import trio

from trade_hunter.plugins.models import MarketEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import make_daemon


def snapshot(db: Path) -> dict:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            "events": conn.execute("SELECT COUNT(*) FROM events").fetchone()[0],
            "signals": {r[0]: r[1] for r in conn.execute("SELECT id, market_id FROM signals")},
            "states": dict(conn.execute("SELECT market_id, payload FROM detector_state")),
            "tickers": [r[0] for r in conn.execute("SELECT ticker FROM tracked_tickers")],
        }
    finally:
        conn.close()


def start(home: Path) -> subprocess.Popen:
    env = {**os.environ, "TRADE_HUNTER_HOME": str(home), "APP_PORT": "0",
           "SIMULATION_SEED": "42", "KALSHI_MARKETS": "KXBTC15M,KXFED",
           "THIRD_PARTY_PLUGINS": "false", "QUIET_MODE": "true",
           # classic, as make_daemon below: the restart checks a cooldown held back a burst,
           # and a gated quiet (volume-only) signal holds back no move
           "SPIKE_PROFILE": "classic"}
    return subprocess.Popen([sys.executable, "-m", "trade_hunter.daemon.cli"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_signals(db: Path, proc: subprocess.Popen, deadline: float = 40) -> dict:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        if db.exists():
            try:
                snap = snapshot(db)
            except sqlite3.OperationalError:
                snap = None
            if snap and snap["signals"] and snap["states"]:
                return snap
        time.sleep(0.2)
    raise AssertionError("no signals from the simulation")


async def test_kill_9_then_restart_keeps_committed_state(tmp_path):
    home = tmp_path / "home"
    db = home / "trade-hunter.db"
    proc = start(home)
    try:
        before = wait_for_signals(db, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    after_kill = snapshot(db)
    # everything that was committed when we looked is still there after the kill
    assert after_kill["events"] >= before["events"]
    assert before["signals"].items() <= after_kill["signals"].items()
    assert set(before["states"]) <= set(after_kill["states"])
    assert sorted(after_kill["tickers"]) == ["KXBTC15M", "KXFED"]

    # a restart (the stale OS lock of the killed process does not block it) restores state
    d = make_daemon(home)
    async with trio.open_nursery() as nursery:
        await nursery.start(d.run)
        assert d.pipeline is not None
        assert set(d.pipeline.states) >= set(after_kill["states"])
        assert [t.ticker for t in d.tickers.list()] == ["KXBTC15M", "KXFED"]
        assert d.store.next_signal_id == max(after_kill["signals"]) + 1
        cooled = d.pipeline.states[after_kill["signals"][max(after_kill["signals"])]]
        market = after_kill["signals"][max(after_kill["signals"])]
        assert cooled.last_signal_at is not None and cooled.window  # baseline restored
        now = time.time()
        burst = [MarketEvent(platform="simulated", market_id=m, title="x",
                             yes_price=0.9 if cooled.last_price and cooled.last_price < 0.5
                             else 0.1, volume=50_000.0, event_kind="trade",
                             trade_side="yes", source="test", timestamp=now)
                 for m in (market, "FRESH-MARKET")]
        fired = d.pipeline.process(burst)
        assert [s.market_id for s in fired] == ["FRESH-MARKET"]  # the cooled one stays quiet
        d.request_shutdown("test done")


async def test_recent_signals_and_reads_are_back_on_the_dashboard_after_restart(tmp_path):
    home = tmp_path / "home"
    d = make_daemon(home, DISABLED_PLUGINS="heuristic")
    async with trio.open_nursery() as nursery:
        await nursery.start(d.run)
        first = (await d.service.call("demo.spike"))["signals"][0]
        from trade_hunter.daemon.event_writes import write_read
        from trade_hunter.plugins.models import AnalystRead
        read = AnalystRead(signal_id=first, noise_or_signal="noise", confidence="low",
                           provider="test", rationale="r")
        d.store.submit(write_read(read))
        await d.store.flush()
        d.request_shutdown("restart")
    d = make_daemon(home, DISABLED_PLUGINS="heuristic")
    async with trio.open_nursery() as nursery:
        await nursery.start(d.run)
        listed = (await d.service.call("signals.list"))["signals"]
        assert [s["id"] for s in listed] == [first]
        assert listed[0]["read"]["noise_or_signal"] == "noise"
        d.request_shutdown("done")
