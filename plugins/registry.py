"""What plugins register, and the context their components receive.

A hook receives one of the registries below and calls its ``add``. Components are created
later by the daemon, through the *factory* a plugin registered, with a :class:`PluginContext`;
a factory returns ``None`` when its component is not configured (no API key, say), and the
daemon reports it as disabled rather than failed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import trio

    from .models import Alert, AnalystRead, MarketEvent, SpikeSignal

SettingKind = Literal["str", "int", "float", "bool", "choice", "path", "list"]


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Setting:
    """One environment variable: its type, default and help (shown in the README table)."""

    name: str
    kind: SettingKind
    default: Any
    help: str
    secret: bool = False
    """Never logged, echoed by an API or stored (keys, tokens, webhook URLs)."""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    plugin: str = ""
    live: bool = False
    """A ``bool`` switch that puts the daemon in live mode when true (the simulation is then
    suppressed): a feed plugin's ``ENABLE_…`` setting. ``settings.active_mode`` reads it."""


class SettingsRegistry:
    """Collects :class:`Setting` declarations (the ``th_add_settings`` hook)."""

    def __init__(self) -> None:
        self.items: dict[str, Setting] = {}
        self._plugin = ""

    def add(self, name: str, kind: SettingKind, default: Any, help: str, **options: Any) -> None:
        if name in self.items:
            raise ValueError(f"setting {name} is declared twice")
        self.items[name] = Setting(name, kind, default, help, plugin=self._plugin, **options)


# --------------------------------------------------------------------------- runtime context
class Settings(Protocol):
    """Typed, frozen settings: ``settings.SPIKE_MIN_PRICE_MOVE`` or ``settings["…"]``."""

    def __getattr__(self, name: str) -> Any: ...
    def __getitem__(self, name: str) -> Any: ...


class Health(Protocol):
    """A component's health record, shown by ``th-ctl status``, ``/api/health`` and the pills."""

    def set(self, state: str, detail: str = "") -> None:
        """``state``: ``starting``, ``connected``, ``running``, ``stale``, ``reconnecting``,
        ``failed`` or ``disabled``; ``detail`` says why, for a person."""

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to a named counter (messages by type, reconnects, gaps, …)."""

    def put(self, name: str, value: Any) -> None:
        """Set a named value in the record's ``info`` (last message time, active tickers, …)."""


@dataclass
class TrackedTicker:
    """One tracked identifier of a feed (a Kalshi ticker, say) and how it resolved."""

    ticker: str
    """The identifier, as the feed's :class:`IdentifierSpec` normalised it."""
    added_at: float
    status: str = "pending"
    """``pending``, ``active``, ``paused``, ``unresolved`` or ``expired``."""
    detail: str = ""
    markets: list[str] = field(default_factory=list)
    """The market ids it resolved to."""
    feed: str = ""
    """The feed whose watchlist holds it."""


@dataclass(frozen=True)
class IdentifierSpec:
    """How a feed accepts tracked identifiers (``registry.add(..., identifiers=...)``).

    A feed registered with one gets a persisted watchlist of its own: ``th-ctl add-ticker
    [--feed NAME] ID``, ``POST /api/feeds/NAME/tracked`` and ``tickers.add`` add to it, and the
    feed's component reads it as ``ctx.tickers``.
    """

    validate: Callable[[str], str]
    """``validate(raw) -> identifier``: the normalised form (stored and shown), or raise
    ``ValueError`` with a message for a person (answered as ``invalid_params`` / HTTP 422)."""
    describe: str
    """What identifiers look like, one line (``th-ctl``, the API and error messages show it)."""
    seed_setting: str | None = None
    """A ``list`` setting of identifiers added on the very first start only (after that the
    persisted watchlist wins: removing one stays removed)."""
    search: Callable[[Any, str, int], Awaitable[dict[str, Any]]] | None = None
    """Optional ``await search(ctx, q, limit)``: the venue's markets a person may track, found
    by category or tag (the dashboard's search, ``feeds.search``, ``GET
    /api/feeds/NAME/search?q=``). ``ctx`` is the plugin's :class:`PluginContext`, so it works
    whether the feed runs or not. Returns ``{"results": [...], ...}`` (an empty ``q``: the
    names to search, as ``{"categories": [...], "results": []}``); each result has ``id`` (an
    identifier ``validate`` accepts) and ``title``, optionally ``category``, ``price`` (YES,
    0–1), ``volume``, ``closes_at`` (ISO 8601) and ``url``. Raise ``RpcError`` to refuse (an
    unknown category with ``data={"valid": [...]}``; ``code="not_available"`` when the venue
    cannot be reached)."""
    market_url: Callable[[str], str | None] | None = None
    """Optional ``market_url(market_id) -> url``: the market's public page on the venue (the
    dashboard's "on <venue> ↗" links), or None when there is none."""
    event_of: Callable[[str], str | None] | None = None
    """Optional ``event_of(market_id) -> event id``: the event a market of this venue belongs
    to, when its id says so (Kalshi: the ticker without its last segment). Signals on markets
    of one event form one incident; without it the feed's signals are not grouped."""


