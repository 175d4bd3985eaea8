"""The handlers of the control methods (``protocol.METHODS``): one implementation behind the
JSON-RPC socket, th-ctl and the web API."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import trio

from trade_hunter.outcomes.grading import HORIZON_NAMES, HORIZONS
from trade_hunter.plugins.errors import RpcError
from trade_hunter.plugins.models import MarketEvent, SpikeSignal, to_builtins
from trade_hunter.plugins.registry import PluginContext, RpcRegistry

from . import outcome_store, protocol, signal_history
from .alert_methods import AlertMethods
from .limits import MAX_PARAM, text_problem
from .market_reads import market_titles

if TYPE_CHECKING:
    from .digest import Digest
    from .host import PluginHost
    from .live_view import Live
    from .pairs import PairBook
    from .pipeline import Pipeline
    from .scorecards import Scorecards
    from .silences import MuteBook
    from .store import Store
    from .supervisor import HealthBook
    from .tuning_advisor import Advisor
    from .watchlist import Watchlist


DISCOVERY = ("rpc.discover", "system.methods")
"""Names of the method list on the control socket (JSON-RPC discovery conventions)."""

def signal_dict(signal: SpikeSignal, read: Any, outcomes: Any = None) -> dict[str, Any]:
    out = to_builtins(signal)
    out["read"] = to_builtins(read) if read is not None else None
    out["outcomes"] = outcome_store.outcome_dicts(outcomes, signal.divergence)
    return out


@dataclass
class About:
    """Who answers: ``status``, ``shutdown`` and the control endpoint file say it. The
    dashboard's address is known once the web server listens."""

    version: str
    pid: int
    dashboard_url: str = ""


