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
    ticker: str
    added_at: float
    status: str = "pending"
    """``pending``, ``active``, ``unresolved`` or ``expired``."""
    detail: str = ""
    markets: list[str] = field(default_factory=list)
    """The market tickers it resolved to."""


class TickerBook(Protocol):
    """The persisted list of tracked (Kalshi) tickers; added/removed live from the API and th-ctl."""

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
    sets it to ``False``. The daemon bounds each call with ``ANALYST_TIMEOUT_SECONDS``."""

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


class ComponentRegistry:
    """Feeds, detectors, analysts or notifiers, by unique name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.items: dict[str, Registration] = {}
        self._plugin = ""

    def add(self, name: str, factory: Factory, *, priority: int = 100, description: str = "",
            enabled: Callable[[Any], bool] | None = None) -> None:
        """Register ``factory(ctx) -> component | None`` under ``name``.

        ``priority``: analysts are tried lowest first. ``enabled(settings)``: whether to start
        it at all in this configuration (a feed that only runs in live mode, say).
        """
        if name in self.items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self.items[name] = Registration(name, factory, self._plugin, priority, description,
                                        enabled)

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


class RpcRegistry:
    """Extra control methods; names are namespaced by plugin: ``kalshi.categories``."""

    def __init__(self) -> None:
        self.items: dict[str, RpcMethod] = {}
        self._plugin = ""

    def add(self, name: str, handler: RpcHandler, *, params: dict[str, str] | None = None,
            help: str = "") -> None:
        if "." not in name:
            raise ValueError(f"plugin RPC method {name!r} must be namespaced: 'plugin.method'")
        if name in self.items:
            raise ValueError(f"RPC method {name!r} is registered twice")
        self.items[name] = RpcMethod(name, handler, params or {}, help, self._plugin)
