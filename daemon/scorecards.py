"""The scorecard as the API serves it: built from the stored outcomes (never re-graded) and
kept until the stored data it depends on changes.

Building one costs its bootstrap (about a second for a week of signals: 2,000 resamples per
group and horizon), so answers are cached per ``(since, until, group_by)`` under a fingerprint
of the data (outcomes graded, settlements known, analyst reads); a request with unchanged data
is a few indexed reads. After each grading pass that changed something the grader calls
:meth:`Scorecards.warm`, which rebuilds the scorecards asked for in the last ``WARM_FOR``
seconds (at most once a minute) in a worker thread, so the dashboard's poll finds them
ready.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import trio

from . import outcome_store as db
from .store import Store

Key = tuple[float | None, float | None, str]
KEPT = 16          # scorecards cached
WARM_FOR = 600.0   # a scorecard asked for this recently is rebuilt after a change ...
WARM_EVERY = 60.0  # ... at most this often (a rebuild is CPU the ingest could use)


def fingerprint(store: Store) -> tuple[Any, ...]:
    """What a scorecard depends on, cheaply: changes whenever an outcome, a settlement or an
    analyst read is written."""
    return (store.query("SELECT COUNT(*), MAX(graded_at) FROM outcomes")[0]
            + store.query("SELECT COUNT(*), MAX(checked_at) FROM settlements"
                          " WHERE result IS NOT NULL")[0]
            + store.query("SELECT COUNT(*), MAX(created_at) FROM analyst_reads")[0])


class Scorecards:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.clock = store, clock
        self._cache: OrderedDict[Key, tuple[tuple[Any, ...], dict[str, Any]]] = OrderedDict()
        self._asked: dict[Key, float] = {}
        self._lock = trio.Lock()  # one build at a time: the bootstrap is CPU-bound
        self.builds = 0
        self._warmed = float("-inf")

    async def get(self, since: float | None, until: float | None, group_by: str
                  ) -> dict[str, Any]:
        key = (since, until, group_by)
        self._asked[key] = self.clock()
        card = dict(await self._card(key))
        card["open"], card["baseline_open"] = await trio.to_thread.run_sync(
            db.waiting_signals, self.store)
        return card

    async def warm(self) -> None:
        now = self.clock()
        if now - self._warmed < WARM_EVERY:
            return
        self._warmed = now
        for key, at in list(self._asked.items()):
            if now - at > WARM_FOR:
                del self._asked[key]
            else:
                await self._card(key)

    async def _card(self, key: Key) -> dict[str, Any]:
        async with self._lock:
            mark = await trio.to_thread.run_sync(fingerprint, self.store)
            hit = self._cache.get(key)
            if hit is not None and hit[0] == mark:
                self._cache.move_to_end(key)
                return hit[1]
            card = await trio.to_thread.run_sync(db.scorecard, self.store, *key)
            self.builds += 1
            self._cache[key] = (mark, card)
            self._cache.move_to_end(key)
            while len(self._cache) > KEPT:
                self._cache.popitem(last=False)
            return card