class TickerBook(Protocol):
    """One feed's persisted watchlist (``ctx.tickers``); identifiers are added and removed live
    from the API and th-ctl, the feed reports how each resolved."""

    def list(self) -> list[TrackedTicker]: ...
    def set_status(self, ticker: str, status: str, detail: str = "",
                   markets: Sequence[str] = ()) -> None: ...
    async def wait_changed(self) -> None:
        """Return at the next add or remove."""


class StoreReader(Protocol):
    """Read access to the history, for advisors and analysts (blocking: use a thread)."""

    def events_between(self, start: float, end: float) -> list[MarketEvent]: ...
    def signals_between(self, start: float, end: float
                        ) -> list[tuple[SpikeSignal, AnalystRead | None]]: ...
    def last_prices(self, market_ids: Sequence[str]) -> dict[str, tuple[float, float | None]]:
        """Each stored market's last YES price and last cumulative volume (None when it has
        none), so a feed can resume where it left off."""
        ...


@dataclass
class PluginContext:
    """What a component factory receives."""

    settings: Any
    health: Health
    tickers: TickerBook
    store: StoreReader
    home: Any
    """The state folder (``pathlib.Path``): a plugin may keep files under ``home / name``."""
    components: dict[str, Any] = field(default_factory=dict)
    """Every running component by name (shared, filled as they are created): an RPC handler
    finds its plugin's component here."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Daemon services for first-party plugins (the detector, the tuning hooks, …)."""


# --------------------------------------------------------------------------- components
@runtime_checkable
class Feed(Protocol):
    async def run(self, send_channel: trio.MemorySendChannel[Any], *,
                  task_status: trio.TaskStatus[None] = ...) -> None:
        """Stream events until cancelled.

        Send a :class:`MarketEvent`, or a ``list`` of them (cheaper per event at high rates),
        on ``send_channel``; the channel is bounded, so a slow pipeline makes ``send`` wait.
        Call ``task_status.started()`` once the feed is ready (connected and subscribed).
        Raise to be restarted by the supervisor with backoff.
        """


@runtime_checkable
class Detector(Protocol):
    name: str
    thresholds: dict[str, float]

    def new_state(self, market_id: str) -> Any:
        """Fresh per-market state: a ``msgspec.Struct`` the daemon persists and restores."""

    def process(self, event: MarketEvent, state: Any) -> SpikeSignal | None:
        """Score one event against its market's state (updating it); fast, no I/O."""

    def with_thresholds(self, **overrides: float) -> Detector:
        """A copy with other thresholds (the advisor's replay, an applied suggestion)."""


@runtime_checkable
class Analyst(Protocol):
    """An analyst provider. Optional attribute ``metered`` (default ``True``): whether each
    call costs money and so counts against ``ANALYST_MAX_CALLS_PER_HOUR``; a local provider
    sets it to ``False``. The daemon bounds each call with ``ANALYST_TIMEOUT_SECONDS``.
    Optional method ``async narrate(facts: str) -> str``: phrase the tuning advisor's evidence
    for a person (the advisor uses the first analyst that has it; metered calls count)."""

    async def analyze(self, signal: SpikeSignal) -> AnalystRead:
        """Judge a signal; raise :class:`AnalystError` so the next provider is tried."""


@runtime_checkable
class Notifier(Protocol):
    async def notify(self, alert: Alert) -> None:
        """Deliver one alert; raise ``NotifyError`` to retry later, ``PermanentNotifyError`` to drop."""


# --------------------------------------------------------------------------- registries
Factory = Callable[[PluginContext], Any]


@dataclass
class Registration:
    name: str
    factory: Factory
    plugin: str
    priority: int = 100
    description: str = ""
    enabled: Callable[[Any], bool] | None = None
    identifiers: IdentifierSpec | None = None


