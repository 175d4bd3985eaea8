"""Cross-venue pairs and the divergence rule: the rule on its own (fire, escalate, converge,
YES↔NO mapping), and inside a real daemon fed by two scripted feeds, with the pair added over
the control API and persisted across a restart."""

from __future__ import annotations

import pytest
import trio

from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.cli import build
from trade_hunter.daemon.divergence import DivergenceRule
from trade_hunter.daemon.pairs import Pair, PairBook, parse_side
from trade_hunter.daemon.store import Store
from trade_hunter.plugins.errors import RpcError
from trade_hunter.plugins.models import MarketEvent
from trade_hunter.plugins.testing import FakesPlugin, RecordingNotifier, ScriptedFeed

from ..conftest import base_env, run_daemon

T0 = 1_775_190_000.0
K, P = "KXFEDDECISION-26DEC-C25", "fed-cut-25-bps-december"


def quote(platform, market, price, t, bid=None, ask=None):
    return MarketEvent(platform=platform, market_id=market, source=platform, yes_price=price,
                       yes_bid=bid, yes_ask=ask, event_kind="quote", timestamp=T0 + t,
                       title=f"{market} title")


def rule_with(mapping="yes"):
    book = PairBook(None)  # type: ignore[arg-type]  # indexed by hand: no store needed
    book.pairs = {1: Pair(1, "kalshi", K, "polymarket", P, mapping, T0)}
    book._index()
    return DivergenceRule(book, min_gap=0.05, min_seconds=60)


def test_fires_after_the_minimum_time_escalates_when_wider_and_notes_convergence():
    rule = rule_with()
    assert rule.observe([quote("kalshi", K, 0.40, 0, 0.39, 0.41),
                         quote("polymarket", P, 0.55, 1, 0.54, 0.57)]) == []
    assert rule.observe([quote("kalshi", K, 0.40, 50)]) == []        # 49 s: not yet
    [first] = rule.observe([quote("polymarket", P, 0.56, 62, 0.55, 0.57)])
    d = first.divergence
    assert (first.rule, first.detector, first.escalation, first.tier) == (
        "divergence", "divergence", 0, "notable")
    assert (d.a_price, d.b_price, round(d.gap, 2), d.seconds) == (0.40, 0.56, -0.16, 61.0)
    assert (d.a_spread, d.b_spread) == (0.02, 0.02)
    assert "kalshi 0.40 vs polymarket 0.56" in first.title and first.market_id == K
    assert rule.observe([quote("polymarket", P, 0.58, 70)]) == []     # wider, not by 0.05
    [wider] = rule.observe([quote("polymarket", P, 0.62, 80)])
    assert (wider.escalation, wider.escalates) == (1, first.created_at)
    [closed] = rule.observe([quote("kalshi", K, 0.60, 90)])
    assert closed.divergence.converged and (closed.escalation, closed.tier) == (2, "watch")
    assert "converged" in closed.title
    assert rule.observe([quote("kalshi", K, 0.61, 200)]) == []       # quiet again


def test_yes_to_no_mapping_compares_the_complement():
    rule = rule_with("no")
    rule.observe([quote("kalshi", K, 0.40, 0), quote("polymarket", P, 0.60, 0)])
    assert rule.observe([quote("kalshi", K, 0.40, 100)]) == []  # 1 - 0.60 = 0.40: agree
    rule.observe([quote("polymarket", P, 0.30, 101)])           # mapped 0.70: apart
    [signal] = rule.observe([quote("kalshi", K, 0.40, 200)])
    assert round(signal.divergence.gap, 2) == -0.30 and signal.divergence.mapping == "no"


def test_side_suffix():
    assert parse_side("fed-cut-25-bps-december:no") == (P, "no")
    assert parse_side("fed-cut-25-bps-december:YES") == (P, "yes")
    assert parse_side(P) == (P, "yes")


def test_suggestions_are_offered_by_title_similarity(tmp_path):
    book = PairBook(Store(tmp_path / "x.db"))
    rows = [("kalshi", K, "Will the Fed cut rates by 25 bps in December 2026?"),
            ("kalshi", "KXBTC-26", "Bitcoin above 100k at year end?"),
            ("polymarket", P, "Fed cut 25 bps in December 2026?"),
            ("polymarket", "nba-finals-2026", "Who will win the NBA Finals?")]
    [s] = book.suggest(rows, "kalshi", "polymarket")
    assert (s["a_market"], s["b_market"]) == (K, P) and s["score"] >= 70
    assert book.entries() == []  # offered, never applied


