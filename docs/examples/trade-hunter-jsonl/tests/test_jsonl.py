"""A plugin author's tests: the components alone, driven the way the daemon drives them
(a bounded memory channel for the feed, ``await notify(alert)`` for the notifier)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import trio
from trade_hunter_jsonl import JsonlNotifier, JsonlReplayFeed

from trade_hunter.plugins import Alert, MarketEvent, NotifyError, SpikeSignal, to_json


def signal(market: str = "M-1") -> SpikeSignal:
    event = MarketEvent(platform="test", market_id=market, title="Will it?", yes_price=0.5)
    return SpikeSignal(market_id=market, platform="test", title="Will it?", topic="general",
                       source="jsonl", tier="notable", score=4.0, rule="outlier",
                       volume_delta=500.0, baseline=20.0, volume_multiple=25.0,
                       price_move=0.1, price_score=2.0, direction="up", yes_price=0.5,
                       event=event, id=1)


async def test_the_notifier_appends_one_json_line_per_alert(tmp_path: Path):
    out = tmp_path / "alerts" / "out.jsonl"
    notifier = JsonlNotifier(out)
    await notifier.notify(Alert(kind="detector", signal=signal("A")))
    await notifier.notify(Alert(kind="detector", signal=signal("B")))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(x["kind"], x["signal"]["market_id"]) for x in lines] == [("detector", "A"),
                                                                       ("detector", "B")]


async def test_a_write_error_asks_the_daemon_to_retry(tmp_path: Path):
    (tmp_path / "blocked").write_text("a file where a folder should be")
    notifier = JsonlNotifier(tmp_path / "blocked" / "out.jsonl")
    with pytest.raises(NotifyError):
        await notifier.notify(Alert(kind="detector", signal=signal()))


async def test_the_feed_replays_in_order_restamped(tmp_path: Path):
    source = tmp_path / "day.jsonl"
    events = [MarketEvent(platform="test", market_id="M", yes_price=0.4 + i / 100,
                          timestamp=1_700_000_000.0 + 10 * i) for i in range(3)]
    source.write_text("# a comment\n" + "\n".join(to_json(e).decode() for e in events)
                      + "\nnot json\n")
    send, receive = trio.open_memory_channel(10)
    feed = JsonlReplayFeed(source)
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run, send)
        got = [await receive.receive() for _ in range(3)]
        nursery.cancel_scope.cancel()
    assert [e.yes_price for e in got] == pytest.approx([0.4, 0.41, 0.42])
    assert all(e.source == "jsonl" for e in got)
    assert abs(got[0].timestamp - time.time()) < 5  # the first event happens now
    assert got[2].timestamp - got[0].timestamp == pytest.approx(20.0)  # gaps kept