class Service(AlertMethods):
    """The method table's handlers, given only what they use (``daemon/app.py`` wires them).
    The parts that exist once the daemon runs (the pipeline, the tuning advisor, the outbox's
    notifiers, the digest) are attributes it sets then; until then their methods answer
    ``not_available``."""

    def __init__(self, *, settings: Any, about: About, store: Store, live: Live,
                 health: HealthBook, tickers: Watchlist, pairs: PairBook, mutes: MuteBook,
                 scorecards: Scorecards, retention: Mapping[str, Any], host: PluginHost,
                 rpc: RpcRegistry, contexts: Callable[[str], PluginContext],
                 feed_plugins: Mapping[str, str], components: Mapping[str, Any],
                 stop: Callable[[str], None]) -> None:
        self.settings, self.about, self.store, self.live = settings, about, store, live
        self.health, self.tickers, self.pairs, self.mutes = health, tickers, pairs, mutes
        self.scorecards, self.retention, self.host, self.rpc = scorecards, retention, host, rpc
        self.contexts, self.components, self.stop = contexts, components, stop
        self.feed_plugins = feed_plugins  # feed name → the plugin that registered it
        self.pipeline: Pipeline | None = None
        self.advisor: Advisor | None = None
        self.notifiers: dict[str, Any] = {}
        self.digest: Digest | None = None
        self.demo_count = 0

    async def call(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Dispatch a table method (or a plugin's ``plugin.method``) with checked params."""
        if name in DISCOVERY:
            return self.discover()
        method = protocol.BY_NAME.get(name)
        if method is not None:
            try:
                args = protocol.convert_params(method, params or {})
            except protocol.ParamError as exc:
                raise RpcError(str(exc), code="invalid_params") from None
            if method.mutating and name != "shutdown" and self.store.degraded:
                # Its write would only wait in the queue: say so at once instead.
                raise RpcError(f"the store cannot write now: {self.store.degraded}",
                               code="not_available")
            return await getattr(self, method.handler_name)(**args)
        extra = self.rpc.items.get(name)
        if extra is None:
            raise RpcError(f"unknown method {name!r}", code="method_not_found")
        unknown = sorted(set(params or {}) - set(extra.params))
        if unknown:
            raise RpcError(f"{name}: unknown parameter(s) {', '.join(unknown)}",
                           code="invalid_params")
        for key, value in (params or {}).items():  # plugin methods: the same text limits
            problem = text_problem(value, MAX_PARAM) if isinstance(value, str) else None
            if problem:
                raise RpcError(f"{name}: parameter {key!r}: {problem}", code="invalid_params")
        return await extra.handler(self.contexts(extra.plugin), **(params or {}))

    def discover(self) -> dict[str, Any]:
        """Every method this daemon answers: the table's and the plugins' (``rpc.discover``,
        also ``system.methods``; th-ctl methods lists them)."""
        core = [{"name": m.name, "summary": m.help, "from": "core",
                 "params": [p.name for p in m.params]} for m in protocol.METHODS]
        plugins = [{"name": m.name, "summary": m.help, "from": m.plugin,
                    "params": sorted(m.params)}
                   for m in sorted(self.rpc.items.values(), key=lambda m: m.name)]
        return {"methods": core + plugins}

    # ------------------------------------------------------------------ methods
    async def status(self) -> dict[str, Any]:
        health = self.health.as_list()
        return {
            "mode": self.settings.active_mode,
            "version": self.about.version,
            "pid": self.about.pid,
            "home": str(self.settings.home),
            "dashboard": self.about.dashboard_url,
            "uptime": round(time.time() - self.live.started_at, 1),
            "feeds": [h for h in health if h["kind"] == "feed"],
            "components": [h for h in health if h["kind"] != "feed"],
            "counters": self.live.summary(),
            "tickers": self.tickers.summary(),
            "retention": dict(self.retention),
            "store": {"commits": self.store.commits, "write_errors": self.store.write_errors},
        }

    async def tickers_list(self, feed: str | None = None) -> dict[str, Any]:
        book = self.tickers
        if feed is not None:
            book.feed_for(feed)  # an unknown feed is an error, not an empty list
        return {"tickers": [dict(t.__dict__) for t in book.list(feed)],
                "summary": book.summary(feed), "feeds": book.feeds(self.components)}

    async def feeds_search(self, feed: str, q: str = "", limit: int = 100) -> dict[str, Any]:
        """A feed plugin's own search (``IdentifierSpec.search``); each hit names its feed."""
        name = self.tickers.feed_for(feed)
        search = self.tickers.specs[name].search
        if search is None:
            raise RpcError(f"feed {name!r} offers no search", code="invalid_params")
        if not 1 <= limit <= 1000:
            raise RpcError("feeds.search: limit must be from 1 to 1000", code="invalid_params")
        answer = dict(await search(self.contexts(self.feed_plugins[name]), q, limit))
        answer["results"] = [{**hit, "feed": name} for hit in answer.get("results") or ()]
        return {**answer, "feed": name}

    async def tickers_add(self, ticker: str, feed: str | None = None) -> dict[str, Any]:
        book = self.tickers
        item, added = await book.add(book.feed_for(feed), ticker)
        return {"ticker": dict(item.__dict__), "added": added}

    async def tickers_remove(self, ticker: str, feed: str | None = None) -> dict[str, Any]:
        book = self.tickers
        name = book.feed_for(feed)
        removed = await book.remove(name, ticker)
        if removed is None:
            raise RpcError(f"{ticker} is not tracked", code="invalid_params")
        return {"ticker": removed, "removed": True}

    async def pairs_list(self) -> dict[str, Any]:
        return {"pairs": [p.as_dict() for p in self.pairs.entries()]}

    def _venue(self, index: int, param: str) -> str:
        """A pair's default venue: the feeds that take identifiers, in load order (the
        built-ins: kalshi, then polymarket), so the core names no venue."""
        feeds = list(self.tickers.specs)
        if index >= len(feeds):
            raise RpcError(f"pairs: name the venue with {param} (only {len(feeds)} loaded "
                           "feed(s) take identifiers)", code="invalid_params")
        return feeds[index]

    async def pairs_add(self, a: str, b: str, a_platform: str | None = None,
                        b_platform: str | None = None) -> dict[str, Any]:
        pair, added = await self.pairs.add(a, b, a_platform or self._venue(0, "a_platform"),
                                           b_platform or self._venue(1, "b_platform"))
        return {"pair": pair.as_dict(), "added": added}

    async def pairs_remove(self, id: str) -> dict[str, Any]:
        try:
            number = int(str(id))
        except ValueError:
            raise RpcError(f"pairs.remove: id must be a pair's number, not {id!r}",
                           code="invalid_params") from None
        return {"pair": (await self.pairs.remove(number)).as_dict(), "removed": True}

    async def pairs_suggest(self, limit: int = 20) -> dict[str, Any]:
        if not 1 <= limit <= 200:
            raise RpcError("pairs.suggest: limit must be from 1 to 200", code="invalid_params")
        rows = await trio.to_thread.run_sync(market_titles, self.store)
        return {"suggestions": self.pairs.suggest(rows, self._venue(0, "a_platform"),
                                                  self._venue(1, "b_platform"), limit=limit)}

    async def signals_list(self, sort: str = "newest", limit: int = 20,
                           topic: str | None = None, tier: str | None = None,
                           since: str | None = None, until: str | None = None,
                           market: str | None = None, csv: bool = False,
                           unread: bool | None = None, outcome: str | None = None,
                           horizon: str | None = None) -> dict[str, Any]:
        if not 1 <= limit <= 500:
            raise RpcError("signals.list: limit must be from 1 to 500", code="invalid_params")
        live, acked = self.live, self.mutes.acked
        stored = (since, until, market, outcome, horizon)
        if all(v is None for v in stored):  # the live window
            pairs = [(s, live.reads.get(s.id or 0))
                     for s in live.recent_signals(sort=sort, limit=500 if unread else limit,
                                                  topic=topic, tier=tier)]
        else:  # the stored history (daemon/signal_history.py)
            pairs = await trio.to_thread.run_sync(self._stored_signals, sort,
                                                  500 if unread else limit, topic, tier,
                                                  *stored)
        if unread:
            pairs = [(s, r) for s, r in pairs if s.id not in acked][:limit]
        if csv:
            from trade_hunter.web.export import (  # no web stack
                SIGNAL_COLUMNS,
                csv_cells,
                signal_row,
            )
            graded = await trio.to_thread.run_sync(
                signal_history.outcome_classes, self.store, [s.id or 0 for s, _ in pairs])
            return {"columns": list(SIGNAL_COLUMNS),
                    "rows": [csv_cells(SIGNAL_COLUMNS, signal_row(s, r, graded.get(s.id or 0)))
                             for s, r in pairs]}
        graded_now: dict[int, Any] = live.outcomes
        if not all(v is None for v in stored):  # older signals: their stored outcomes
            graded_now = await trio.to_thread.run_sync(
                outcome_store.outcomes_of, self.store, [s.id or 0 for s, _ in pairs])
        return {"signals": [signal_dict(s, r, graded_now.get(s.id or 0))
                            | {"acked": s.id in acked} for s, r in pairs]}

    def _stored_signals(self, sort: str, limit: int, topic: str | None, tier: str | None,
                        since: str | None, until: str | None, market: str | None,
                        outcome: str | None, horizon: str | None
                        ) -> list[tuple[SpikeSignal, Any]]:
        try:
            flt = signal_history.SignalFilter(
                since=signal_history.parse_time("since", since),
                until=signal_history.parse_time("until", until), market=market, topic=topic,
                tier=tier, outcome=outcome,
                horizon=HORIZONS[HORIZON_NAMES.index(horizon or "5m")])
        except ValueError as exc:
            raise RpcError(f"signals.list: {exc}", code="invalid_params") from None
        return signal_history.signals_page(self.store, flt, sort=sort, limit=limit)[0]

    async def plugins_list(self) -> dict[str, Any]:
        return {"plugins": self.host.report()}

    async def demo_spike(self, market_id: str | None = None) -> dict[str, Any]:
        """A burst through the real pipeline, large enough to trigger on any baseline."""
        pipeline = self.pipeline
        if pipeline is None:
            raise RpcError("the pipeline is not running", code="not_available")
        self.demo_count += 1
        market = market_id or f"DEMO-SPIKE-{int(time.time())}-{self.demo_count}"
        state = pipeline.states.get(market)
        detector = pipeline.detector
        base = detector.baseline(state) if state is not None and hasattr(detector, "baseline") \
            else 60.0
        signals = pipeline.process(demo_events(market, getattr(state, "last_price", None),
                                               detector.thresholds, base,
                                               pipeline.names.get(market)))
        if not signals:
            raise RpcError(f"{market} is in cooldown: no signal fired", code="invalid_params")
        return {"market_id": market, "signals": [s.id for s in signals]}

    def _advisor(self) -> Advisor:
        if self.advisor is None:
            raise RpcError("the tuning advisor is not running", code="not_available")
        return self.advisor

    async def tuning_show(self) -> dict[str, Any]:
        advisor = self._advisor()
        await advisor.refresh()  # the backlog file may have been edited by hand
        return advisor.summary()

    async def tuning_run(self) -> dict[str, Any]:
        return await self._advisor().run_once()

    async def tuning_apply(self, id: str) -> dict[str, Any]:
        return await self._advisor().apply(id)

    async def scorecard(self, since: str | None = None, until: str | None = None,
                        group_by: str = "tier") -> dict[str, Any]:
        """Reads the stored outcomes (never re-grades) in a worker thread."""
        lo, hi = moment("since", since), moment("until", until)
        return await self.scorecards.get(lo, hi, group_by)

    async def tuning_reject(self, id: str) -> dict[str, Any]:
        return await self._advisor().reject(id)

    async def shutdown(self, pid: int | None = None) -> dict[str, Any]:
        pid_now = self.about.pid
        if pid is not None and pid != pid_now:  # a scoped shutdown meant for another run
            raise RpcError(f"shutdown: this daemon is pid {pid_now}, not {pid}",
                           code="invalid_params")
        self.stop("control request")
        return {"stopping": True, "pid": pid_now}


_AGES = {"m": 60.0, "h": 3600.0, "d": 86400.0}


def moment(name: str, text: str | None) -> float | None:
    """A time parameter: epoch seconds, an ISO 8601 date or date-time (UTC unless it says
    otherwise) or an age (``90m``, ``24h``, ``7d``) before now, to the whole minute (so
    repeated asks share a cached scorecard)."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        value = float(text)
        if math.isfinite(value):
            return value
    except ValueError:
        pass
    if text[-1:] in _AGES:
        try:
            return (time.time() - float(text[:-1]) * _AGES[text[-1]]) // 60 * 60
        except ValueError:
            pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise RpcError(f"scorecard: parameter {name!r} must be epoch seconds, an ISO date or "
                       f"date-time, or an age like 24h or 7d, not {text!r}",
                       code="invalid_params") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def demo_events(market: str, last_price: float | None, thresholds: dict[str, float],
                baseline: float, known: tuple[str, str | None] | None = None
                ) -> list[MarketEvent]:
    """A market event pair that fires on any sane thresholds: a quote, then a big trade.
    ``known``: the market's (title, topic) when it exists, so a demo keeps its name."""
    now = time.time()
    price = last_price if last_price is not None else 0.42
    step = round(max(0.12, 2 * thresholds.get("SPIKE_MIN_PRICE_MOVE", 0.03)), 2)
    jump = step if price + step <= 0.99 else -step
    size = max(1000.0, baseline * 10, 2 * thresholds.get("SPIKE_MIN_VOLUME_DELTA", 120.0))
    title, topic = known or ("Demo spike (injected from the dashboard)", "general")
    return [
        MarketEvent(platform="demo", market_id=market, title=title, yes_price=price,
                    event_kind="quote", source="demo", timestamp=now, topic=topic),
        MarketEvent(platform="demo", market_id=market, title=title,
                    yes_price=round(price + jump, 2), volume=size, volume_kind="delta",
                    event_kind="trade", trade_side="yes" if jump > 0 else "no",
                    trade_size=size, source="demo", timestamp=now, topic=topic),
    ]
