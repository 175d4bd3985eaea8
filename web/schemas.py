"""The API's request and response schemas (msgspec Structs).

One set of classes does two jobs: quart-schema turns them into ``/openapi.json``, and
:func:`trade_hunter.web.api` validates request bodies and query strings with the same classes
(``msgspec`` decode/convert), so the document cannot drift from what the server accepts.
Request schemas of the control-method routes are generated from ``daemon/protocol.py``
(:func:`params_struct`); responses are declared here (``RESULTS``), with a generic object for
methods added later that have no entry yet.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from trade_hunter.daemon.protocol import Method
from trade_hunter.outcomes.scorecard import Scorecard
from trade_hunter.plugins.models import AnalystRead, SignalContext, SpikeSignal

_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


_STRUCTS: dict[tuple[Any, ...], type[Struct]] = {}


def params_struct(method: Method, exclude: frozenset[str] | set[str] = frozenset()
                  ) -> type[Struct]:
    """A Struct of ``method``'s parameters: the route's body (POST) or query string (GET).
    ``exclude``: parameters the route sets itself (from its path, or fixed). One class per
    distinct shape, so routes sharing it (an alias) share one OpenAPI component."""
    key = (method.name, method.params, frozenset(exclude))
    if key not in _STRUCTS:
        _STRUCTS[key] = _params_struct(method, key[2])
    return _STRUCTS[key]


def _params_struct(method: Method, exclude: frozenset[str]) -> type[Struct]:
    fields: list[tuple[Any, ...]] = []
    for p in method.params:
        if p.name in exclude:
            continue
        typ: Any = Literal[p.choices] if p.choices else _TYPES[p.type]  # type: ignore[valid-type]
        meta = Meta(description=p.help) if p.help else Meta()
        if p.required:
            fields.append((p.name, Annotated[typ, meta]))
        else:
            fields.append((p.name, Annotated[typ | None, meta], p.default))
    name = "".join(part.title() for part in method.name.replace("_", ".").split(".")) + "Params"
    return msgspec.defstruct(name, fields, kw_only=True, forbid_unknown_fields=True,
                             module=__name__)


# --------------------------------------------------------------------------- common
class ErrorBody(Struct):
    """Every API error: a message for a person, machine-usable detail, the error code."""

    error: str
    detail: Any = None
    code: str | None = None


class ObjectResult(Struct):
    """A JSON object (a control method without a declared result schema)."""


class ComponentOut(Struct):
    """A component's or feed's health record."""

    name: str
    kind: str
    state: Annotated[str, Meta(description="starting, connected, running, stale, "
                                           "reconnecting, restarting, degraded, failed, "
                                           "disabled or stopped")]
    detail: str
    restarts: int
    last_error: str
    last_error_at: float | None
    since: float
    counters: dict[str, int]
    info: dict[str, Any]


# --------------------------------------------------------------------------- tickers
class TickerOut(Struct):
    ticker: str
    feed: Annotated[str, Meta(description="the feed whose watchlist holds it")]
    added_at: float
    status: Annotated[str, Meta(description="pending, active, paused, unresolved or expired")]
    detail: str
    markets: list[str]


class TrackingFeedOut(Struct):
    """A feed that accepts tracked identifiers."""

    name: str
    running: Annotated[bool, Meta(description="whether the feed is running (its identifiers "
                                              "are watched only then)")]
    accepts: Annotated[str, Meta(description="what its identifiers look like")]


class TickersResult(Struct):
    tickers: list[TickerOut]
    summary: dict[str, int]
    feeds: list[TrackingFeedOut]


class TickerAdded(Struct):
    ticker: TickerOut
    added: Annotated[bool, Meta(description="false when it was already tracked")]


class TickerRemoved(Struct):
    ticker: str
    removed: bool


# --------------------------------------------------------------------------- signals
class OutcomeOut(Struct):
    """What the market did by one horizon after the signal (``no data`` until it passed)."""

    horizon: Annotated[str, Meta(description="1m, 5m, 15m or 60m")]
    seconds: int
    outcome: Annotated[str, Meta(description="continued, reversed, flat, moved (an undirected "
                                             "signal left the flat band), converged / open (a "
                                             "divergence's gap closed within the horizon, or "
                                             "not) or no data")]
    price: float | None
    change: Annotated[float | None, Meta(description="price minus the signal's, dollars")]
    favorable: Annotated[float | None, Meta(description="largest move the signal's way")]
    adverse: Annotated[float | None, Meta(description="largest move against it")]
    capped: bool
    gap: Annotated[float | None, Meta(description="divergences: the gap at the horizon")] = None
    a_move: Annotated[float | None, Meta(description="divergences: market a's change")] = None
    b_move: Annotated[float | None, Meta(description="divergences: market b's (mapped) "
                                                     "change")] = None
    moved: Annotated[str | None, Meta(description="divergences: the venue that moved, both "
                                                   "venues or neither venue")] = None


class SignalOut(SpikeSignal):  # kw_only, like SpikeSignal (options are inherited)
    """A signal with its analyst read inline (``null`` until the analyst answers) and its
    outcomes as the horizons pass."""

    read: AnalystRead | None = None
    outcomes: list[OutcomeOut] = msgspec.field(default_factory=list)


class SignalsResult(Struct):
    signals: list[SignalOut]


class DemoSpikeResult(Struct):
    market_id: str
    signals: list[int]


class LoginBody(Struct, forbid_unknown_fields=True):
    token: Annotated[str, Meta(min_length=1, max_length=1000)]


class LoginResult(Struct):
    ok: bool


class ScorecardResult(Scorecard):
    """The scorecard of the stored outcomes (see the README: What the scorecard means)."""

    open: Annotated[int, Meta(description="signals still waiting for a horizon")] = 0
    baseline_open: Annotated[int, Meta(description="signals graded at every horizon whose "
                                                   "baseline waits for its day to end")] = 0


RESULTS: dict[str, type[Struct]] = {
    "scorecard": ScorecardResult,
    "tickers.list": TickersResult,
    "tickers.add": TickerAdded,
    "tickers.remove": TickerRemoved,
    "signals.list": SignalsResult,
    "demo.spike": DemoSpikeResult,
}


# --------------------------------------------------------------------------- health / state
class HealthResult(Struct):
    mode: str
    feeds: list[ComponentOut]
    components: list[ComponentOut]
    retention: dict[str, Any]
    last_event_at: float | None


class StatusOut(Struct):
    mode: str
    version: str
    uptime: float
    freshness_window: float
    window_applies: Annotated[bool, Meta(description="live mode: the tape and flow show only "
                                                     "events within the freshness window")]
    last_event_at: float | None
    last_event_age: float | None
    events: int
    trades: int
    quotes: int
    signals: int
    markets: int
    by_source: dict[str, int]
    tickers: dict[str, int]
    auth: Annotated[bool, Meta(description="whether API calls need DASHBOARD_TOKEN")]


class IncidentRef(Struct):
    """The incident a grouped signal belongs to (markets of one event: daemon/incidents.py)."""

    id: int
    key: Annotated[str, Meta(description="the event ticker, or source:group for relays")]


class SignalCard(Struct, kw_only=True):
    """A signal as the dashboard shows it (no triggering event or raw thresholds)."""

    id: int
    market_id: str
    platform: str
    title: str
    topic: str
    source: str
    tier: str
    score: float
    rule: str
    volume_delta: float
    baseline: float
    volume_multiple: float
    price_move: float
    price_score: float
    direction: str
    yes_price: float | None
    context: SignalContext = msgspec.field(default_factory=SignalContext)
    detector: str = "spike"
    created_at: float = 0.0
    demo: bool = False
    read: AnalystRead | None = None
    outcomes: list[OutcomeOut] = []
    incident: IncidentRef | None = None


class FlowItem(Struct, kw_only=True):
    """One event of the live trade flow (``k``: ``T`` trade, ``Q`` quote)."""

    k: Literal["T", "Q"]
    t: float
    market_id: str
    title: str
    price: float | None
    volume: float | None
    volume_kind: str
    side: str | None
    size: float | None
    source: str


class TapeItem(Struct, kw_only=True):
    """The latest state of one market."""

    market_id: str
    platform: str
    title: str
    topic: str | None
    price: float | None
    bid: float | None
    ask: float | None
    volume: float | None
    volume_kind: str
    kind: Literal["trade", "quote"]
    t: float
    received_at: float
    change: Annotated[float | None, Meta(description="price change over the sparkline")]
    events: int
    signals: int


class TuningOut(Struct):
    """The tuning advisor's latest suggestions (shape filled in by the advisor)."""

    available: bool
    detail: str = ""
    suggestions: list[dict[str, Any]] = []
    patterns: list[Any] = []


class TickersOut(Struct):
    items: list[TickerOut]
    summary: dict[str, int]
    feeds: list[TrackingFeedOut]


class FiltersOut(Struct):
    topics: list[str]
    tiers: list[str]


class StateResult(Struct):
    mode: str
    generated_at: float
    status: StatusOut
    signals: list[SignalCard]
    tuning: TuningOut
    flow: list[FlowItem]
    tape: list[TapeItem]
    sparks: Annotated[dict[str, list[float]], Meta(description="recent prices per market "
                                                                "(flow and tape sparklines)")]
    tickers: TickersOut
    feeds: list[ComponentOut]
    components: list[ComponentOut]
    counters: dict[str, Any]
    filters: FiltersOut
