"""The fake exchange's REST side: an HTTP/1.1 server (h11 over trio, keep-alive) serving the
public market-data endpoints under ``/trade-api/v2`` with cursor pagination, signature checks
and injectable failures (429 without headers, 5xx)."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import h11
import trio

from .market import STATUS_FILTER, iso

if TYPE_CHECKING:
    from . import FakeKalshi

PREFIX = "/trade-api/v2"
Reply = tuple[int, Any]


@dataclass
class Recorded:
    kind: str            # rest | ws
    method: str
    path: str
    query: dict[str, str]
    host: str
    signed: bool
    status: int = 0
    at: float = 0.0
    signed_ts: str = ""  # the KALSHI-ACCESS-TIMESTAMP it carried


def not_found(what: str) -> Reply:
    return 404, {"error": {"code": "not_found", "message": f"{what} not found"}}


async def serve_http(handler: Callable[[str, str, dict[str, str]], Awaitable[Reply]], *,
                     task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, partial(_connection, handler), listeners)
        task_status.started(port)


async def _connection(handler: Callable[..., Awaitable[Reply]], stream: trio.SocketStream
                      ) -> None:
    conn = h11.Connection(h11.SERVER)
    try:
        while True:
            request = None
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    return
            assert request is not None
            headers = {k.decode().lower(): v.decode() for k, v in request.headers}
            status, body = await handler(request.method.decode(), request.target.decode(),
                                         headers)
            data = json.dumps(body).encode()
            await stream.send_all(conn.send(h11.Response(status_code=status, headers=[
                ("content-type", "application/json"), ("content-length", str(len(data)))])))
            await stream.send_all(conn.send(h11.Data(data=data)))
            await stream.send_all(conn.send(h11.EndOfMessage()))
            if conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
    except (h11.RemoteProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
        return
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()


def _page(items: list[Any], query: dict[str, str], max_page: int, default: int = 100
          ) -> tuple[list[Any], str]:
    limit = min(int(query.get("limit") or default), max_page)
    cursor = query.get("cursor") or ""
    start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
    end = start + limit
    nxt = base64.b64encode(f"off:{end}".encode()).decode() if end < len(items) else ""
    return items[start:end], nxt


class RestRoutes:
    """``await routes(method, target, headers) -> (status, body)``."""

    def __init__(self, fake: FakeKalshi) -> None:
        self.fake = fake

    async def __call__(self, method: str, target: str, headers: dict[str, str]) -> Reply:
        fake = self.fake
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        signed = any(h.startswith("kalshi-access-") for h in headers)
        rec = Recorded("rest", method, parts.path, query, headers.get("host", ""), signed,
                       at=fake.now(), signed_ts=headers.get("kalshi-access-timestamp", ""))
        fake.requests.append(rec)
        status, body = await self._answer(method, parts.path, query, headers, signed)
        rec.status = status
        fake.bump()
        return status, body

    async def _answer(self, method: str, path: str, query: dict[str, str],
                      headers: dict[str, str], signed: bool) -> Reply:
        fake = self.fake
        if signed or fake.require_auth:
            problem = fake.check_auth(headers, method, path)
            if problem:
                return 401, {"code": "unauthorized", "message": problem}
        if fake.fail_next:
            status = fake.fail_next.pop(0)
            return status, ({"error": "too many requests"} if status == 429
                            else {"code": "internal_error", "message": "injected failure"})
        if method != "GET" or not path.startswith(PREFIX + "/"):
            return not_found(path)
        route = path[len(PREFIX):].strip("/").split("/")
        try:
            return self._route(route, query)
        except (ValueError, IndexError) as exc:
            return 400, {"code": "bad_request", "message": str(exc)}

    def _route(self, route: list[str], query: dict[str, str]) -> Reply:
        fake, now, page = self.fake, self.fake.now(), fake_page(self.fake)
        head, rest = route[0], route[1:]
        if head == "markets" and not rest:
            return self._markets(query)
        if head == "markets" and rest == ["trades"]:
            trades = [t for t in reversed(fake.trades)
                      if (not query.get("ticker") or t["ticker"] == query["ticker"])
                      and t["ts_ms"] / 1000 >= float(query.get("min_ts") or 0)
                      and t["ts_ms"] / 1000 <= float(query.get("max_ts") or 1e12)]
            items, cursor = page(trades, query)
            return 200, {"trades": items, "cursor": cursor}
        if head == "markets" and len(rest) == 1:
            market = fake.markets.get(rest[0])
            if market is None or market.hidden(now):
                return not_found(f"market {rest[0]}")
            return 200, {"market": market.rest(now)}
        if head == "events" and not rest:
            events = [e for e in fake.events.values()
                      if (not query.get("series_ticker")
                          or e.series_ticker == query["series_ticker"])
                      and (query.get("status") != "open" or fake.event_markets(e.ticker, "open"))]
            items, cursor = page(events, query, 200)
            nested = query.get("with_nested_markets") == "true"
            return 200, {"events": [fake.event_body(e, nested) for e in items], "cursor": cursor}
        if head == "events" and len(rest) == 1:
            event = fake.events.get(rest[0])
            if event is None:
                return not_found(f"event {rest[0]}")
            body = fake.event_body(event, query.get("with_nested_markets") == "true")
            return 200, {"event": body, "markets": [m.rest(now) for m in
                                                     fake.event_markets(event.ticker)]}
        if head == "series" and not rest:
            series = [s.rest() for s in fake.series.values()
                      if not query.get("category") or s.category == query["category"]]
            items, cursor = page(series, query)
            return 200, {"series": items, "cursor": cursor}
        if head == "series" and len(rest) == 1:
            s = fake.series.get(rest[0])
            if s is not None:
                return 200, {"series": s.rest()}
            if fake.unknown_series_status == 400:  # what the documentation lists
                return 400, {"code": "bad_request", "message": "invalid series ticker"}
            return not_found(f"series {rest[0]}")
        if head == "historical" and rest == ["cutoff"]:
            return 200, {"market_settled_ts": iso(fake.historical_cutoff),
                         "trades_created_ts": iso(fake.historical_cutoff),
                         "orders_updated_ts": iso(fake.historical_cutoff)}
        if head == "historical" and rest[:1] == ["markets"] and len(rest) == 2:
            market = fake.historical.get(rest[1])
            if market is None:
                return not_found(f"historical market {rest[1]}")
            return 200, {"market": market.rest(now)}
        if route == ["search", "tags_by_categories"]:
            cats: dict[str, list[str]] = {c: [] for c in fake.extra_categories}
            for s in fake.series.values():
                cats.setdefault(s.category, []).extend(s.tags)
            return 200, {"tags_by_categories": cats}
        return not_found("/".join(route))

    def _markets(self, query: dict[str, str]) -> Reply:
        fake, now = self.fake, self.fake.now()
        wanted = status_filter(query.get("status"))
        tickers = set(filter(None, (query.get("tickers") or "").split(",")))
        markets = [m for m in fake.markets.values() if not m.hidden(now)
                   and (not query.get("series_ticker")
                        or fake.series_of(m) == query["series_ticker"])
                   and (not query.get("event_ticker") or m.event_ticker == query["event_ticker"])
                   and (not tickers or m.ticker in tickers)
                   and (wanted is None or m.status(now) in wanted)]
        items, cursor = fake_page(fake)(markets, query)
        return 200, {"markets": [m.rest(now) for m in items], "cursor": cursor}


def status_filter(value: str | None) -> set[str] | None:
    if not value:
        return None
    if value not in STATUS_FILTER:
        raise ValueError(f"status must be one of {', '.join(STATUS_FILTER)}")
    return STATUS_FILTER[value]


def fake_page(fake: FakeKalshi) -> Callable[..., tuple[list[Any], str]]:
    return lambda items, query, default=100: _page(items, query, fake.max_page, default)
