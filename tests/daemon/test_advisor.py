"""The tuning advisor in a real daemon, on a hand-built event history whose replay numbers
are worked out by hand below; the backlog file; applying a suggestion (live and after a
restart)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
import trio

from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.event_writes import write_read
from trade_hunter.plugins.errors import RpcError
from trade_hunter.plugins.models import AnalystRead, MarketEvent

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analyst_daemon import build, keys

# The history (event times relative to "now", all inside the advisor's 24-hour window):
#
# Market A — five rounds, 400 s apart: five quiet trades of 80 contracts, then a trade of 150
# that moves the price 3c (up, down, up, …). Every spike fires on the hard rule (150 ≥ 120 and
# 3c ≥ 3c); none fires as an outlier (150 < 2.2 × baseline ≥ 2.2 × 80 = 176). Read as noise
# in rounds 0-3 and as signal in round 4.
# Market B — six rounds: quiet trades of 80, then 600 contracts moving 6c: hard-rule signals,
# read as signal in rounds 0-4 and uncertain in round 5.
#
# Replay with SPIKE_MIN_VOLUME_DELTA 160 (the first round number above A's 150): A's spikes
# no longer pass the hard rule and are not outliers, B's (600) still fire → alerts 11 → 6
# (−45 %); drops 4 of 4 noise, keeps 5 of 6 signal (A's round 4 is dropped), 1 of 1 uncertain.
# SPIKE_MIN_PRICE_MOVE 0.04 does exactly the same (A moves 3c, B 6c).
# Longer cooldowns (420 s+) would also drop B's rounds 1, 3, 5: 4 of 6 signal kept (< 80 %);
# a higher score threshold changes nothing (no outlier-rule signals). So: two suggestions.
EVIDENCE = ("\u221245 % alerts (11 → 6); drops 4 of 4 noise, keeps 5 of 6 signal, keeps 1 of "
            "1 uncertain; replay reproduces 11 of 11 past signals")


def trade(market: str, ts: float, price: float, volume: float) -> MarketEvent:
    titles = {"A": "Will it snow in Lisbon on Friday?", "B": "Will the budget bill pass?"}
    return MarketEvent(platform="test", market_id=market, title=titles[market],
                       yes_price=price, volume=volume, event_kind="trade", trade_side="yes",
                       timestamp=ts, source="test")


def market_rounds(market: str, t0: float, rounds: int, spike: float, move: float
                  ) -> list[MarketEvent]:
    events, price = [], 0.40
    for i in range(rounds):
        start = t0 + i * 400
        events += [trade(market, start + k * 10, price, 80.0) for k in range(5)]
        price = round(price + (move if i % 2 == 0 else -move), 2)
        events.append(trade(market, start + 60, price, spike))
    return events


def history(now: float) -> list[MarketEvent]:
    events = market_rounds("A", now - 3000, 5, 150.0, 0.03) \
        + market_rounds("B", now - 2900, 6, 600.0, 0.06)
    return sorted(events, key=lambda e: e.timestamp)


LABELS = {"A": ["noise"] * 4 + ["signal"], "B": ["signal"] * 5 + ["uncertain"]}


async def signal_rows(d: Daemon, n: int) -> list[tuple[Any, ...]]:
    with trio.fail_after(20):
        while True:
            await d.store.flush()
            rows = await d.store.aquery(
                "SELECT id, market_id FROM signals ORDER BY created_at")
            if len(rows) >= n:
                return rows
            await trio.sleep(0.05)


async def labelled_history(d: Daemon) -> float:
    now = time.time()
    d.ingest(history(now))
    rows = await signal_rows(d, 11)
    assert len(rows) == 11
    seen = {"A": 0, "B": 0}
    for sid, market in rows:
        label = LABELS[market][seen[market]]
        seen[market] += 1
        await d.store.run(write_read(AnalystRead(
            signal_id=sid, status="done", noise_or_signal=label, direction="up",  # type: ignore[arg-type]
            confidence="medium", rationale="hand label", provider="test",
            created_at=time.time())))
    return now


@pytest.fixture
async def advised(tmp_path, nursery) -> tuple[Daemon, float]:
    # No analyst at all: the labels are the hand-written ones.
    d = build(tmp_path / "home", disabled=("heuristic",))
    await nursery.start(d.run)
    return d, await labelled_history(d)


async def test_replay_numbers_on_a_hand_built_history(advised):
    d, _ = advised
    summary = await d.service.call("tuning.run", {})

    assert summary["labels"] == {"signal": 6, "noise": 4, "uncertain": 1, "unlabelled": 0}
    assert summary["replay"] == {"alerts": 11, "reproduced": 11, "past": 11}
    assert summary["latest"] == ["TB-001", "TB-002"]
    by_id = {s["id"]: s for s in summary["suggestions"]}
    one, two = by_id["TB-001"], by_id["TB-002"]
    assert (one["knob"], one["from"], one["to"]) == ("SPIKE_MIN_VOLUME_DELTA", 120.0, 160.0)
    assert (two["knob"], two["from"], two["to"]) == ("SPIKE_MIN_PRICE_MOVE", 0.03, 0.04)
    assert one["evidence"] == EVIDENCE and two["evidence"] == EVIDENCE
    assert one["status"] == "suggested"
    assert one["why"] == ("hard-rule signals read as noise are small: median volume 150 vs "
                          "600 for those read as signal")
    assert summary["patterns"][:2] == [
        {"dimension": "market", "value": "A", "noise": 4, "total": 5, "share": 0.8,
         "description": "market A: 4 of 5 noise"},
        {"dimension": "tier", "value": "watch", "noise": 4, "total": 5, "share": 0.8,
         "description": "tier watch: 4 of 5 noise"}]
    assert summary["available"] is True and summary["detail"] == ""
    # The backlog file has both, with stable ids, the date, from → to and the evidence.
    text = Path(summary["backlog_path"]).read_text()
    assert "## TB-001 — SPIKE_MIN_VOLUME_DELTA 120 → 160" in text
    assert f"- **Evidence:** {EVIDENCE}" in text
    assert f"- **Date:** {time.strftime('%Y-%m-%d', time.gmtime())}" in text
    # The panel shows the same (memory only).
    assert d.advisor is not None and d.advisor.summary()["suggestions"] == \
        summary["suggestions"]


async def test_applying_changes_what_the_detector_does_next(advised, tmp_path):
    d, now = advised
    await d.service.call("tuning.run", {})
    path = d.advisor.backlog.path  # type: ignore[union-attr]
    # A person rejects TB-002 and writes a note under it.
    head, tail = path.read_text().split("## TB-002", 1)
    tail = tail.replace("- **Status:** suggested", "- **Status:** rejected", 1)
    path.write_text(head + "## TB-002" + tail + "\nNot now: price moves matter here.\n")

    result = await d.service.call("tuning.apply", {"id": "tb-1"})
    assert result == {"id": "TB-001", "knob": "SPIKE_MIN_VOLUME_DELTA", "from": 120.0,
                      "to": 160.0, "status": "applied",
                      "thresholds": {**d.pipeline.detector.thresholds}}  # type: ignore[union-attr]
    assert d.pipeline.detector.thresholds["SPIKE_MIN_VOLUME_DELTA"] == 160.0  # type: ignore[union-attr]
    assert d.extras["detector"] is d.pipeline.detector  # type: ignore[union-attr]

    # The file was rewritten: TB-001 applied, the person's status and note kept.
    text = path.read_text()
    one, two = text.split("## TB-002")
    assert "- **Status:** applied" in one and "- **Applied:** " in one
    assert "- **Status:** rejected" in two and "Not now: price moves matter here." in two

    # Next events: an A-like spike (150 contracts, 3c) no longer fires; a B-like one does.
    # (A last traded at 0.43, 1340 s ago; B at 0.40, 840 s ago: both out of cooldown.)
    d.ingest([trade("A", now - 900, 0.40, 150.0), trade("B", now - 500, 0.46, 600.0)])
    await signal_rows(d, 12)
    rows = await d.store.aquery("SELECT market_id, rule FROM signals WHERE id > 11")
    assert rows == [("B", "hard")]

    # A rejected suggestion is not suggested again.
    summary = await d.service.call("tuning.run", {})
    assert [s["id"] for s in summary["suggestions"]] == ["TB-002", "TB-001"]
    assert "- **Status:** rejected" in path.read_text().split("## TB-002")[1]


async def test_an_applied_threshold_survives_a_restart(tmp_path):
    home = tmp_path / "home"
    async with trio.open_nursery() as nursery:
        d = build(home, disabled=("heuristic",))
        await nursery.start(d.run)
        await labelled_history(d)
        await d.service.call("tuning.run", {})
        await d.service.call("tuning.apply", {"id": "TB-002"})
        d.request_shutdown("restart")
    async with trio.open_nursery() as nursery:
        d = build(home, disabled=("heuristic",))
        await nursery.start(d.run)
        assert d.pipeline.detector.thresholds["SPIKE_MIN_PRICE_MOVE"] == 0.04  # type: ignore[union-attr]
        assert d.components["spike"] is d.pipeline.detector  # type: ignore[union-attr]
        summary = await d.service.call("tuning.show", {})
        assert {s["id"]: s["status"] for s in summary["suggestions"]} == \
            {"TB-001": "suggested", "TB-002": "applied"}
        assert summary["thresholds"]["SPIKE_MIN_PRICE_MOVE"] == 0.04
        d.request_shutdown("done")
    # The person changes the setting itself: their configuration wins over the override.
    async with trio.open_nursery() as nursery:
        d = build(home, disabled=("heuristic",), SPIKE_MIN_PRICE_MOVE="0.05")
        await nursery.start(d.run)
        assert d.pipeline.detector.thresholds["SPIKE_MIN_PRICE_MOVE"] == 0.05  # type: ignore[union-attr]
        d.request_shutdown("done")


async def test_bad_apply_requests_are_refused(advised):
    d, _ = advised
    with pytest.raises(RpcError, match="not a backlog id like TB-001"):
        await d.service.call("tuning.apply", {"id": "SPIKE_MIN_VOLUME_DELTA"})
    with pytest.raises(RpcError, match="no suggestion TB-999 in "):
        await d.service.call("tuning.apply", {"id": "TB-999"})
    with pytest.raises(RpcError, match="missing parameter 'id'"):
        await d.service.call("tuning.apply", {})


async def test_not_enough_reads_says_so_and_writes_nothing(tmp_path, nursery):
    d = build(tmp_path / "home")
    await nursery.start(d.run)
    summary = await d.service.call("tuning.run", {})
    assert summary["suggestions"] == [] and summary["labels"]["signal"] == 0
    assert summary["detail"].startswith("not enough analysed signals yet: 0 analysed")
    assert not Path(summary["backlog_path"]).exists()
    assert d.health.get("advisor").counters["runs"] == 1


async def test_perplexity_phrases_the_narrative_numbers_stay_the_replays(tmp_path, nursery):
    from fake_analysts import FakePerplexity  # tests/, on the path through analyst_daemon
    perplexity = await nursery.start(FakePerplexity().serve)
    d = build(tmp_path / "home", disabled=("heuristic",), **keys(perplexity=perplexity))
    await nursery.start(d.run)
    d.ingest(history(time.time()))
    await signal_rows(d, 11)
    with trio.fail_after(20):  # the automatic reads (from the fake) land first…
        while await d.store.aquery("SELECT 1 FROM analyst_reads WHERE status != 'done'") \
                or len(await d.store.aquery("SELECT 1 FROM analyst_reads")) < 11:
            await trio.sleep(0.05)
    rows = await d.store.aquery("SELECT id, market_id FROM signals ORDER BY created_at")
    seen = {"A": 0, "B": 0}
    for sid, market in rows:  # …then the hand labels replace them
        label = LABELS[market][seen[market]]
        seen[market] += 1
        await d.store.run(write_read(AnalystRead(
            signal_id=sid, noise_or_signal=label, rationale="hand", created_at=time.time())))
    summary = await d.service.call("tuning.run", {})
    [one, two] = sorted(summary["suggestions"], key=lambda s: s["id"])
    assert one["narrative"] == two["narrative"] == perplexity.narrative
    assert one["evidence"] == EVIDENCE
    asked = [r.json() for r in perplexity.requests if "response_format" not in r.json()]
    assert len(asked) == 2 and "−45 % alerts (11 → 6)" in asked[0]["messages"][1]["content"]


async def test_the_last_run_survives_a_restart(tmp_path):
    home = tmp_path / "home"
    async with trio.open_nursery() as nursery:
        d = build(home)
        await nursery.start(d.run)
        ran = await d.service.call("tuning.run", {})
        d.request_shutdown("restart")
    async with trio.open_nursery() as nursery:
        d = build(home)
        await nursery.start(d.run)
        summary = await d.service.call("tuning.show", {})
        # Not "No advisor run yet": when it ran and what it said.
        assert summary["last_run_at"] == ran["last_run_at"]
        assert summary["detail"] == f"Last run (before the daemon restarted): {ran['detail']}"
        d.request_shutdown("done")
