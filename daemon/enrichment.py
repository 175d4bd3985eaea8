"""Market names: the one place the daemon completes an event's title and topic.

Feeds and relays say what their source says (a title, the exchange's own category normalised
by ``trade_hunter.plugins.topics``, a relay's ``topic`` field). The pipeline hands every batch
to :meth:`MarketNames.complete` before the detector, the vendor rule and the divergence rule
see it: a market's title and topic are remembered, an event without them gets the market's,
and a titled event whose source gave no topic gets one inferred from its title and id
(``topics.topic_of``). What a signal shows is its event's topic; only an event of a market
never titled has none, and the signal's topic is then inferred from the market id
(:func:`signal_topic`; the spike detector does the same for events that never went through
the pipeline, e.g. in the backtest).
"""

from __future__ import annotations

from trade_hunter.plugins.models import MarketEvent
from trade_hunter.plugins.topics import topic_of


class MarketNames:
    def __init__(self) -> None:
        self.titles: dict[str, tuple[str, str | None]] = {}
        """Market id → (title, topic), as last completed."""

    def get(self, market: str) -> tuple[str, str | None] | None:
        return self.titles.get(market)

    def complete(self, events: list[MarketEvent]) -> None:
        """Fill in each event's title and topic (in place, in order: a title an event brings
        serves the events after it)."""
        titles = self.titles
        for e in events:
            market = e.market_id
            known = titles.get(market)
            if e.title:
                if known is None or known[0] != e.title or (e.topic and known[1] != e.topic):
                    topic = e.topic or topic_of(None, e.title, market)
                    titles[market] = (e.title, topic)
                    e.topic = topic
                elif not e.topic:
                    e.topic = known[1]
            elif known is not None:
                e.title = known[0]
                e.topic = e.topic or known[1]


def signal_topic(event: MarketEvent) -> str:
    """The topic of a signal on ``event`` (completed by :class:`MarketNames`)."""
    return event.topic or topic_of(None, event.title, event.market_id)
