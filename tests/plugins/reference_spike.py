"""REFERENCE ONLY: the spike detector as committed before the performance work of issue 8
(history in lists of tuples, every event scored). tests/plugins/test_spike_equivalence.py
checks the optimised plugins/builtin/spike.py against it; do not change it.

The built-in spike detector: exactly the contract of docs/detector.md.

One :class:`SpikeState` per market holds everything the rules need (last known price, last
cumulative reading, baseline window, last signal time) plus bounded by-time history for the
signal's context. The daemon persists the states, so baselines and cooldowns survive restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from trade_hunter.plugins.models import EventBrief, MarketEvent, SignalContext, SpikeSignal
from trade_hunter.plugins.topics import topic_of

DEFAULTS: dict[str, float] = {
    "SPIKE_MIN_VOLUME_DELTA": 120.0,
    "SPIKE_MIN_PRICE_MOVE": 0.03,
    "SPIKE_SCORE_THRESHOLD": 3.0,
    "SPIKE_BASELINE_POINTS": 24,
    "SPIKE_COOLDOWN_SECONDS": 300.0,
}
OUTLIER_FACTOR = 2.2
RECENT_EVENTS = 5          # "the last few events before the spike"
SIDE_MIX = 50              # trades counted in the yes/no mix
PRICE_SAMPLE_SECONDS = 5.0  # price history is sampled, so a hot market stays bounded
PRICE_HISTORY_SECONDS = 1860.0
BUCKET_SECONDS = 600.0     # volume history in 10-minute buckets over a day
DAY = 86400.0


class SpikeState(msgspec.Struct, kw_only=True):
    last_price: float | None = None
    last_cumulative: float | None = None
    has_delta: bool = False
    window: list[float] = []
    last_signal_at: float | None = None
    # By-time history, only for the signal's context.
    prices: list[tuple[float, float]] = []
    buckets: list[list[float]] = []  # [bucket start, events, volume]
    recent: list[EventBrief] = []
    sides: str = ""                  # "y"/"n" per recent trade, newest last
    spread: float | None = None


class SpikeDetector:
    name = "spike"

    def __init__(self, thresholds: Mapping[str, float] | None = None) -> None:
        t = dict(DEFAULTS)
        t.update({k: float(v) for k, v in (thresholds or {}).items() if k in DEFAULTS})
        self.thresholds = t
        self.min_volume = t["SPIKE_MIN_VOLUME_DELTA"]
        self.min_move = t["SPIKE_MIN_PRICE_MOVE"]
        self.threshold = t["SPIKE_SCORE_THRESHOLD"]
        self.points = max(1, int(t["SPIKE_BASELINE_POINTS"]))
        self.cooldown = t["SPIKE_COOLDOWN_SECONDS"]

    def with_thresholds(self, **overrides: float) -> SpikeDetector:
        return SpikeDetector({**self.thresholds, **overrides})

    def new_state(self, market_id: str = "") -> SpikeState:
        return SpikeState()

    state_type = SpikeState

    # ------------------------------------------------------------------ the rules
    def volume_delta(self, event: MarketEvent, state: SpikeState) -> float:
        """Volume of this event alone, updating the cumulative reference (detector.md)."""
        volume = event.volume
        if volume is None:
            return 0.0
        if event.volume_kind == "delta":
            state.has_delta = True
            return max(volume, 0.0)
        last, state.last_cumulative = state.last_cumulative, volume
        if last is None or volume < last or state.has_delta:
            return 0.0
        return volume - last

    def baseline(self, state: SpikeState) -> float:
        if state.window:
            base = sum(state.window) / len(state.window)
        else:
            base = self.min_volume / 2
        return max(base, 1.0)

    def tier(self, score: float, price_move: float, volume_multiple: float) -> str:
        if score >= 6.0 and price_move >= 1.75 * self.min_move and volume_multiple >= 3.0:
            return "high conviction flow"
        if score >= 4.0 or (price_move >= 1.2 * self.min_move and volume_multiple >= 2.4):
            return "notable"
        return "watch"

    def process(self, event: MarketEvent, state: SpikeState) -> SpikeSignal | None:
        ts = event.timestamp
        price = event.yes_price
        last_price = state.last_price
        vd = self.volume_delta(event, state)
        base = self.baseline(state)
        # Rounded to a micro-dollar: prices are decimal cents (or sub-pennies) and float noise
        # must not decide a threshold (0.58 - 0.55 is 0.0299999… in binary).
        move = round(abs(price - last_price), 6) if price is not None and last_price is not None else 0.0
        multiple = vd / max(base, 1.0)
        price_score = move / max(self.min_move, 0.01)
        score = multiple * 0.75 + price_score * 1.25

        signal = None
        cooling = state.last_signal_at is not None and ts - state.last_signal_at < self.cooldown
        if vd > 0 and not cooling:
            rule = None
            if vd >= self.min_volume and move >= self.min_move:
                rule = "hard"
            elif vd >= OUTLIER_FACTOR * base and score >= self.threshold:
                rule = "outlier"
            if rule is not None:
                signal = self._signal(event, state, rule, vd, base, multiple, move, price_score,
                                      score, last_price)
                state.last_signal_at = ts

        if vd > 0:
            state.window.append(vd)
            if len(state.window) > self.points:
                del state.window[: len(state.window) - self.points]
        if price is not None:
            state.last_price = price
        self._remember(event, state, vd)
        return signal

    # ------------------------------------------------------------------ the signal
    def _signal(self, event: MarketEvent, state: SpikeState, rule: str, vd: float, base: float,
                multiple: float, move: float, price_score: float, score: float,
                last_price: float | None) -> SpikeSignal:
        price = event.yes_price
        if price is None or last_price is None or price == last_price:
            direction = "flat"
        else:
            direction = "up" if price > last_price else "down"
        return SpikeSignal(
            market_id=event.market_id, platform=event.platform, title=event.title,
            topic=event.topic or topic_of(None, event.title, event.market_id),
            source=event.source, tier=self.tier(score, move, multiple),  # type: ignore[arg-type]
            score=round(score, 4), rule=rule,  # type: ignore[arg-type]
            volume_delta=vd, baseline=round(base, 4), volume_multiple=round(multiple, 4),
            price_move=move, price_score=round(price_score, 4),
            direction=direction,  # type: ignore[arg-type]
            yes_price=price, event=event, context=self._context(event, state),
            detector=self.name, thresholds=dict(self.thresholds), created_at=event.timestamp,
        )

    def _context(self, event: MarketEvent, state: SpikeState) -> SignalContext:
        ts, price = event.timestamp, event.yes_price
        changes: dict[str, float | None] = {}
        for key, seconds in (("price_change_1m", 60), ("price_change_5m", 300),
                             ("price_change_30m", 1800)):
            ref = _price_at(state.prices, ts - seconds)
            changes[key] = None if ref is None or price is None else round(price - ref, 6)
        spread = None
        if event.yes_bid is not None and event.yes_ask is not None:
            spread = round(event.yes_ask - event.yes_bid, 6)
        return SignalContext(
            **changes,
            mean_volume_1h=_mean_volume(state.buckets, ts - 3600),
            mean_volume_24h=_mean_volume(state.buckets, ts - DAY),
            recent_events=list(state.recent),
            yes_trades=state.sides.count("y"), no_trades=state.sides.count("n"),
            spread=spread if spread is not None else state.spread,
        )

    def _remember(self, event: MarketEvent, state: SpikeState, vd: float) -> None:
        ts, price = event.timestamp, event.yes_price
        if price is not None:
            prices = state.prices
            if not prices or ts - prices[-1][0] >= PRICE_SAMPLE_SECONDS:
                prices.append((ts, price))
                while prices and prices[0][0] < ts - PRICE_HISTORY_SECONDS and len(prices) > 1:
                    prices.pop(0)
            else:
                prices[-1] = (prices[-1][0], price)
        start = ts - ts % BUCKET_SECONDS
        buckets = state.buckets
        if buckets and buckets[-1][0] == start:
            buckets[-1][1] += 1
            buckets[-1][2] += vd
        else:
            buckets.append([start, 1.0, vd])
            while buckets and buckets[0][0] < ts - DAY - BUCKET_SECONDS:
                buckets.pop(0)
        state.recent.append(EventBrief(timestamp=ts, event_kind=event.event_kind,
                                       yes_price=price, volume_delta=vd,
                                       trade_side=event.trade_side))
        if len(state.recent) > RECENT_EVENTS:
            del state.recent[0]
        if event.event_kind == "trade" and event.trade_side:
            state.sides = (state.sides + event.trade_side[0])[-SIDE_MIX:]
        if event.yes_bid is not None and event.yes_ask is not None:
            state.spread = round(event.yes_ask - event.yes_bid, 6)


def _price_at(prices: list[tuple[float, float]], cutoff: float) -> float | None:
    """The last sampled price at or before ``cutoff``; the oldest one when history is shorter."""
    if not prices:
        return None
    ref = prices[0][1]
    for ts, price in prices:
        if ts > cutoff:
            break
        ref = price
    return ref


def _mean_volume(buckets: list[list[float]], since: float) -> float | None:
    events = volume = 0.0
    for start, n, v in buckets:
        if start + BUCKET_SECONDS > since:
            events += n
            volume += v
    return round(volume / events, 4) if events else None


def thresholds_from(settings: Any) -> dict[str, float]:
    return {name: float(settings[name]) for name in DEFAULTS}
