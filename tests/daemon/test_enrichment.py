"""Market names (daemon/enrichment.py): the one place events get their title and topic."""

from __future__ import annotations

from trade_hunter.daemon.enrichment import MarketNames, signal_topic
from trade_hunter.plugins.models import MarketEvent


def ev(market: str, title: str = "", topic: str | None = None) -> MarketEvent:
    return MarketEvent(platform="test", market_id=market, title=title, topic=topic,
                       yes_price=0.5, event_kind="quote", source="test", timestamp=1.0)


def test_titles_and_topics_are_remembered_inferred_and_filled_in_order():
    names = MarketNames()
    untitled_first, titled, untitled_after, other = (
        ev("M-1"), ev("M-1", "Will bitcoin close above 100k?"), ev("M-1"),
        ev("M-2", "Who wins the election?", topic="politics-custom"))
    names.complete([untitled_first, titled, untitled_after, other])
    assert (untitled_first.title, untitled_first.topic) == ("", None)  # nothing known yet
    assert titled.topic == "crypto"                        # inferred from the title
    assert (untitled_after.title, untitled_after.topic) == (titled.title, "crypto")
    assert other.topic == "politics-custom"                # what the source said is kept
    assert names.get("M-1") == (titled.title, "crypto")

    renamed = ev("M-1", "Will the Fed cut rates?")
    names.complete([renamed])
    assert renamed.topic == "macro" and names.get("M-1") == (renamed.title, "macro")


def test_a_signal_of_a_never_titled_market_takes_its_topic_from_the_id():
    assert signal_topic(ev("KXBTC-25DEC31")) == "crypto"
    assert signal_topic(ev("X", "Will it rain?", topic="weather")) == "weather"
