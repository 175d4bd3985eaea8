"""The live grader on hand-built stored histories: outcome classes per horizon as data_end
passes them, the time-matched baseline counted by hand, no-data and unpriced signals, the
market-hours denominator, and a real daemon restarted in the middle of a horizon."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

import trio

from trade_hunter.daemon.grader import Grader
from trade_hunter.daemon.outcome_store import waiting_signals
from trade_hunter.daemon.store import Store
from trade_hunter.daemon.supervisor import ComponentHealth
from trade_hunter.plugins.models import MarketEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import make_daemon, run_daemon
from outcome_history import (
    AFTER,
    D0,
    DAY,
    MARKET,
    MORNING,
    SIGNAL_EVENT,
    T0,
    clock,
    signal,
    store_history,
    trade,
)


def classes(horizons) -> list[str]:
    return [h.outcome for h in horizons]


async def test_grades_each_horizon_as_data_end_passes_it(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.open()
    published: dict[int, list] = {}
    grader = Grader(store, ComponentHealth("outcomes", "component"), k=20, band=0.005,
                    published=lambda sid, h: published.__setitem__(sid, h))
    try:
        store_history(store, [*MORNING, SIGNAL_EVENT, *AFTER[:2], clock(T0 + 400)],
                      [signal(1, SIGNAL_EVENT)])
        await store.flush()
        assert await grader.recover() == 1
        assert await grader.pass_once() == 1
        first = published[1]
        assert classes(first) == ["continued", "reversed", "no data", "no data"]
        assert first[0].change == 0.03 and first[1].change == -0.02
        assert first[1].favorable == 0.03 and first[1].adverse == 0.02
        assert 1 in grader.open  # still open: 15 and 60 minutes to come
        assert waiting_signals(store) == (1, 0)

        assert await grader.pass_once() == 0  # nothing new is due: no regrade

        store_history(store, [*AFTER[2:], clock(T0 + 3700)])
        await store.flush()
        assert await grader.pass_once() == 1
        final = published[1]
        assert classes(final) == ["continued", "reversed", "flat", "reversed"]
        assert final[3].price == 0.45 and final[3].favorable == 0.03
        assert final[3].adverse == 0.05
        assert 1 in grader.open  # its baseline's day is not over yet
        assert waiting_signals(store) == (0, 1)

        store_history(store, [clock(D0 + DAY + 3600)])
        await store.flush()
        assert await grader.pass_once() == 1
        assert 1 not in grader.open
        assert waiting_signals(store) == (0, 0)
        row = store.query("SELECT complete, baseline FROM outcomes WHERE signal_id = 1")[0]
        assert row[0] == 1
        # Counted by hand from the history (all 5 other moved trades of the day are drawn):
        # [continued, reversed, flat, no data, summed |change|] per horizon.
        import json
        tallies = [t[:4] for t in json.loads(row[1])]
        assert tallies == [[0, 0, 5, 0], [0, 1, 4, 0], [0, 2, 3, 0], [1, 2, 2, 0]]

        # Clock hours with a trade (sub-second event times count in their hour).
        store_history(store, [trade(D0 + 10 * 3600 + 1234.567, 0.45),
                              trade(D0 + 11 * 3600 + 0.25, 0.45)])
        await store.flush()
        await grader.pass_once()
        hours = store.query("SELECT market_id, hour_start FROM market_hours ORDER BY 2")
        assert hours == [(MARKET, D0 + 8 * 3600), (MARKET, D0 + 10 * 3600),
                         (MARKET, D0 + 11 * 3600)]
    finally:
        store.close()


async def test_no_data_unpriced_and_undirected_signals(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.open()
    grader = Grader(store, ComponentHealth("outcomes", "component"))
    try:
        other = trade(T0, 0.30, "KXTEST-FLAT")
        unpriced = MarketEvent(platform="kalshi", market_id="KXTEST-VOL", volume=900,
                               event_kind="trade", timestamp=T0, received_at=T0, source="test")
        store_history(store, [SIGNAL_EVENT, other, unpriced, trade(T0 + 30, 0.36, "KXTEST-FLAT"),
                              clock(T0 + 200)],
                      [signal(1, SIGNAL_EVENT), signal(2, other, "flat"),
                       signal(3, unpriced, "flat", price=None)])
        await store.flush()
        await grader.recover()
        await grader.pass_once()
        rows = dict(store.query("SELECT signal_id, complete FROM outcomes"))
        assert rows == {1: 0, 2: 0, 3: 1}  # the unpriced one can never be graded: closed
        import json
        got = {sid: [h.get("outcome", "no data") for h in json.loads(blob)]
               for sid, blob in store.query("SELECT signal_id, horizons FROM outcomes")}
        # No event after the signal in its market, but data_end passed +1m: it did not move.
        assert got[1] == ["flat", "no data", "no data", "no data"]
        assert got[2] == ["moved", "no data", "no data", "no data"]  # undirected, +6¢
        assert got[3] == ["no data"] * 4
    finally:
        store.close()


async def test_an_event_stamped_in_the_future_does_not_pass_horizons(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.open()
    # Now is T0 + 90 s; a relayed quote claims T0 + 5000 s: only the 1-minute horizon passed.
    grader = Grader(store, ComponentHealth("outcomes", "component"), clock=lambda: T0 + 90)
    try:
        store_history(store, [SIGNAL_EVENT, AFTER[0], clock(T0 + 5000)],
                      [signal(1, SIGNAL_EVENT)])
        await store.flush()
        await grader.recover()
        await grader.pass_once()
        assert outcome_classes(tmp_path / "db.sqlite") == [
            "continued", "no data", "no data", "no data"]
        assert grader.health.info["data_end"] == T0 + 90
    finally:
        store.close()


def outcome_classes(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT horizons FROM outcomes WHERE signal_id = 1").fetchall()
    finally:
        conn.close()
    import json
    return [h.get("outcome", "no data") for h in json.loads(rows[0][0])] if rows else []


async def wait_graded(d, count: int) -> None:
    with trio.fail_after(30):  # a guard against a hang, not a timing assertion
        while d.grader is None or d.grader.graded < count:
            await trio.sleep(0.05)


async def test_restart_in_the_middle_of_a_horizon_grades_from_stored_events(tmp_path):
    home = tmp_path / "home"
    store = Store(home / "trade-hunter.db")
    store.open()
    store_history(store, [*MORNING, SIGNAL_EVENT, *AFTER[:2], clock(T0 + 400)],
                  [signal(1, SIGNAL_EVENT)])
    store.close()

    async with trio.open_nursery() as nursery:
        d = make_daemon(home)
        done = await run_daemon(nursery, d)
        await wait_graded(d, 1)  # graded at start-up from the stored history
        card = await d.service.call("signals.list", {})
        d.request_shutdown("test")
        await done.wait()
    assert outcome_classes(home / "trade-hunter.db") == [
        "continued", "reversed", "no data", "no data"]

    # While the daemon is down, the market trades on past the 15- and 60-minute horizons.
    store = Store(home / "trade-hunter.db")
    store.open()
    store_history(store, [*AFTER[2:], clock(T0 + 4000)])
    store.close()

    async with trio.open_nursery() as nursery:
        d = make_daemon(home)
        done = await run_daemon(nursery, d)
        await wait_graded(d, 1)
        d.request_shutdown("test")
        await done.wait()
    assert outcome_classes(home / "trade-hunter.db") == [
        "continued", "reversed", "flat", "reversed"]
    assert card["signals"][0]["id"] == 1


async def test_outcomes_market_hours_and_settlements_follow_retention(tmp_path):
    from trade_hunter.daemon.outcome_store import (
        outcome_row,
        write_market_hours,
        write_outcomes,
        write_settlement,
    )
    from trade_hunter.daemon.retention import Retention

    store = Store(tmp_path / "db.sqlite")
    store.open()
    try:
        old, new = time.time() - 10 * 86400, time.time() - 3600
        signals = [signal(1, trade(old, 0.5, "KXOLD")), signal(2, trade(new, 0.5, "KXNEW"))]
        store.submit(write_outcomes([outcome_row(s, [], [], True) for s in signals]))
        store.submit(write_market_hours([("KXOLD", old // 3600 * 3600),
                                         ("KXNEW", new // 3600 * 3600)], 0))
        store.submit(write_settlement("KXOLD", "yes", old))
        store.submit(write_settlement("KXNEW", None, new))
        await store.flush()
        await Retention(store, days=7).run_once()
        for table in ("outcomes", "market_hours", "settlements"):
            assert store.query(f"SELECT market_id FROM {table}") == [("KXNEW",)], table
    finally:
        store.close()


async def test_a_known_close_caps_the_horizons(tmp_path):
    """A gated signal records the time left to the close: horizons past it are graded at the
    close (here 250 s after the signal: +5 m and later end at the 48¢ of +200 s)."""
    store = Store(tmp_path / "db.sqlite")
    store.open()
    published: dict[int, list] = {}
    grader = Grader(store, ComponentHealth("outcomes", "component"), k=20, band=0.005,
                    published=lambda sid, h: published.__setitem__(sid, h))
    capped = signal(1, SIGNAL_EVENT)
    capped.context.seconds_to_close = 250.0
    try:
        store_history(store, [*MORNING, SIGNAL_EVENT, *AFTER, clock(T0 + 3700)], [capped])
        await store.flush()
        await grader.recover()
        await grader.pass_once()
        graded = published[1]
        assert classes(graded) == ["continued", "reversed", "reversed", "reversed"]
        assert [h.capped for h in graded] == [False, True, True, True]
        assert {h.price for h in graded[1:]} == {0.48}
    finally:
        store.close()
