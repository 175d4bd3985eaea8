"""History and export: filters, counts, the keyset cursor, CSV columns and escaping, JSON
Lines, streamed events."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import trio

from trade_hunter.plugins.models import MarketEvent
from trade_hunter.web.export import EVENT_EXPORT_COLUMNS, SIGNAL_COLUMNS

from .conftest import spike_events, wait_signals


async def committed(d: Any, n: int) -> None:
    with trio.fail_after(30):
        while (await d.store.aquery("SELECT COUNT(*) FROM signals"))[0][0] < n:
            await d.store.flush()
            await trio.sleep(0.02)


async def four_signals(web: Any) -> tuple[Any, Any]:
    d, client = await web(ENABLE_SIMULATION="false")
    d.ingest(spike_events("M-A", topic="crypto"))
    d.ingest(spike_events("M-B", topic="macro", size=900))
    d.ingest(spike_events("M-C", topic="crypto", size=300,
                          title="=HYPERLINK(\"http://x\"), \"quoted\"\nline"))
    d.ingest(spike_events("M-D", topic="sports"))
    await wait_signals(d, 4)
    await committed(d, 4)
    return d, client


async def test_history_filters_counts_and_the_cursor(web):
    _d, client = await four_signals(web)
    first = await (await client.get("/api/history?limit=3")).get_json()
    assert [s["market_id"] for s in first["items"]] == ["M-D", "M-C", "M-B"]
    assert first["counts"]["total"] == 4
    assert first["counts"]["topic"] == {"crypto": 2, "macro": 1, "sports": 1}
    assert first["items"][0]["explain"]["why"].startswith("hard: ")
    rest = await (await client.get(f"/api/history?limit=3&cursor={first['next_cursor']}"
                                   )).get_json()
    assert [s["market_id"] for s in rest["items"]] == ["M-A"] and rest["next_cursor"] is None
    crypto = await (await client.get("/api/history?topic=crypto&sort=oldest")).get_json()
    assert [s["market_id"] for s in crypto["items"]] == ["M-A", "M-C"]
    # the topic facet still counts every topic (choosing another gives that many)
    assert crypto["counts"]["total"] == 2 and crypto["counts"]["topic"]["macro"] == 1
    by_score = await (await client.get("/api/history?sort=score")).get_json()
    scores = [s["score"] for s in by_score["items"]]
    assert scores == sorted(scores, reverse=True) and by_score["items"][0]["market_id"] == "M-B"
    one = await (await client.get("/api/history?market=M-B&source=test")).get_json()
    assert [s["market_id"] for s in one["items"]] == ["M-B"]
    assert (await (await client.get("/api/history?since=2999-01-01")).get_json())["items"] == []
    for bad in ("cursor=nonsense", "since=yesterday", "sort=random", "limit=0", "label=meh"):
        r = await client.get(f"/api/history?{bad}")
        assert r.status_code == 422, bad


async def test_signals_csv_columns_escaping_and_jsonl(web):
    _d, client = await four_signals(web)
    r = await client.get("/api/signals.csv?topic=crypto&sort=oldest")
    assert r.status_code == 200 and r.content_type.startswith("text/csv")
    assert 'filename="signals.csv"' in r.headers["Content-Disposition"]
    text = (await r.get_data()).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(SIGNAL_COLUMNS)
    assert [row["market_id"] for row in rows] == ["M-A", "M-C"]
    a, c = rows
    assert a["created_at"].endswith("Z") and float(a["created_at_epoch"]) > 0
    assert a["price_move_cents"] == "10.0" and a["direction"] == "up" and a["notify"] == "true"
    assert a["why"].startswith("hard: 500 contracts ≥ 120 and 10¢ ≥ 3¢")
    # A title with a formula, quotes, a comma and a newline survives, defused.
    assert c["title"] == "'=HYPERLINK(\"http://x\"), \"quoted\"\nline"
    lines = (await (await client.get("/api/signals.jsonl?market=M-B")).get_data()).decode()
    records = [json.loads(line) for line in lines.splitlines()]
    assert [rec["market_id"] for rec in records] == ["M-B"]
    assert set(records[0]) == set(SIGNAL_COLUMNS) and records[0]["volume_delta"] == 900
    empty = (await (await client.get("/api/signals.csv?tier=nope")).get_data()).decode()
    assert empty.splitlines() == [",".join(SIGNAL_COLUMNS)]


async def test_events_export_streams_every_page(web, monkeypatch):
    from trade_hunter.daemon import signal_history
    monkeypatch.setattr(signal_history, "EVENT_PAGE", 7)  # several pages from a few events
    d, client = await web(ENABLE_SIMULATION="false")
    now = time.time()
    d.ingest([MarketEvent(platform="test", market_id="M-E", title="E", event_kind="trade",
                          yes_price=0.5, volume=1.0, trade_size=1.0, trade_side="yes",
                          timestamp=now - 100 + i, source="test") for i in range(30)])
    with trio.fail_after(30):
        while (await d.store.aquery("SELECT COUNT(*) FROM events"))[0][0] < 30:
            await d.store.flush()
            await trio.sleep(0.02)
    text = (await (await client.get(f"/api/events.csv?market=M-E&since={now - 90}"
                                    )).get_data()).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(EVENT_EXPORT_COLUMNS)
    assert len(rows) == 20 and rows[0]["kind"] == "trade"
    assert [float(r["ts_epoch"]) for r in rows] == sorted(float(r["ts_epoch"]) for r in rows)
    lines = (await (await client.get("/api/events.jsonl?market=M-E")).get_data()).decode()
    assert len(lines.splitlines()) == 30
    bad = await client.get("/api/events.csv?until=soon")
    assert bad.status_code == 422 and "until" in (await bad.get_json())["detail"]


async def test_outcome_filter_counts_export_and_th_ctl_rows(web):
    from trade_hunter.daemon.outcome_store import outcome_row, write_outcomes
    from trade_hunter.outcomes.grading import HORIZONS, HorizonOutcome

    d, client = await four_signals(web)
    by_market = {s.market_id: s for s in d.live.signals.values()}

    def graded(cls_5m: str, cls_1m: str = "flat") -> list[HorizonOutcome]:
        classes = {60: cls_1m, 300: cls_5m}
        return [HorizonOutcome(horizon=h, outcome=classes.get(h, "no data"),  # type: ignore[arg-type]
                               change=0.02) for h in HORIZONS]
    # M-A continued at +5 m, M-B reversed, M-C flat at +5 m but continued at +1 m;
    # M-D has no outcome row yet: pending. M-B's grading is over (no data at +15 m for good).
    rows = [outcome_row(by_market["M-A"], graded("continued"), [], False),
            outcome_row(by_market["M-B"], graded("reversed"), [], True),
            outcome_row(by_market["M-C"], graded("flat", "continued"), [], False)]
    await d.store.run(write_outcomes(rows))

    page = await (await client.get("/api/history")).get_json()
    assert page["counts"]["outcome"] == {"continued": 1, "reversed": 1, "flat": 1,
                                         "pending": 1}
    cont = await (await client.get("/api/history?outcome=continued")).get_json()
    assert [s["market_id"] for s in cont["items"]] == ["M-A"]
    assert [o["outcome"] for o in cont["items"][0]["outcomes"]][:2] == ["flat", "continued"]
    assert cont["counts"]["outcome"]["pending"] == 1  # the other values still counted
    at_1m = await (await client.get("/api/history?outcome=continued&horizon=1m")).get_json()
    assert [s["market_id"] for s in at_1m["items"]] == ["M-C"]
    late = await (await client.get("/api/history?horizon=15m")).get_json()
    assert late["counts"]["outcome"] == {"pending": 3, "no data": 1}
    pending = await (await client.get("/api/history?outcome=pending&topic=sports")).get_json()
    assert [s["market_id"] for s in pending["items"]] == ["M-D"]
    for bad in ("outcome=won", "horizon=2m"):
        assert (await client.get(f"/api/history?{bad}")).status_code == 422, bad

    text = (await (await client.get("/api/signals.csv?outcome=reversed")).get_data()).decode()
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert (row["market_id"], row["outcome_1m"], row["outcome_5m"], row["outcome_15m"]) == (
        "M-B", "flat", "reversed", "no data")
    lines = (await (await client.get("/api/signals.jsonl?outcome=flat")).get_data()).decode()
    assert [json.loads(x)["market_id"] for x in lines.splitlines()] == ["M-C"]

    # th-ctl signals --outcome … goes through the same method (signals.list)
    listed = await d.service.call("signals.list", {"outcome": "continued", "csv": True})
    assert [r[listed["columns"].index("market_id")] for r in listed["rows"]] == ["M-A"]
    table = await d.service.call("signals.list", {"outcome": "reversed", "horizon": "5m"})
    [shown] = table["signals"]  # th-ctl's table rows carry the stored outcomes
    assert shown["market_id"] == "M-B"
    assert [o["outcome"] for o in shown["outcomes"]][:2] == ["flat", "reversed"]
    bad = await client.get("/api/signals?outcome=won")
    assert bad.status_code == 422


async def incident_signals(web: Any) -> tuple[Any, Any]:
    """Three signals on markets of one Kalshi event (one incident), one on another event's
    market (an incident of one), one ungrouped (not a Kalshi market)."""
    import msgspec

    d, client = await web(ENABLE_SIMULATION="false")
    for market in ("KXINC-26DEC06-A", "KXINC-26DEC06-B", "KXSOLO-26DEC06-A",
                   "KXINC-26DEC06-C"):
        d.ingest([msgspec.structs.replace(e, platform="kalshi")
                  for e in spike_events(market, topic="macro")])
        await wait_signals(d, len(d.live.signals) + 1)
    d.ingest(spike_events("M-PLAIN", topic="sports"))
    await wait_signals(d, 5)
    await committed(d, 5)
    return d, client


async def test_dashboard_cards_name_their_incident(web):
    d, client = await incident_signals(web)
    state = await (await client.get("/api/state")).get_json()
    incidents = {s["market_id"]: s.get("incident") for s in state["signals"]}
    first = incidents["KXINC-26DEC06-A"]
    assert first is not None and first["key"] == "KXINC-26DEC06"
    assert incidents["KXINC-26DEC06-B"] == incidents["KXINC-26DEC06-C"] == first
    assert incidents["KXSOLO-26DEC06-A"]["key"] == "KXSOLO-26DEC06"
    assert incidents["KXSOLO-26DEC06-A"]["id"] != first["id"]
    assert incidents["M-PLAIN"] is None
    # after a restart the membership comes back from the store
    d.incidents.members.clear()
    await trio.to_thread.run_sync(d.incidents.load_members)
    again = await (await client.get("/api/state")).get_json()
    assert {s["market_id"]: s.get("incident") for s in again["signals"]} == incidents


async def test_history_grouped_by_incident(web):
    _d, client = await incident_signals(web)
    page = await (await client.get("/api/history?group=incident&limit=2")).get_json()
    assert page["counts"]["total"] == 5 and page["counts"]["groups"] == 3
    newest, event = page["items"]
    assert newest["incident"] is None and [s["market_id"] for s in newest["signals"]] == [
        "M-PLAIN"]
    assert event["incident"]["key"] == "KXINC-26DEC06"
    assert [s["market_id"] for s in event["signals"]] == [
        "KXINC-26DEC06-C", "KXINC-26DEC06-B", "KXINC-26DEC06-A"]  # newest first
    rest = await (await client.get(
        f"/api/history?group=incident&limit=2&cursor={page['next_cursor']}")).get_json()
    assert [g["incident"]["key"] for g in rest["items"]] == ["KXSOLO-26DEC06"]
    assert rest["next_cursor"] is None
    oldest = await (await client.get("/api/history?group=incident&sort=oldest")).get_json()
    assert [g["incident"] and g["incident"]["key"] for g in oldest["items"]] == [
        "KXINC-26DEC06", "KXSOLO-26DEC06", None]
    # the filters apply to the members: one market of the incident
    one = await (await client.get("/api/history?group=incident&market=KXINC-26DEC06-B"
                                  )).get_json()
    [group] = one["items"]
    assert group["incident"]["key"] == "KXINC-26DEC06" and len(group["signals"]) == 1
    assert (await client.get("/api/history?group=market")).status_code == 422
    # the exports stay one row per signal: group is not one of their parameters
    assert (await client.get("/api/signals.csv?group=incident")).status_code == 422
