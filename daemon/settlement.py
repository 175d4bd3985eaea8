"""Settlement polling: asks the feeds that can tell (the optional feed method
``async settlement(market_id) -> "yes" | "no" | None``, docs/plugins.md) how the markets that
had signals settled, and stores the answers for the scorecard's hit rates and Brier scores.

Polite by construction: only markets with graded signals, of a platform whose feed has the
capability (the feed's plugin name is the events' platform, e.g. ``kalshi``), at most
``PER_PASS`` a pass (the grader's, every 10 s), each asked again no sooner than ``RECHECK``
after its last answer, and never again once settled; a call that raises or takes over
``CALL_TIMEOUT`` is no answer (nothing is recorded) and pauses the rounds for ``PAUSE``. A
feed's call goes through its own client (Kalshi: the same token bucket as the rest of the
feed's REST requests).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import trio

from . import outcome_store as db
from .store import Store
from .supervisor import ComponentHealth

log = logging.getLogger(__name__)
PER_PASS = 5
RECHECK = 1800.0
CALL_TIMEOUT = 30.0
PAUSE = 60.0       # after a feed could not answer (not running yet, errors): rounds pause
GRACE = 20.0       # none in the first seconds: the feeds start after the grader


def capable(feeds: list[tuple[str, Any]]) -> dict[str, Any]:
    """The feeds (by name) that have the settlement capability."""
    return {name: feed for name, feed in feeds if callable(getattr(feed, "settlement", None))}


class Settler:
    def __init__(self, store: Store, feeds: dict[str, Any], health: ComponentHealth, *,
                 per_pass: int = PER_PASS, recheck: float = RECHECK, grace: float = GRACE,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.feeds, self.health = store, feeds, health
        self.per_pass, self.recheck, self.clock = per_pass, recheck, clock
        self._paused_until = clock() + grace

    async def __call__(self) -> int:
        """One polite round; returns how many markets were found settled."""
        if not self.feeds or self.clock() < self._paused_until:
            return 0
        due = await trio.to_thread.run_sync(
            db.unsettled_markets, self.store, sorted(self.feeds),
            self.clock() - self.recheck, self.per_pass)
        writes, settled, now = [], 0, self.clock()
        for market, platform in due:
            result: str | None = None
            try:
                with trio.fail_after(CALL_TIMEOUT):
                    result = await self.feeds[platform].settlement(market)
            except Exception as exc:  # noqa: BLE001 - a feed's failure is its own: ask later
                # Not an answer: nothing recorded, the market is asked again after a pause.
                log.debug("settlement of %s: cannot ask now: %s", market, exc)
                self.health.count("settlement_errors")
                self._paused_until = self.clock() + PAUSE
                break
            if result not in ("yes", "no"):
                result = None
            settled += result is not None
            writes.append(db.write_settlement(market, result, now))
        if writes:
            await self.store.run(_all(writes))
            self.health.count("settlement_checks", len(writes))
            if settled:
                self.health.count("settled", settled)
        return settled


def _all(writes: list[Any]) -> Any:
    def fn(conn: sqlite3.Connection) -> None:
        for write in writes:
            write(conn)
    return fn
