"""The handlers of the control methods (``protocol.METHODS``): one implementation behind the
JSON-RPC socket, th-ctl and the web API."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from trade_hunter.plugins.errors import RpcError
from trade_hunter.plugins.models import MarketEvent, SpikeSignal, to_builtins

from . import protocol
from .limits import MAX_PARAM, text_problem

if TYPE_CHECKING:
    from .advisor import Advisor
    from .app import Daemon


def signal_dict(signal: SpikeSignal, read: Any) -> dict[str, Any]:
    out = to_builtins(signal)
    out["read"] = to_builtins(read) if read is not None else None
    return out


class Service:
    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon

    async def call(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Dispatch a table method (or a plugin's ``plugin.method``) with checked params."""
        method = protocol.BY_NAME.get(name)
        if method is not None:
            try:
                args = protocol.convert_params(method, params or {})
            except protocol.ParamError as exc:
                raise RpcError(str(exc), code="invalid_params") from None
            if method.mutating and name != "shutdown" and self.d.store.degraded:
                # Its write would only wait in the queue: say so at once instead.
                raise RpcError(f"the store cannot write now: {self.d.store.degraded}",
                               code="not_available")
            return await getattr(self, method.handler_name)(**args)
        extra = self.d.registries.rpc.items.get(name)
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
        return await extra.handler(self.d.plugin_context(extra.plugin), **(params or {}))

    # ------------------------------------------------------------------ methods
    async def status(self) -> dict[str, Any]:
        d = self.d
        return {
            "mode": d.settings.active_mode,
            "version": d.version,
            "pid": d.pid,
            "home": str(d.settings.home),
            "dashboard": d.dashboard_url,
            "uptime": round(time.time() - d.live.started_at, 1),
            "feeds": [h for h in d.health.as_list() if h["kind"] == "feed"],
            "components": [h for h in d.health.as_list() if h["kind"] != "feed"],
            "counters": d.live.summary(),
            "tickers": d.tickers.summary(),
            "retention": dict(d.retention.status),
            "store": {"commits": d.store.commits, "write_errors": d.store.write_errors},
        }

    async def tickers_list(self) -> dict[str, Any]:
        items = [t.__dict__ | {} for t in self.d.tickers.list()]
        return {"tickers": items, "summary": self.d.tickers.summary(),
                "kalshi": "kalshi" in self.d.components}

    async def tickers_add(self, ticker: str) -> dict[str, Any]:
        item, added = await self.d.tickers.add(ticker)
        return {"ticker": item.__dict__ | {}, "added": added}

    async def tickers_remove(self, ticker: str) -> dict[str, Any]:
        removed = await self.d.tickers.remove(ticker)
        if not removed:
            raise RpcError(f"{ticker} is not tracked", code="invalid_params")
        return {"ticker": ticker, "removed": True}

    async def signals_list(self, sort: str = "newest", limit: int = 20,
                           topic: str | None = None, tier: str | None = None
                           ) -> dict[str, Any]:
        if not 1 <= limit <= 500:
            raise RpcError("signals.list: limit must be from 1 to 500", code="invalid_params")
        live = self.d.live
        items = live.recent_signals(sort=sort, limit=limit, topic=topic, tier=tier)
        return {"signals": [signal_dict(s, live.reads.get(s.id or 0)) for s in items]}

    async def plugins_list(self) -> dict[str, Any]:
        return {"plugins": self.d.host.report()}

    async def demo_spike(self, market_id: str | None = None) -> dict[str, Any]:
        """A burst through the real pipeline, large enough to trigger on any baseline."""
        self.d.demo_count += 1
        market = market_id or f"DEMO-SPIKE-{int(time.time())}-{self.d.demo_count}"
        signals = self.d.inject_demo(market)
        if not signals:
            raise RpcError(f"{market} is in cooldown: no signal fired", code="invalid_params")
        return {"market_id": market, "signals": [s.id for s in signals]}

    def _advisor(self) -> Advisor:
        if self.d.advisor is None:
            raise RpcError("the tuning advisor is not running", code="not_available")
        return self.d.advisor

    async def tuning_show(self) -> dict[str, Any]:
        advisor = self._advisor()
        await advisor.refresh()  # the backlog file may have been edited by hand
        return advisor.summary()

    async def tuning_run(self) -> dict[str, Any]:
        return await self._advisor().run_once()

    async def tuning_apply(self, id: str) -> dict[str, Any]:
        return await self._advisor().apply(id)

    async def shutdown(self, pid: int | None = None) -> dict[str, Any]:
        if pid is not None and pid != self.d.pid:  # a scoped shutdown meant for another run
            raise RpcError(f"shutdown: this daemon is pid {self.d.pid}, not {pid}",
                           code="invalid_params")
        self.d.request_shutdown("control request")
        return {"stopping": True, "pid": self.d.pid}


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
