"""The built-in spike detector: exactly the contract of docs/detector.md.

One :class:`SpikeState` per market holds everything the rules need (last known price, last
cumulative reading, baseline window, last signal time) plus bounded by-time history for the
signal's context. The daemon persists the states, so baselines and cooldowns survive restarts.

The hot path runs this for every event of every market, and a daemon keeps a state for each
market it has seen, so both the time per event and the bytes per state count: the history is
kept packed (``bytearray`` of doubles: 16 bytes per price sample instead of ~110 for a tuple of
floats in a list), with the newest sample and bucket as plain fields because they change with
nearly every event; and the score is only computed for events that could fire (a positive
volume delta outside the cooldown).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from trade_hunter.plugins import ComponentRegistry, SettingsRegistry, hookimpl
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
_SAMPLE = struct.Struct("<dd")    # packed price sample: time, price
_BUCKET = struct.Struct("<ddd")   # packed volume bucket: start, events, volume
_FIRST = struct.Struct("<d")      # the time that leads both


class SpikeState(msgspec.Struct, kw_only=True):
    last_price: float | None = None
    last_cumulative: float | None = None
    has_delta: bool = False
    window: list[float] = []
    last_signal_at: float | None = None
    # By-time history, only for the signal's context (read it with price_samples() and
    # volume_buckets()): the newest price sample and volume bucket as fields, the older ones
    # packed little-endian doubles (JSON: base64).
    sample_at: float | None = None
    sample_price: float = 0.0
    samples: bytearray = msgspec.field(default_factory=bytearray)
    bucket_at: float | None = None
    bucket_events: float = 0.0
    bucket_volume: float = 0.0
    buckets: bytearray = msgspec.field(default_factory=bytearray)
    recent: list[EventBrief] = []
    sides: str = ""                  # "y"/"n" per recent trade, newest last
    spread: float | None = None


def price_samples(state: SpikeState) -> list[tuple[float, float]]:
    """The sampled price history, oldest first: ``(time, price)``."""
    out = list(_SAMPLE.iter_unpack(state.samples))
    if state.sample_at is not None:
        out.append((state.sample_at, state.sample_price))
    return out


def volume_buckets(state: SpikeState) -> list[tuple[float, float, float]]:
    """The volume history in 10-minute buckets, oldest first: ``(start, events, volume)``."""
    return list(_iter_buckets(state))


def _iter_buckets(state: SpikeState) -> Iterator[tuple[float, float, float]]:
    yield from _BUCKET.iter_unpack(state.buckets)
    if state.bucket_at is not None:
        yield state.bucket_at, state.bucket_events, state.bucket_volume


class SpikeDetector:
    name = "spike"

    def __init__(self, thresholds: Mapping[str, float] | None = None) -> None:
        t: dict[str, Any] = dict(DEFAULTS)
        t.update({k: float(v) for k, v in (thresholds or {}).items() if k in DEFAULTS})
        self.thresholds = t
        self.min_volume = t["SPIKE_MIN_VOLUME_DELTA"]
        self.min_move = t["SPIKE_MIN_PRICE_MOVE"]
        self.threshold = t["SPIKE_SCORE_THRESHOLD"]
        self.points = max(1, int(t["SPIKE_BASELINE_POINTS"]))
        self.cooldown = t["SPIKE_COOLDOWN_SECONDS"]

    def with_thresholds(self, **overrides: float) -> SpikeDetector:
        return SpikeDetector({**self.thresholds, **overrides})

    def describe(self) -> str:
        """The profile and its settings in one line (the detector's health detail)."""
        return (f"classic: volume ≥ {self.min_volume:g} with move ≥ {self.min_move * 100:g}¢, or "
                f"score ≥ {self.threshold:g}; baseline {self.points} points; cooldown "
                f"{self.cooldown:g} s")

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
        vd = self.volume_delta(event, state)
        signal = None
        if vd > 0:  # only a positive delta can fire: score nothing else
            last_signal_at = state.last_signal_at
            if last_signal_at is None or ts - last_signal_at >= self.cooldown:  # not cooling
                signal = self._score(event, state, vd)
            window = state.window
            window.append(vd)
            if len(window) > self.points:
                del window[: len(window) - self.points]
        if price is not None:
            state.last_price = price
        self._remember(event, state, vd)
        return signal

    def _score(self, event: MarketEvent, state: SpikeState, vd: float) -> SpikeSignal | None:
        """The trigger rules for a positive volume delta outside the cooldown."""
        price, last_price = event.yes_price, state.last_price
        base = self.baseline(state)
        if vd < self.min_volume and vd < OUTLIER_FACTOR * base:
            return None  # neither rule can hold: skip the score (most events)
        # Rounded to a micro-dollar: prices are decimal cents (or sub-pennies) and float noise
        # must not decide a threshold (0.58 - 0.55 is 0.0299999… in binary).
        move = round(abs(price - last_price), 6) if price is not None and last_price is not None else 0.0
        multiple = vd / max(base, 1.0)
        price_score = move / max(self.min_move, 0.01)
        score = multiple * 0.75 + price_score * 1.25
        if vd >= self.min_volume and move >= self.min_move:
            rule = "hard"
        elif vd >= OUTLIER_FACTOR * base and score >= self.threshold:
            rule = "outlier"
        else:
            return None
        state.last_signal_at = event.timestamp
        return self._signal(event, state, rule, vd, base, multiple, move, price_score, score,
                            last_price)

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
        changes: dict[str, Any] = {}
        prices = price_samples(state)
        for key, seconds in (("price_change_1m", 60), ("price_change_5m", 300),
                             ("price_change_30m", 1800)):
            ref = _price_at(prices, ts - seconds)
            changes[key] = None if ref is None or price is None else round(price - ref, 6)
        spread = None
        if event.yes_bid is not None and event.yes_ask is not None:
            spread = round(event.yes_ask - event.yes_bid, 6)
        buckets = volume_buckets(state)
        return SignalContext(
            **changes,
            mean_volume_1h=_mean_volume(buckets, ts - 3600),
            mean_volume_24h=_mean_volume(buckets, ts - DAY),
            recent_events=list(state.recent),
            yes_trades=state.sides.count("y"), no_trades=state.sides.count("n"),
            spread=spread if spread is not None else state.spread,
        )

    def _remember(self, event: MarketEvent, state: SpikeState, vd: float) -> None:
        ts, price = event.timestamp, event.yes_price
        if price is not None:
            # A new sample every PRICE_SAMPLE_SECONDS; in between the newest one follows the
            # price. Samples older than the history are dropped when one is added (the newest
            # is always kept).
            sample_at = state.sample_at
            if sample_at is None:
                state.sample_at, state.sample_price = ts, price
            elif ts - sample_at >= PRICE_SAMPLE_SECONDS:
                samples = state.samples
                samples += _SAMPLE.pack(sample_at, state.sample_price)
                state.sample_at, state.sample_price = ts, price
                _drop_before(samples, _SAMPLE.size, ts - PRICE_HISTORY_SECONDS)
            else:
                state.sample_price = price
        start = ts - ts % BUCKET_SECONDS
        if state.bucket_at == start:
            state.bucket_events += 1
            state.bucket_volume += vd
        else:
            if state.bucket_at is not None:
                state.buckets += _BUCKET.pack(state.bucket_at, state.bucket_events,
                                              state.bucket_volume)
            state.bucket_at, state.bucket_events, state.bucket_volume = start, 1.0, vd
            cutoff = ts - DAY - BUCKET_SECONDS
            _drop_before(state.buckets, _BUCKET.size, cutoff)
            if not state.buckets and start < cutoff:  # an event older than the whole history
                state.bucket_at, state.bucket_events, state.bucket_volume = None, 0.0, 0.0
        state.recent.append(EventBrief(timestamp=ts, event_kind=event.event_kind,
                                       yes_price=price, volume_delta=vd,
                                       trade_side=event.trade_side))
        if len(state.recent) > RECENT_EVENTS:
            del state.recent[0]
        if event.event_kind == "trade" and event.trade_side:
            state.sides = (state.sides + event.trade_side[0])[-SIDE_MIX:]
        if event.yes_bid is not None and event.yes_ask is not None:
            state.spread = round(event.yes_ask - event.yes_bid, 6)


def _drop_before(packed: bytearray, size: int, cutoff: float) -> None:
    """Drop the leading records (first field: a time) older than ``cutoff``, in place."""
    end = 0
    while end < len(packed) and _FIRST.unpack_from(packed, end)[0] < cutoff:
        end += size
    if end:
        del packed[:end]



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


def _mean_volume(buckets: list[tuple[float, float, float]], since: float) -> float | None:
    events = volume = 0.0
    for start, n, v in buckets:
        if start + BUCKET_SECONDS > since:
            events += n
            volume += v
    return round(volume / events, 4) if events else None


def thresholds_from(settings: Any) -> dict[str, Any]:
    from .spike_gated import GATED_DEFAULTS
    out: dict[str, Any] = {name: float(settings[name]) for name in DEFAULTS}
    out["SPIKE_PROFILE"] = settings["SPIKE_PROFILE"]
    out.update({name: settings[name] for name in GATED_DEFAULTS})
    return out


def make_detector(thresholds: Mapping[str, Any]) -> SpikeDetector:
    """The profile the thresholds name: ``gated`` (the default) or ``classic``."""
    if thresholds.get("SPIKE_PROFILE", "classic") == "gated":
        from .spike_gated import GatedDetector
        return GatedDetector(thresholds)
    return SpikeDetector(thresholds)


@hookimpl
def th_add_settings(settings: SettingsRegistry) -> None:
    from .spike_gated import GATED_DEFAULTS as G
    add = settings.add
    add("SPIKE_PROFILE", "choice", "gated", "Detector profile: gated (noise gates, escalation, "
        "trade flow) or classic (the seed's rules exactly); docs/detector.md",
        choices=("gated", "classic"))
    add("SPIKE_WARMUP_POINTS", "int", G["SPIKE_WARMUP_POINTS"], "Gated: baseline points a "
        "market needs before the outlier rule (the hard rule needs a 2x move until then)",
        minimum=0, maximum=10000)
    add("SPIKE_PRICE_BAND", "float", G["SPIKE_PRICE_BAND"], "Gated: no signal while the price "
        "stays below this or above 1 minus this (dollars)", minimum=0, maximum=0.5)
    add("SPIKE_CLOSE_GUARD_SECONDS", "float", G["SPIKE_CLOSE_GUARD_SECONDS"], "Gated: no signal "
        "this close to a known market close", minimum=0)
    add("SPIKE_ESCALATE_FACTOR", "float", G["SPIKE_ESCALATE_FACTOR"], "Gated: during the "
        "cooldown, a move scoring this many times the signal's score (or a higher tier) "
        "escalates it", minimum=1)
    add("SPIKE_VOLUME_ONLY", "choice", G["SPIKE_VOLUME_ONLY"], "Gated: a volume spike without "
        "a price move is stored as watch but not notified (quiet), not raised (off), or "
        "notified (notify)", choices=("quiet", "off", "notify"))
    add("SPIKE_FLOW_ONE_SIDED", "float", G["SPIKE_FLOW_ONE_SIDED"], "Gated: taker-volume share "
        "on the move's side that raises the tier one step (above 1: never)", minimum=0.5,
        maximum=1.01)
    add("SPIKE_FLOW_CHURN", "float", G["SPIKE_FLOW_CHURN"], "Gated: share at or below which "
        "the tier drops one step (0: never)", minimum=0, maximum=0.5)


@hookimpl
def th_register_detectors(registry: ComponentRegistry) -> None:
    registry.add("spike", lambda ctx: make_detector(ctx.extras.get("thresholds")
                                                    or thresholds_from(ctx.settings)),
                 description="volume/price spike detector, gated or classic profile "
                             "(docs/detector.md)")
