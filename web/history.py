"""The History view (``/history``, ``GET /api/history``) and the exports (``/api/signals.csv``,
``/api/signals.jsonl``, ``/api/events.csv``, ``/api/events.jsonl``), streamed page by page."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import trio
from msgspec import Meta, Struct
from quart import Quart, Response
from quart_schema import document_querystring, document_response, hide

from trade_hunter.daemon import signal_history as sh
from trade_hunter.daemon.market_reads import FirstSeen
from trade_hunter.daemon.outcome_store import outcomes_of
from trade_hunter.outcomes.grading import HORIZON_NAMES, HORIZONS

from . import export, schemas
from .api import BadRequest, read_query
from .errors import json_response
from .state import signal_card

if TYPE_CHECKING:
    from .parts import WebParts

Text = Annotated[str, Meta(min_length=1, max_length=200)]
Time = Annotated[str, Meta(min_length=1, max_length=40,
                           description="epoch seconds or ISO 8601 (UTC unless it says)")]
EXPORT_PAGE = 500


class SignalQuery(Struct, forbid_unknown_fields=True):
    since: Time | None = None
    until: Time | None = None
    market: Text | None = None
    topic: Text | None = None
    tier: Text | None = None
    rule: Text | None = None
    source: Text | None = None
    label: Annotated[Literal["signal", "noise", "uncertain", "none"],
                     Meta(description="analyst label; none: no read")] | None = None
    outcome: Annotated[Literal["continued", "reversed", "flat", "moved", "no data", "pending"],
                       Meta(description="the outcome at `horizon` (sh.OUTCOMES); pending: "
                            "not graded yet")] | None = None
    horizon: Annotated[Literal["1m", "5m", "15m", "60m"],
                       Meta(description="the horizon of `outcome` and its counts")] = "5m"


class HistoryQuery(SignalQuery, forbid_unknown_fields=True):
    group: Annotated[Literal["incident"],
                     Meta(description="incident: items are groups, an incident's signals "
                                      "together")] | None = None
    sort: Literal["newest", "oldest", "score"] = "newest"
    limit: Annotated[int, Meta(ge=1, le=200)] = 50
    cursor: Annotated[str, Meta(max_length=100,
                                description="next_cursor of the previous page")] | None = None


class SignalExportQuery(SignalQuery, forbid_unknown_fields=True):
    sort: Literal["newest", "oldest", "score"] = "newest"


class EventExportQuery(Struct, forbid_unknown_fields=True):
    market: Text | None = None
    since: Time | None = None
    until: Time | None = None


def parse_time(name: str, value: str | None) -> float | None:
    try:
        return sh.parse_time(name, value)
    except ValueError as exc:
        raise BadRequest(422, "invalid query string", str(exc)) from None


def signal_filter(q: SignalQuery) -> sh.SignalFilter:
    return sh.SignalFilter(since=parse_time("since", q.since),
                           until=parse_time("until", q.until), market=q.market, topic=q.topic,
                           tier=q.tier, rule=q.rule, source=q.source, label=q.label,
                           outcome=q.outcome,
                           horizon=HORIZONS[HORIZON_NAMES.index(q.horizon)])


def stream(pages: AsyncIterator[str], name: str, mime: str) -> Response:
    response = Response(pages, content_type=mime)  # type: ignore[arg-type]
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.timeout = None  # a big export outlives the default body timeout
    return response


def register_history_routes(app: Quart, d: WebParts) -> None:
    first_seen = FirstSeen(d.store)

    def cards(items: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
        known = first_seen.lookup([s.market_id for s, _ in items])
        graded = outcomes_of(d.store, [s.id for s, _ in items])
        return [signal_card(s, r, graded.get(s.id or 0), first_seen=known.get(s.market_id),
                            venue_url=d.tickers.venue_url)
                for s, r in items]

    def history_page(q: HistoryQuery, flt: sh.SignalFilter) -> dict[str, Any]:
        if q.group == "incident":
            groups, cursor = sh.groups_page(d.store, flt, sort=q.sort, limit=q.limit,
                                            cursor=q.cursor)
            counts = sh.counts(d.store, flt) | {"groups": sh.group_count(d.store, flt)}
            return {"items": [{"incident": {"id": g.incident[0], "key": g.incident[1]}
                               if g.incident else None, "signals": cards(g.signals)}
                              for g in groups],
                    "next_cursor": cursor, "counts": counts}
        items, cursor = sh.signals_page(d.store, flt, sort=q.sort, limit=q.limit,
                                        cursor=q.cursor)
        return {"items": cards(items), "next_cursor": cursor, "counts": sh.counts(d.store, flt)}

    @app.get("/history")
    @hide
    async def history_view() -> Any:
        return await app.send_static_file("history.html")

    @app.get("/api/history")
    @document_querystring(HistoryQuery)
    @document_response(schemas.ObjectResult)
    async def signal_history() -> Response:
        """Stored signals over any time range: filtered, sorted, cursor-paged, counted per filter.

        The counts per value of each filter say how many signals choosing it would give;
        with group=incident each item is a group (an incident's matching signals together)."""
        q = read_query(HistoryQuery)
        flt = signal_filter(q)
        if q.cursor:
            try:
                sh.decode_cursor(q.cursor)
            except ValueError:
                raise BadRequest(422, "invalid query string",
                                 "cursor: not a next_cursor this API gave") from None
        return json_response(await trio.to_thread.run_sync(history_page, q, flt))

    async def signal_pages(q: SignalExportQuery, flt: sh.SignalFilter,
                           render: Callable[[list[dict[str, Any]], bool], str]
                           ) -> AsyncIterator[str]:
        cursor, first = None, True
        while True:
            items, cursor = await trio.to_thread.run_sync(functools.partial(
                sh.signals_page, d.store, flt, sort=q.sort, limit=EXPORT_PAGE, cursor=cursor))
            graded = await trio.to_thread.run_sync(
                sh.outcome_classes, d.store, [s.id or 0 for s, _ in items])
            yield render([export.signal_row(s, r, graded.get(s.id or 0)) for s, r in items],
                         first)
            first = False
            if cursor is None:
                return

    def event_pages(q: EventExportQuery, render: Callable[[list[dict[str, Any]], bool], str]
                    ) -> AsyncIterator[str]:
        """The pages of an events export; the times are checked before anything is sent."""
        since = parse_time("since", q.since)
        until = parse_time("until", q.until)
        return _event_pages(q.market, 0.0 if since is None else since,
                            time.time() + 86400 if until is None else until, render)

    async def _event_pages(market: str | None, since: float, until: float,
                           render: Callable[[list[dict[str, Any]], bool], str]
                           ) -> AsyncIterator[str]:
        after, first = None, True
        while True:
            rows = await trio.to_thread.run_sync(functools.partial(
                sh.events_page, d.store, market=market, since=since, until=until, after=after,
                limit=sh.EVENT_PAGE))
            yield render([export.event_row(r) for r in rows], first)
            first = False
            if len(rows) < sh.EVENT_PAGE:
                return
            after = (rows[-1][1], rows[-1][0])

    def as_csv(columns: tuple[str, ...]) -> Callable[[list[dict[str, Any]], bool], str]:
        return lambda rows, first: export.csv_chunk(columns, rows, header=first)

    def as_jsonl(rows: list[dict[str, Any]], first: bool) -> str:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)

    @app.get("/api/signals.csv")
    @document_querystring(SignalExportQuery)
    @document_response(schemas.ObjectResult)
    async def signals_csv() -> Response:
        """Stored signals as CSV (the History filters; columns in the README), streamed."""
        q = read_query(SignalExportQuery)
        return stream(signal_pages(q, signal_filter(q), as_csv(export.SIGNAL_COLUMNS)),
                      "signals.csv", "text/csv; charset=utf-8")

    @app.get("/api/signals.jsonl")
    @document_querystring(SignalExportQuery)
    @document_response(schemas.ObjectResult)
    async def signals_jsonl() -> Response:
        """Stored signals as JSON Lines (the History filters), streamed."""
        q = read_query(SignalExportQuery)
        return stream(signal_pages(q, signal_filter(q), as_jsonl), "signals.jsonl",
                      "application/x-ndjson")

    @app.get("/api/events.csv")
    @document_querystring(EventExportQuery)
    @document_response(schemas.ObjectResult)
    async def events_csv() -> Response:
        """Stored events (trades and quotes) as CSV, by market and time range, streamed."""
        q = read_query(EventExportQuery)
        return stream(event_pages(q, as_csv(export.EVENT_EXPORT_COLUMNS)), "events.csv",
                      "text/csv; charset=utf-8")

    @app.get("/api/events.jsonl")
    @document_querystring(EventExportQuery)
    @document_response(schemas.ObjectResult)
    async def events_jsonl() -> Response:
        """Stored events as JSON Lines, by market and time range, streamed."""
        q = read_query(EventExportQuery)
        return stream(event_pages(q, as_jsonl), "events.jsonl", "application/x-ndjson")

    for view in (signal_history, signals_csv, signals_jsonl, events_csv, events_jsonl):
        for status in (400, 401, 403, 422):
            document_response(schemas.ErrorBody, status)(view)
