"""``trade-hunter --smoke-test``: the real pipeline in a throwaway home, no credentials."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import trio

from trade_hunter.plugins.models import MarketEvent

from .app import Daemon

DEADLINE = 15.0


def smoke_test() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="trade-hunter-smoke-") as tmp:
        from .cli import build
        raw = {"TRADE_HUNTER_HOME": str(Path(tmp) / "home"), "APP_PORT": "0",
               "ENABLE_SIMULATION": "false",
               "THIRD_PARTY_PLUGINS": "false", "QUIET_MODE": "true"}
        try:
            settings, host, registries = build(raw)
            result = trio.run(_run, Daemon(settings, host, registries))
        except Exception as exc:  # noqa: BLE001 - the one line says why
            print(f"smoke test FAILED: {type(exc).__name__}: {exc}")
            return 1
    print(f"smoke test ok: {result} in {time.monotonic() - started:.1f}s")
    return 0


async def _run(daemon: Daemon) -> str:
    async with trio.open_nursery() as nursery:
        with trio.fail_after(DEADLINE - 3):
            await nursery.start(daemon.run)
            now = time.time()
            quiet = [MarketEvent(platform="smoke", market_id="SMOKE-1", title="Smoke test market",
                                 yes_price=0.40, volume=10.0, volume_kind="delta",
                                 event_kind="trade", trade_side="yes", source="smoke",
                                 timestamp=now - 60 + i) for i in range(10)]
            spike = MarketEvent(platform="smoke", market_id="SMOKE-1", title="Smoke test market",
                                yes_price=0.47, volume=600.0, volume_kind="delta",
                                event_kind="trade", trade_side="yes", source="smoke",
                                timestamp=now)
            daemon.ingest(quiet + [spike])
            while True:
                await daemon.store.flush()
                rows = await daemon.store.aquery(
                    "SELECT id, tier, score FROM signals WHERE market_id='SMOKE-1'")
                events = await daemon.store.aquery("SELECT COUNT(*) FROM events")
                if rows:
                    break
                await trio.sleep(0.05)
        daemon.request_shutdown("smoke test done")
    sid, tier, score = rows[0]
    return (f"{events[0][0]} events stored, signal #{sid} ({tier}, score {score:.2f}) "
            f"persisted; served at {daemon.dashboard_url}")