async def test_a_divergence_from_two_scripted_feeds_with_a_pair_kept_across_a_restart(
        tmp_path):
    home = tmp_path / "home"
    d = Daemon(*build(base_env(home)))
    async with trio.open_nursery() as nursery:
        await run_daemon(nursery, d)
        added = await d.service.call("pairs.add", {"a": K, "b": f"{P}:yes"})
        assert added["added"] and added["pair"]["mapping"] == "yes"
        again = await d.service.call("pairs.add", {"a": K, "b": P})
        assert not again["added"] and again["pair"]["id"] == added["pair"]["id"]
        try:
            await d.service.call("pairs.add", {"a": "has space", "b": P})
            raise AssertionError("a bad market id was accepted")
        except RpcError as exc:
            assert "not a market id" in str(exc)
        d.request_shutdown("restart")

    notifier = RecordingNotifier()
    kalshi = ScriptedFeed([quote("kalshi", K, 0.40, 0, 0.39, 0.41),
                           quote("kalshi", K, 0.40, 61, 0.39, 0.41)])
    poly = ScriptedFeed([quote("polymarket", P, 0.55, 0, 0.54, 0.56),
                         quote("polymarket", P, 0.55, 62, 0.54, 0.56)])
    d = Daemon(*build(base_env(home, DIVERGENCE_MIN_SECONDS="60"), [
        ("kalshi-script", FakesPlugin(feed=kalshi, name="kalshi-script", notifier=notifier)),
        ("poly-script", FakesPlugin(feed=poly, name="poly-script"))]))
    async with trio.open_nursery() as nursery:
        await run_daemon(nursery, d)
        listed = await d.service.call("pairs.list")
        assert [(p["a_market"], p["b_market"]) for p in listed["pairs"]] == [(K, P)]
        with trio.fail_after(30):
            [alert] = await notifier.wait_for(1, kind="detector")
        signal = alert.signal
        assert signal.rule == "divergence" and signal.divergence is not None
        assert (signal.divergence.a_price, signal.divergence.b_price) == (0.40, 0.55)
        assert signal.divergence.seconds >= 60
        await d.store.flush()
        [(rule, market)] = await d.store.aquery("SELECT rule, market_id FROM signals")
        assert (rule, market) == ("divergence", K)
        assert len(await d.store.aquery("SELECT * FROM divergence_open")) == 1
        removed = await d.service.call("pairs.remove", {"id": str(listed["pairs"][0]["id"])})
        assert removed["removed"] and (await d.service.call("pairs.list"))["pairs"] == []
        assert await d.store.aquery("SELECT * FROM divergence_open") == []  # went with it
        d.request_shutdown("done")


async def test_an_open_divergence_survives_a_restart(tmp_path):
    """Fired before the restart; after it the standing gap does not fire again, a widening
    continues the escalations, and the close is noted as "converged" of the same signal."""
    home = tmp_path / "home"
    # the scripted times are in April 2026: keep them through the restart's retention run
    env = base_env(home, DIVERGENCE_MIN_SECONDS="60", RETENTION_DAYS="100000")
    d = Daemon(*build(env))
    async with trio.open_nursery() as nursery:  # the pair first, as a person would add it
        await run_daemon(nursery, d)
        await d.service.call("pairs.add", {"a": K, "b": P})
        d.request_shutdown("paired")

    first_run = RecordingNotifier()
    feed = ScriptedFeed([[quote("kalshi", K, 0.40, 0, 0.39, 0.41),
                          quote("polymarket", P, 0.55, 0, 0.54, 0.56)],
                         [quote("kalshi", K, 0.40, 61, 0.39, 0.41)]])
    d = Daemon(*build(env, [("script", FakesPlugin(feed=feed, name="script",
                                                   notifier=first_run))]))
    async with trio.open_nursery() as nursery:
        await run_daemon(nursery, d)
        with trio.fail_after(30):
            [alert] = await first_run.wait_for(1, kind="detector")
        first = alert.signal
        await d.store.flush()
        [row] = await d.store.aquery("SELECT since, fired_at, fired_gap, escalations, signal_id"
                                     " FROM divergence_open")
        assert row == (T0, T0 + 61, pytest.approx(0.15), 0, first.id)
        d.request_shutdown("restart")

    second_run = RecordingNotifier()
    feed = ScriptedFeed([quote("kalshi", K, 0.40, 100),          # still apart: no new signal
                         quote("polymarket", P, 0.56, 101),
                         quote("polymarket", P, 0.62, 110),      # wider by 0.07: escalation
                         quote("kalshi", K, 0.60, 150)])         # 0.02 apart: converged
    d = Daemon(*build(env, [("script", FakesPlugin(feed=feed, name="script",
                                                   notifier=second_run))]))
    async with trio.open_nursery() as nursery:
        await run_daemon(nursery, d)
        with trio.fail_after(30):
            while d.pipeline.processed < 4:  # the whole script judged
                await trio.sleep(0.05)
        signals = [s for s in d.live.recent_signals(limit=10) if s.id != first.id]
        wider, closed = sorted(signals, key=lambda s: s.id)  # one first signal, never re-fired
        assert (wider.escalation, wider.escalates) == (1, first.created_at)
        assert wider.divergence.seconds == 110.0  # timed from the first crossing
        assert closed.divergence.converged
        assert (closed.escalation, closed.escalates) == (2, first.created_at)
        await d.store.flush()
        rows = await d.store.aquery("SELECT id, rule FROM signals ORDER BY id")
        assert rows == [(first.id, "divergence"), (wider.id, "divergence"),
                        (closed.id, "divergence")]
        assert await d.store.aquery("SELECT * FROM divergence_open") == []
        d.request_shutdown("done")
