"""What the web layer is given: one :class:`WebParts`, built by ``daemon/app.py``.

No web module holds the daemon. The routes call the method table ``th-ctl`` calls
(``call``) and read the models listed here; the attribute names are the daemon's own, so a
route reads ``parts.live`` where it read ``daemon.live``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from trade_hunter.daemon.config import Settings
    from trade_hunter.daemon.incidents import Incidents
    from trade_hunter.daemon.live_view import Live
    from trade_hunter.daemon.pairs import PairBook
    from trade_hunter.daemon.pipeline import Handoff
    from trade_hunter.daemon.silences import MuteBook
    from trade_hunter.daemon.supervisor import HealthBook
    from trade_hunter.daemon.watchlist import Watchlist
    from trade_hunter.plugins.models import MarketEvent
    from trade_hunter.plugins.registry import Relay, RpcRegistry


class StoreView(Protocol):
    """The store as the web layer sees it: read queries, made by the store-owned read modules
    (``daemon.market_reads``, ``daemon.signal_history``, …) it is handed to, and whether it
    can write now (``degraded``: why not, else empty)."""

    degraded: str

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True)
class WebParts:
    settings: Settings
    version: str
    call: Callable[[str, dict[str, Any] | None], Awaitable[Any]]
    """The method table (``daemon.rpc_handlers.Service.call``): the very handler th-ctl calls."""
    rpc: RpcRegistry
    """The plugins' control methods and HTTP routes."""
    relays: Mapping[str, Relay]
    """The relays plugins registered, by name."""
    extras: dict[str, Any]
    """Shared with the plugins: ``relay_routes`` (``RELAYS_FILE``), ``relay_book``."""
    store: StoreView
    live: Live
    health: HealthBook
    tickers: Watchlist
    pairs: PairBook
    components: Mapping[str, Any]
    """The running components by name (filled as the daemon starts them)."""
    retention: Mapping[str, Any]
    """The retention task's status."""
    mutes: MuteBook
    """Acknowledgements, snoozes and silences."""
    incidents: Callable[[], Incidents | None]
    """The incident book once the daemon runs, else None."""
    advisor: Callable[[], Any]
    """The tuning advisor once it runs (or a plugin's ``extras["advisor"]``), else None."""
    ingest: Callable[[list[MarketEvent]], Handoff]
    """Hand events to the pipeline (relays); raises ``trio.WouldBlock`` when it is full."""
    metrics: CollectorRegistry
    """What ``/metrics`` exposes (``daemon.metrics``)."""
