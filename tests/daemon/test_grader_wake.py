"""The live grader in a real daemon is woken by the pipeline's commits: with no settlement
round to keep (no feed can tell settlements), a pass after the first waits for newly
committed events — and events committed through the pipeline do wake it."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

from trade_hunter.daemon.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import make_daemon, run_daemon
from outcome_history import AFTER, MORNING, SIGNAL_EVENT, T0, clock, signal, store_history


def outcome_classes(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT horizons FROM outcomes WHERE signal_id = 1").fetchall()
    finally:
        conn.close()
    return [h.get("outcome", "no data") for h in json.loads(rows[0][0])] if rows else []


@pytest.fixture
def virtual_clock() -> trio.testing.MockClock:
    # The grader's 10 s between passes is virtual; store threads still work in real time.
    return trio.testing.MockClock(autojump_threshold=0.02)


async def graded(d, count: int) -> None:
    with trio.fail_after(600):  # virtual seconds: a guard against a hang
        while d.grader is None or d.grader.graded < count:
            await trio.sleep(0.5)


async def test_committed_events_wake_the_grader(tmp_path, virtual_clock):
    home = tmp_path / "home"
    store = Store(home / "trade-hunter.db")
    store.open()
    store_history(store, [*MORNING, SIGNAL_EVENT, *AFTER[:2], clock(T0 + 400)],
                  [signal(1, SIGNAL_EVENT)])
    store.close()

    async with trio.open_nursery() as nursery:
        d = make_daemon(home)
        done = await run_daemon(nursery, d)
        assert d.grader is not None and d.grader.settle is None  # no settlement round
        await graded(d, 1)
        assert outcome_classes(home / "trade-hunter.db") == [
            "continued", "reversed", "no data", "no data"]
        await trio.sleep(60)  # virtual: the grader is past its 10 s and waits for a commit
        # The market trades on past the 15- and 60-minute horizons, through the pipeline.
        d.ingest([*AFTER[2:], clock(T0 + 4000)])
        await graded(d, 2)
        d.request_shutdown("test")
        await done.wait()
    assert outcome_classes(home / "trade-hunter.db") == [
        "continued", "reversed", "flat", "reversed"]
