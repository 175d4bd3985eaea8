"""The data that flows between components: events in, signals out, analyst reads on signals.

All models are ``msgspec.Struct``s: cheap to build on the hot path (a feed creates tens of
thousands per second), JSON-encodable with :func:`to_json` / :func:`from_json`, and validated
on decode, so the same classes check relayed payloads.

Conventions:

* prices are dollars per $1 contract, a float in ``[0, 1]`` (0.58 = 58 % implied probability);
* times are Unix epoch seconds as floats (UTC);
* ``volume_kind`` says how to read ``volume``: ``"cumulative"`` is a running total (a Kalshi
  ticker's ``volume_fp``), ``"delta"`` the size of this event alone (one trade's ``count_fp``).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import msgspec

VolumeKind = Literal["cumulative", "delta"]
EventKind = Literal["trade", "quote"]
Side = Literal["yes", "no"]
Tier = Literal["high conviction flow", "notable", "watch"]
Rule = Literal["hard", "outlier", "vendor", "divergence"]
Direction = Literal["up", "down", "flat"]
Label = Literal["signal", "noise", "uncertain"]
Confidence = Literal["low", "medium", "high"]
ReadStatus = Literal["pending", "done", "failed", "skipped"]

TIERS: tuple[str, ...] = ("high conviction flow", "notable", "watch")
TOPICS: tuple[str, ...] = ("crypto", "elections", "macro", "sports", "geopolitics", "general")
CONFIDENCE_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}


class MarketEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One observation of one market: a quote (Q) or a trade (T)."""

    platform: str
    """Where the market lives: ``"kalshi"``, ``"polymarket"``, ``"simulated"``, …"""
    market_id: str
    """The platform's market identifier (a Kalshi market ticker, a Polymarket slug)."""
    title: str = ""
    yes_price: float | None = None
    volume: float | None = None
    volume_kind: VolumeKind = "delta"
    event_kind: EventKind = "quote"
    trade_side: Side | None = None
    """The taker's side on trades (``yes`` buys YES / sells NO)."""
    trade_size: float | None = None
    """Contracts in this trade (trades only)."""
    yes_bid: float | None = None
    yes_ask: float | None = None
    timestamp: float = 0.0
    """Exchange time when known, else receive time (epoch seconds)."""
    received_at: float = 0.0
    source: str = ""
    """Which component produced it: the feed or relay name."""
    topic: str | None = None
    """The exchange's category when known; else inferred from title and ticker."""
    ext_id: str | None = None
    """An idempotency key from the producer (relayed alert id, Kalshi trade id)."""
    closes_at: float | None = None
    """When the market closes (epoch seconds), when the producer knows it: the detector's close
    guard keeps it per market, so one event saying it is enough."""
    metadata: dict[str, Any] = {}

    def __post_init__(self) -> None:
        if not self.received_at:
            self.received_at = time.time()  # only when missing: feeds create many per second
        if not self.timestamp:
            self.timestamp = self.received_at