class ComponentRegistry:
    """Feeds, detectors, analysts or notifiers, by unique name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.items: dict[str, Registration] = {}
        self._plugin = ""

    def add(self, name: str, factory: Factory, *, priority: int = 100, description: str = "",
            enabled: Callable[[Any], bool] | None = None,
            identifiers: IdentifierSpec | None = None) -> None:
        """Register ``factory(ctx) -> component | None`` under ``name``.

        ``priority``: analysts are tried lowest first. ``enabled(settings)``: whether to start
        it at all in this configuration (a feed that only runs in live mode, say).
        ``identifiers`` (feeds only): the feed accepts tracked identifiers, validated by it.
        """
        if name in self.items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if identifiers is not None and self.kind != "feed":
            raise ValueError(f"{self.kind} {name!r}: only feeds accept tracked identifiers")
        self.items[name] = Registration(name, factory, self._plugin, priority, description,
                                        enabled, identifiers)

    def ordered(self) -> list[Registration]:
        return sorted(self.items.values(), key=lambda r: (r.priority, r.name))


RelayParse = Callable[[Any, Mapping[str, str]], "list[MarketEvent]"]


@dataclass
class Relay:
    name: str
    path: str
    """The HTTP path it serves, e.g. ``/api/alerts/polyalerthub`` (POST, JSON body)."""
    parse: RelayParse
    """``parse(payload, headers) -> [MarketEvent]``; raise ``PayloadError`` for a 422."""
    token_setting: str | None = None
    """A setting holding a bearer token; when set, requests must carry it."""
    description: str = ""
    accepts: Any = None
    """A JSON schema (or example) of the accepted payloads, for the OpenAPI document."""
    plugin: str = ""
    verify: Callable[[bytes, Mapping[str, str]], str | None] | None = None
    """Optional: checks the request itself from its raw body and (lower-cased) headers, e.g.
    an HMAC signature, instead of ``token_setting``. Returns ``None`` when authentic, else
    why not (answered 401)."""
    auth: str = ""
    """How ``verify`` authenticates, for a person (``hmac X-Signature (MY_SECRET)``)."""


class RelayRegistry:
    def __init__(self) -> None:
        self.items: dict[str, Relay] = {}
        self._plugin = ""

    def add(self, relay: Relay) -> None:
        if any(r.path == relay.path for r in self.items.values()):
            raise ValueError(f"relay path {relay.path} is registered twice")
        relay.plugin = self._plugin
        self.items[relay.name] = relay


RpcHandler = Callable[..., Awaitable[Any]]


@dataclass
class RpcMethod:
    name: str
    handler: RpcHandler
    """``await handler(ctx, **params)`` returns JSON-able data; raise ``RpcError`` to refuse.
    ``ctx`` is the daemon's :class:`PluginContext` (``ctx.components`` holds the components)."""
    params: dict[str, str] = field(default_factory=dict)
    """Parameter name → help text (all parameters are strings/numbers from the CLI)."""
    help: str = ""
    plugin: str = ""


@dataclass(frozen=True)
class HttpRoute:
    """An HTTP route of a plugin, served by a control method (``registry.route``)."""

    verb: str
    """``GET`` (parameters from the query string) or ``POST`` (a JSON object body)."""
    path: str
    """Under ``/api/``, e.g. ``/api/kalshi/categories``."""
    method: str
    """The control method it calls: the plugin's own (``kalshi.categories``) or a table
    method (``tickers.add``)."""
    fixed: Mapping[str, Any] = field(default_factory=dict)
    """Parameters the route sets itself (a client cannot send them): ``{"feed": "kalshi"}``."""
    help: str = ""
    plugin: str = ""


class RpcRegistry:
    """Extra control methods; names are namespaced by plugin: ``kalshi.categories``. Also the
    plugin's HTTP routes (``route``), each served by a control method."""

    def __init__(self) -> None:
        self.items: dict[str, RpcMethod] = {}
        self.routes: dict[tuple[str, str], HttpRoute] = {}
        self._plugin = ""

    def route(self, verb: str, path: str, method: str, *,
              fixed: Mapping[str, Any] | None = None, help: str = "") -> None:
        """Serve ``verb path`` with control method ``method`` (validated and answered exactly
        like ``th-ctl call``); ``fixed`` parameters are set by the route."""
        verb = verb.upper()
        if verb not in ("GET", "POST"):
            raise ValueError(f"route {path}: verb must be GET or POST, not {verb!r}")
        if not path.startswith("/api/") or "<" in path or "{" in path:
            raise ValueError(f"route {path!r} must be a fixed path under /api/")
        if (verb, path) in self.routes:
            raise ValueError(f"route {verb} {path} is registered twice")
        self.routes[(verb, path)] = HttpRoute(verb, path, method, dict(fixed or {}), help,
                                              self._plugin)

    def add(self, name: str, handler: RpcHandler, *, params: dict[str, str] | None = None,
            help: str = "") -> None:
        if "." not in name:
            raise ValueError(f"plugin RPC method {name!r} must be namespaced: 'plugin.method'")
        if name in self.items:
            raise ValueError(f"RPC method {name!r} is registered twice")
        self.items[name] = RpcMethod(name, handler, params or {}, help, self._plugin)
