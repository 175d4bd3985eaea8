"""The scorecard through HTTP, JSON-RPC (th-ctl) and the signal cards, on a real daemon over a
hand-built stored history (tests/outcome_history.py): figures counted by hand, never
re-graded per request, bad parameters answered 422 naming the parameter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import trio

from trade_hunter.daemon.event_writes import write_read
from trade_hunter.daemon.outcome_store import write_settlement
from trade_hunter.daemon.store import Store
from trade_hunter.plugins.models import AnalystRead
from trade_hunter.web import schemas
from trade_hunter.web.app import create_app

from ..outcome_history import (
    AFTER,
    D0,
    DAY,
    MARKET,
    MORNING,
    SIGNAL_EVENT,
    T0,
    clock,
    signal,
    store_history,
)

TH_CTL = str(Path(sys.executable).parent / "th-ctl")


async def graded_daemon(start_daemon, tmp_path):
    home = tmp_path / "home"
    store = Store(home / "trade-hunter.db")
    store.open()
    # Beside our signal, an alert relayed from another service on the same event (a vendor
    # signal): graded too, but scored only when grouped by rule or source.
    vendor = msgspec.structs.replace(signal(2, SIGNAL_EVENT, "flat"), rule="vendor",
                                     detector="vendor", tier="watch")
    store_history(store, [*MORNING, SIGNAL_EVENT, *AFTER, clock(D0 + DAY + 3600)],
                  [signal(1, SIGNAL_EVENT), vendor])
    # The analyst's read with its estimate, and the market settled YES.
    store.submit(write_read(AnalystRead(signal_id=1, noise_or_signal="signal", direction="up",
                                        confidence="high", rationale="r", probability_yes=0.7,
                                        provider="anthropic", created_at=T0 + 5)))
    store.submit(write_settlement(MARKET, "yes", T0 + 7200))
    store.close()
    d = await start_daemon(home=home)
    with trio.fail_after(30):  # a guard against a hang, not a timing assertion
        while d.grader is None or d.grader.graded < 2:
            await trio.sleep(0.05)
    return d, create_app(d.web_parts()).test_client()


async def test_scorecard_api_rpc_and_cards(start_daemon, tmp_path):
    d, client = await graded_daemon(start_daemon, tmp_path)
    response = await client.get("/api/scorecard?group_by=tier")
    assert response.status_code == 200
    card = await response.get_json()
    msgspec.convert(card, schemas.ScorecardResult)  # the documented schema is the real one
    assert (card["signals"], card["open"], card["baseline_open"]) == (1, 0, 0)
    assert card["market_hours"] == 2.0  # the market traded in the 08:00 and 10:00 hours
    [group] = card["groups"]
    assert group["group"] == "notable" and group["per_market_hour"] == 0.5
    one, five, fifteen, sixty = group["horizons"]
    assert (one["continuation"], one["graded"], one["waiting"]) == (1.0, 1, 0)
    assert five["continuation"] == 0.0 and fifteen["flat"] == 1.0
    # +60m: the signal reversed (0 %); its baseline: 1 continued, 2 reversed, 2 flat (33 %).
    assert sixty["baseline_graded"] == 5
    assert round(sixty["baseline_continuation"], 4) == 0.3333
    assert sixty["lift"] == -33.33 and sixty["lift_low"] is None  # one signal: no interval

    # Settled YES, direction up: a hit; the analyst's 0.7 against the market's 0.50.
    assert (group["settled"], group["hit_rate"], group["implied_hit_rate"]) == (1, 1.0, 0.5)
    assert group["analyst_scored"] == 1
    assert round(group["brier"], 4) == 0.09 and round(group["brier_market"], 4) == 0.25
    assert round(group["brier_skill"], 2) == 0.64
    # Served from the cache while the data stays the same; rebuilt once it changes.
    builds = d.scorecards.builds
    assert (await (await client.get("/api/scorecard")).get_json())["groups"] == card["groups"]
    assert d.scorecards.builds == builds
    await d.store.run(write_settlement(MARKET, "no", T0 + 9000))  # corrected: settled NO
    changed = await (await client.get("/api/scorecard")).get_json()
    assert changed["groups"][0]["hit_rate"] == 0.0 and d.scorecards.builds == builds + 1

    by_label = await (await client.get("/api/scorecard?group_by=analyst_label")).get_json()
    assert [g["group"] for g in by_label["groups"]] == ["signal"]

    later = await (await client.get(f"/api/scorecard?since={T0 + 1}")).get_json()
    assert later["signals"] == 0 and later["market_hours"] == 0
    iso = await (await client.get("/api/scorecard?since=2000-01-01&group_by=rule")).get_json()
    assert [(g["group"], g["signals"]) for g in iso["groups"]] == [("hard", 1), ("vendor", 1)]

    for query, name in (("group_by=weather", "group_by"), ("since=yesterday", "since"),
                        ("until=1e999x", "until"), ("bogus=1", "bogus")):
        response = await client.get(f"/api/scorecard?{query}")
        assert response.status_code == 422, query
        body = await response.get_json()
        assert name in json.dumps(body), (query, body)
    assert (await client.get("/api/scorecard")).status_code == 200  # still usable

    # The same method through JSON-RPC, and th-ctl printing outcomes.render.
    assert (await d.service.call("scorecard", {"group_by": "tier"}))["signals"] == 1
    text = await trio.to_thread.run_sync(lambda: subprocess.run(
        [TH_CTL, "--home", str(d.settings.home), "scorecard", "--by", "rule"],
        capture_output=True, text=True, timeout=60, check=True).stdout)
    assert text.startswith("Scorecard by rule: 2 signals over 2.0 market-hours")
    assert "-33.3 [n too small]" in text
    assert "analyst Brier 0.490 vs market 0.250 (skill -0.960, n=1)" in text  # settled NO

    # Each signal carries its outcomes: /api/signals, /api/state, th-ctl signals.
    vendor_item, item = (await (await client.get("/api/signals")).get_json())["signals"]
    assert vendor_item["rule"] == "vendor" and vendor_item["outcomes"][0]["outcome"] == "moved"
    assert [(o["horizon"], o["outcome"], o["change"]) for o in item["outcomes"]] == [
        ("1m", "continued", 0.03), ("5m", "reversed", -0.02), ("15m", "flat", 0.0),
        ("60m", "reversed", -0.05)]
    card_item = (await (await client.get("/api/state")).get_json())["signals"][1]
    assert card_item["outcomes"] == item["outcomes"]
    listing = await trio.to_thread.run_sync(lambda: subprocess.run(
        [TH_CTL, "--home", str(d.settings.home), "signals"],
        capture_output=True, text=True, timeout=60, check=True).stdout)
    assert "+1m ▲ continued +3¢" in listing and "+60m ▼ reversed -5¢" in listing