class EventBrief(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A compact view of an event, kept in a signal's recent history."""

    timestamp: float
    event_kind: EventKind
    yes_price: float | None = None
    volume_delta: float = 0.0
    trade_side: Side | None = None


class SignalContext(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The market's recent history *by time*, so a person can judge a spike at a glance."""

    price_change_1m: float | None = None
    price_change_5m: float | None = None
    price_change_30m: float | None = None
    mean_volume_1h: float | None = None
    """Mean volume per event over the last hour (events with volume)."""
    mean_volume_24h: float | None = None
    recent_events: list[EventBrief] = []
    """The last few events *before* the spike, oldest first."""
    yes_trades: int = 0
    no_trades: int = 0
    """The yes/no taker mix of recent trades."""
    spread: float | None = None
    """Bid/ask spread of the triggering event (or the last quote) when known."""
    flow_share: float | None = None
    """Gated profile: share of the last 20 trades' taker volume on the move's side."""
    large_trade_cluster_p: float | None = None
    """Gated profile: how likely the recent run of large trades is by chance (small: a
    cluster), from the market's own trade-size distribution."""
    seconds_to_close: float | None = None
    """Gated profile: time left until the market closes, when known."""
    baseline_points: int | None = None
    """Gated profile: volume deltas the baseline was computed from."""


class VendorAlert(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a relayed alert service said, on a vendor signal (``SpikeSignal.vendor``)."""

    alert_type: str = ""
    """The service's kind of alert: ``whale_trade``, ``price_alert`` …"""
    trader: str | None = None
    """The wallet or name it is about, when it says."""
    metadata: dict[str, Any] = {}
    """Everything else it sent (alert details, unknown fields, the given side)."""


class Divergence(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a divergence signal saw (``SpikeSignal.divergence``): a pair of equivalent markets
    on two venues whose mapped YES prices disagree."""

    pair_id: int
    mapping: Literal["yes", "no"]
    """``yes``: YES of market a is YES of market b; ``no``: YES of a is NO of b."""
    a_platform: str
    a_market: str
    a_price: float
    b_platform: str
    b_market: str
    b_price: float
    """Market b's own YES price; compared as ``1 - b_price`` when ``mapping`` is ``no``."""
    gap: float
    """``a_price`` minus market b's mapped price (dollars; positive: a is higher)."""
    seconds: float
    """How long the gap has exceeded the minimum."""
    a_spread: float | None = None
    b_spread: float | None = None
    converged: bool = False
    """True on the note that the gap closed again."""


class SpikeSignal(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Unusual activity on one market, as raised by a detector."""

    market_id: str
    platform: str
    title: str
    topic: str
    source: str
    tier: Tier
    score: float
    rule: Rule
    """``hard`` (volume and price both over their minimums) or ``outlier`` (vs baseline)."""
    volume_delta: float
    baseline: float
    volume_multiple: float
    price_move: float
    price_score: float
    direction: Direction
    yes_price: float | None
    event: MarketEvent
    context: SignalContext = msgspec.field(default_factory=SignalContext)
    detector: str = "spike"
    thresholds: dict[str, float | str] = {}
    """The detector settings in force when it fired (for the tuning advisor)."""
    created_at: float = 0.0
    """Event time of the triggering event."""
    id: int | None = None
    """Assigned by the daemon when the signal is stored."""
    demo: bool = False
    """True for signals injected on purpose (the dashboard's demo button)."""
    notify: bool = True
    """False for a stored-but-quiet signal (gated profile: a volume spike without a price move):
    shown and graded, not sent to notifiers."""
    escalation: int = 0
    """0 for a new signal; n for the n-th escalation of the market's signal created at
    ``escalates`` (a bigger move during its cooldown: an update of that alert)."""
    escalates: float | None = None
    move_since_signal: float | None = None
    """Escalations: the price change since just before the original signal (dollars)."""
    divergence: Divergence | None = None
    """Set on a *divergence signal* (``rule`` and ``detector`` ``divergence``): two venues
    disagree on a paired market (daemon/divergence.py)."""
    vendor: VendorAlert | None = None
    """Set on a *vendor signal*: an alert relayed from another service (``rule`` ``vendor``,
    ``detector`` ``vendor``, ``source`` the relay), not raised by our detector."""


class AnalystRead(msgspec.Struct, kw_only=True):  # every field shown: "done" too
    """An analyst's judgement of one signal. Informational only: never trading advice."""

    signal_id: int
    status: ReadStatus = "done"
    noise_or_signal: Label | None = None
    direction: Direction | None = None
    confidence: Confidence | None = None
    rationale: str = ""
    tuning_note: str = ""
    probability_yes: float | None = None
    """The provider's estimate that the market settles YES (0-1; optional, the heuristic gives
    none): scored against the settlement (Brier) beside the market's own price."""
    provider: str = ""
    """Which analyst answered: ``anthropic``, ``perplexity``, ``heuristic`` (local, no network)."""
    model: str = ""
    latency_ms: float | None = None
    citations: list[str] = []
    error: str | None = None
    """Why the read failed or was skipped (``"skipped: budget"``)."""
    created_at: float = 0.0
    fallbacks: list[str] = []
    """Providers tried before this answer, each ``"name: why it failed"`` (optional; added
    with the analyst queue: a read from Perplexity after Anthropic was overloaded says so)."""


class IncidentItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One signal of an incident, as an incident alert lists it."""

    signal_id: int
    market_id: str
    title: str
    tier: str
    score: float
    yes_price: float | None = None
    price_move: float = 0.0
    direction: str = "flat"
    created_at: float = 0.0


class Incident(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Signals on markets of one event (Kalshi event ticker, a relay's ``group``), sent as
    one alert and updated as it grows (``update`` 0 is the first notification)."""

    id: int
    key: str
    update: int = 0
    first_at: float = 0.0
    signals: list[IncidentItem] = []
    """The newest signals first (at most 25); ``total`` counts them all."""
    total: int = 0


class Alert(msgspec.Struct, kw_only=True):
    """What a notifier receives: the detector alert, or the analyst follow-up on it."""

    kind: Literal["detector", "analyst"]
    signal: SpikeSignal
    read: AnalystRead | None = None
    incident: Incident | None = None
    """Set on a grouped detector alert: ``signal`` is the incident's newest signal."""
    possible_repeat: bool = False
    """The daemon stopped while this alert was being sent: the service may have it already
    (delivery is at-least-once); a notifier should say so."""


_encoder = msgspec.json.Encoder()


def to_json(obj: Any) -> bytes:
    """Encode a model (or any plain data containing models) as JSON bytes."""
    return _encoder.encode(obj)


def to_builtins(obj: Any) -> Any:
    """A model as plain dicts/lists, for JSON APIs."""
    return msgspec.to_builtins(obj)


def from_json(data: bytes | str, model: type[Any]) -> Any:
    """Decode and validate JSON into ``model``; raises :class:`msgspec.ValidationError`."""
    return msgspec.json.decode(data, type=model)


def convert(obj: Any, model: type[Any]) -> Any:
    """Validate plain data (already decoded JSON) into ``model``."""
    return msgspec.convert(obj, type=model)
