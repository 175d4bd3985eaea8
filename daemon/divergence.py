"""The cross-venue divergence rule: a signal source beside the detector (the pipeline hands
it every batch after the detector saw it, ``Pipeline.signal_sources``).

For each pair of :mod:`.pairs`, the latest YES price of each leg (a quote's mid or a trade's
price) is compared — market b's as ``1 - price`` when the pair maps YES to NO. When the gap
stays above ``DIVERGENCE_MIN_GAP`` for ``DIVERGENCE_MIN_SECONDS`` (event time, judged when
either leg has an event) the rule fires; each further widening by another
``DIVERGENCE_MIN_GAP`` is an escalation of the same signal; when the gap falls back under the
minimum a "converged" note (the last escalation, ``divergence.converged``) closes it. The
open divergences (those that fired) are persisted with their signals and restored at start
(``divergence_store.py``); a gap not yet old enough to fire is timed afresh after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from trade_hunter.plugins.models import Divergence, MarketEvent, SpikeSignal

from .pairs import Pair, PairBook

SOURCE = "divergence"


@dataclass
class Leg:
    price: float | None = None
    bid: float | None = None
    ask: float | None = None
    title: str = ""
    topic: str | None = None

    @property
    def spread(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return round(self.ask - self.bid, 6)


@dataclass
class Watch:
    since: float | None = None       # when the gap first exceeded the minimum
    fired_at: float | None = None    # created_at of the open signal
    fired_gap: float = 0.0           # |gap| at the last signal or escalation
    escalations: int = 0
    signal_id: int | None = None     # the open signal's id (kept in divergence_open)


class DivergenceRule:
    def __init__(self, pairs: PairBook, min_gap: float, min_seconds: float) -> None:
        self.pairs, self.min_gap, self.min_seconds = pairs, min_gap, min_seconds
        self.legs: dict[tuple[str, str], Leg] = {}
        self.watches: dict[int, Watch] = {}

    def observe(self, events: list[MarketEvent]) -> list[SpikeSignal]:
        index = self.pairs.by_market
        if not index:
            return []
        out: list[SpikeSignal] = []
        for e in events:
            key = (e.platform, e.market_id)
            pairs = index.get(key)
            if not pairs or e.yes_price is None:
                continue
            leg = self.legs.setdefault(key, Leg())
            leg.price, leg.title, leg.topic = e.yes_price, e.title or leg.title, \
                e.topic or leg.topic
            if e.event_kind == "quote" and (e.yes_bid is not None or e.yes_ask is not None):
                leg.bid, leg.ask = e.yes_bid, e.yes_ask
            for pair in pairs:
                signal = self._judge(pair, e)
                if signal is not None:
                    out.append(signal)
        return out

    def _judge(self, pair: Pair, e: MarketEvent) -> SpikeSignal | None:
        a = self.legs.get((pair.a_platform, pair.a_market))
        b = self.legs.get((pair.b_platform, pair.b_market))
        if a is None or b is None or a.price is None or b.price is None:
            return None
        mapped = b.price if pair.mapping == "yes" else 1 - b.price
        gap = a.price - mapped
        w = self.watches.setdefault(pair.id, Watch())
        now = e.timestamp
        if abs(gap) <= self.min_gap:
            fired = w.fired_at
            seconds = now - w.since if w.since is not None else 0.0
            self.watches[pair.id] = Watch()
            if fired is None:
                return None
            return self._signal(pair, e, a, b, gap, seconds, w.escalations + 1, fired,
                                converged=True)
        if w.since is None:
            w.since = now
        seconds = now - w.since
        if w.fired_at is None:
            if seconds < self.min_seconds:
                return None
            w.fired_at, w.fired_gap = now, abs(gap)
            return self._signal(pair, e, a, b, gap, seconds, 0, None)
        if abs(gap) >= w.fired_gap + self.min_gap:  # widened by another minimum gap
            w.escalations += 1
            w.fired_gap = abs(gap)
            return self._signal(pair, e, a, b, gap, seconds, w.escalations, w.fired_at)
        return None

    def _signal(self, pair: Pair, e: MarketEvent, a: Leg, b: Leg, gap: float, seconds: float,
                escalation: int, escalates: float | None, *,
                converged: bool = False) -> SpikeSignal:
        assert a.price is not None and b.price is not None
        mapped = b.price if pair.mapping == "yes" else 1 - b.price
        head = a.title or pair.a_market
        state = "converged" if converged else f"gap {abs(gap):.2f} for {seconds:.0f}s"
        title = (f"{head} — {pair.a_platform} {a.price:.2f} vs {pair.b_platform} "
                 f"{mapped:.2f} ({state})")
        return SpikeSignal(
            market_id=pair.a_market, platform=pair.a_platform, title=title,
            topic=a.topic or "general", source=SOURCE,
            tier="watch" if converged else "notable", score=round(abs(gap) / self.min_gap, 3),
            rule="divergence", volume_delta=0.0, baseline=0.0, volume_multiple=0.0,
            price_move=round(abs(gap), 6), price_score=0.0, direction="flat",
            yes_price=a.price, event=e, detector=SOURCE, created_at=e.timestamp,
            thresholds={"DIVERGENCE_MIN_GAP": self.min_gap,
                        "DIVERGENCE_MIN_SECONDS": self.min_seconds},
            escalation=escalation, escalates=escalates,
            divergence=Divergence(
                pair_id=pair.id, mapping="no" if pair.mapping == "no" else "yes",
                a_platform=pair.a_platform, a_market=pair.a_market, a_price=a.price,
                b_platform=pair.b_platform, b_market=pair.b_market, b_price=b.price,
                gap=round(gap, 6), seconds=round(seconds, 3), a_spread=a.spread,
                b_spread=b.spread, converged=converged))
