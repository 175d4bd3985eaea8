"""Signal cards that say why, and the market page's chart, in headless Debian chromium
against the real ``trade-hunter`` console script in ingest-only mode: every event comes in
through ``POST /api/events``, so each number on screen is known in advance."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


from playwright.sync_api import Browser, expect

from .browser_kit import ARTIFACTS, DaemonProcess, page_errors  # skips without chromium

MARKET = "KXUXTEST-26DEC06-B1"
T0 = time.time() - 600  # twelve ordinary trades from here, one a second, then the spike
# (set again when the module's daemon starts: the outcome horizons count from then, however
# long the suite ran before this module)


def trades(market: str = MARKET, t0: float | None = None, topic: str = "crypto"
           ) -> list[dict[str, Any]]:
    """Twelve 10-contract trades at 40¢ (taker yes), then 500 contracts at 50¢ (taker yes)."""
    t0 = T0 if t0 is None else t0
    base = {"source": "uxtest", "platform": "kalshi", "market_id": market, "topic": topic,
            "title": "Will the UX test pass?" if market == MARKET else f"Will {market} win?",
            "event_kind": "trade", "volume_kind": "delta"}
    out = [{**base, "yes_price": 0.40, "volume": 10, "trade_size": 10,
            "trade_side": "yes" if i % 3 else "no", "timestamp": t0 + i} for i in range(12)]
    out.append({**base, "yes_price": 0.50, "volume": 500, "trade_size": 500,
                "trade_side": "yes", "timestamp": t0 + 12})
    return out


# Two older spikes on other markets (sports), for History's filters and cursor.
OTHERS = [("KXUXSPORT-A", -3000), ("KXUXSPORT-B", -2000)]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    global T0
    T0 = time.time() - 600
    d = DaemonProcess(tmp_path_factory.mktemp("ux") / "home", ENABLE_SIMULATION="false")
    try:
        events = [e for market, ago in OTHERS
                  for e in trades(market, T0 + ago, "sports")] + trades()
        for e in events:
            r = d.post("/api/events", e)
            assert r.status_code in (200, 202), r.text
        deadline = time.monotonic() + 15
        while len(d.state()["signals"]) < 3:
            assert time.monotonic() < deadline, "the spike raised no signal"
            time.sleep(0.1)
        yield d
    finally:
        d.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "browser-ux-daemon.log").write_bytes(Path(d.log).read_bytes())



def test_the_card_says_why_it_fired(browser: Browser, daemon: DaemonProcess):
    with page_errors(browser) as (page, errors):
        page.goto(daemon.url + "/")
        card = page.locator("#signal-list .card").first
        # 500 contracts against a minimum of 120, a 10¢ move against 3¢; the score is
        # 0.75 × 500/10 + 1.25 × 0.10/0.03 = 41.7.
        expect(card.locator(".why-line")).to_have_text(
            "hard: 500 contracts ≥ 120 and 10¢ ≥ 3¢ — score 41.7")
        assert "SPIKE_MIN_VOLUME_DELTA" in card.locator(".why-num").nth(1).get_attribute("title")
        # 12 s of history: no 1, 5 or 30-minute change is claimed.
        expect(card.locator(".ctx")).to_contain_text("1m — · 5m — · 30m — · (history 12 s)")
        # nor an hour's or a day's baseline
        expect(card.locator(".baseline")).to_have_text(
            "avg/event 1 h — · 24 h — (history 12 s)")
        tier = card.locator(".tier")
        assert "score ≥" in tier.get_attribute("title")
        expect(card.locator("a.market-link")).to_have_attribute("href", f"/market/{MARKET}")
        expect(card.locator("a.venue-link")).to_have_attribute(
            "href", "https://kalshi.com/markets/kxuxtest")
        page.locator("#tier-legend summary").click()
        expect(page.locator("#tier-legend")).to_contain_text("high conviction flow")
        ARTIFACTS.mkdir(exist_ok=True)
        card.screenshot(path=str(ARTIFACTS / "card-why.png"))
        assert errors == []


def test_market_page_charts_the_trades_and_the_signal(browser: Browser, daemon: DaemonProcess):
    with page_errors(browser, height=1000, console=True) as (page, errors):
        page.goto(daemon.url + "/")
        page.locator("#signal-list .card a.market-link").first.click()
        expect(page).to_have_url(f"{daemon.url}/market/{MARKET}")
        expect(page.locator("#m-title")).to_have_text("Will the UX test pass?")
        chart = page.locator("#chart")
        expect(chart).to_have_attribute("data-trades-drawn", "13")
        expect(chart).to_have_attribute("data-signals-drawn", "1")
        # Its outcome horizons: +1 and +5 min are past (flat: no trade since), +15 and
        # +60 min not yet.
        expect(chart).to_have_attribute("data-horizons-drawn", "2")
        drawn = page.evaluate("""() => ({
            prices: window.thMarket.plot.data[1].filter(v => v != null),
            volume: window.thMarket.plot.data[4].filter(v => v != null)
                      .reduce((a, b) => a + b, 0),
            trades: window.thMarket.series.trades.map(t => [t.size, t.side, t.price]),
            signals: window.thMarket.series.signals.map(s => [s.tier, s.price]),
        })""")
        assert drawn["prices"][0] == 0.40 and drawn["prices"][-1] == 0.50
        assert drawn["volume"] == 12 * 10 + 500
        assert drawn["trades"][-1] == [500, "yes", 0.5]
        assert [t[1] for t in drawn["trades"][:3]] == ["no", "yes", "yes"]
        assert len(drawn["signals"]) == 1 and drawn["signals"][0][1] == 0.5
        # The hover read-out names the spike's trade.
        box = chart.locator(".u-over").bounding_box()  # the plotting area
        assert box is not None
        at = page.evaluate(f"window.thMarket.plot.valToPos({T0 + 12}, 'x')")
        page.mouse.move(box["x"] + at, box["y"] + box["height"] / 2)
        expect(page.locator("#readout")).to_contain_text(re.compile(r"(trade|biggest): 500 @ 50¢ taker yes"))
        expect(page.locator("#readout")).to_contain_text("then +1m flat ±0¢, +5m flat ±0¢")
        expect(page.locator("#m-signals .card .why-line")).to_have_text(
            "hard: 500 contracts ≥ 120 and 10¢ ≥ 3¢ — score 41.7")
        expect(page.locator("#m-flow")).to_contain_text("13 trades · 620 contracts")
        page.locator("#ranges button[data-range='15m']").click()
        expect(page.locator("#ranges button[data-range='15m']")).to_have_attribute(
            "aria-pressed", "true")
        expect(chart).to_have_attribute("data-trades-drawn", "13")
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / "market-page.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        assert errors == []


def test_history_filters_pages_and_exports(browser: Browser, daemon: DaemonProcess):
    with page_errors(browser) as (page, errors):
        page.goto(daemon.url + "/history?limit=2")
        cards = page.locator("#h-list .card")
        expect(cards).to_have_count(2)
        expect(page.locator("#h-count")).to_have_text("2 of 3")
        expect(cards.first.locator("a.market")).to_have_text(MARKET)  # newest first
        page.locator("#h-more").click()  # the next page, by the API's cursor
        expect(cards).to_have_count(3)
        expect(page.locator("#h-more")).to_be_hidden()
        assert cards.nth(2).locator("a.market").text_content() == "KXUXSPORT-A"
        topic = page.locator("select[name=topic]")
        expect(topic.locator("option[value=sports]")).to_have_text("sports (2)")
        topic.select_option("sports")
        expect(cards).to_have_count(2)
        expect(page).to_have_url(f"{daemon.url}/history?topic=sports")
        expect(page.locator("#h-count")).to_have_text("2 of 2")
        expect(page.locator("select[name=topic] option[value=crypto]")).to_have_text(
            "crypto (1)")
        href = page.locator("#x-csv").get_attribute("href")
        assert href == "/api/signals.csv?topic=sports"
        rows = list(csv.DictReader(io.StringIO(daemon.http.get(href).text)))
        assert sorted(r["market_id"] for r in rows) == ["KXUXSPORT-A", "KXUXSPORT-B"]
        page.locator("select[name=sort]").select_option("oldest")
        expect(cards.first.locator("a.market")).to_have_text("KXUXSPORT-A")
        assert errors == []


def test_history_outcome_filter(browser: Browser, daemon: DaemonProcess):
    # The sports spikes are graded by the daemon's grader (nothing traded after them: flat
    # at +5 m); the newest one's +5 m is still ahead of the stored data: pending.
    deadline = time.monotonic() + 30
    while daemon.http.get("/api/history").json()["counts"]["outcome"].get("flat") != 2:
        assert time.monotonic() < deadline, "the grader graded nothing"
        time.sleep(0.2)
    with page_errors(browser) as (page, errors):
        page.goto(daemon.url + "/history")
        cards = page.locator("#h-list .card")
        expect(cards).to_have_count(3)
        outcome = page.locator("select[name=outcome]")
        expect(outcome.locator("option[value=flat]")).to_have_text("flat (2)")
        expect(outcome.locator("option[value=pending]")).to_have_text("pending (1)")
        expect(cards.nth(2).locator(".outcomes")).to_contain_text("+5m = flat ±0¢")
        outcome.select_option("pending")
        expect(cards).to_have_count(1)
        expect(cards.first.locator("a.market")).to_have_text(MARKET)
        expect(page).to_have_url(f"{daemon.url}/history?outcome=pending")
        page.locator("select[name=horizon]").select_option("60m")  # nothing has an hour yet
        expect(page).to_have_url(f"{daemon.url}/history?outcome=pending&horizon=60m")
        expect(cards).to_have_count(3)
        expect(page.locator("#h-count")).to_have_text("3 of 3")
        href = page.locator("#x-csv").get_attribute("href")
        assert href == "/api/signals.csv?outcome=pending&horizon=60m"
        rows = list(csv.DictReader(io.StringIO(daemon.http.get(href).text)))
        assert {r["outcome_60m"] for r in rows} == {"pending"}
        assert sorted(r["outcome_5m"] for r in rows) == ["flat", "flat", "pending"]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "history-outcome.png"), full_page=True)
        assert errors == []


def test_pills_go_stale_when_the_daemon_stops(browser: Browser, tmp_path: Path):
    d = DaemonProcess(tmp_path / "home", ENABLE_SIMULATION="false")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(d.url + "/")
        pills = page.locator("#pills .pill")
        expect(pills.first).to_have_text("INGEST-ONLY")
        # A toast belongs to its action: a later action clears it.
        page.locator("#ticker-form button[type=submit]").click()
        expect(page.locator("#toast")).to_have_class("toast show bad")
        page.get_by_role("button", name="Crypto").click()
        expect(page.locator("#toast")).to_have_class("toast")
        count = pills.count()
        d.stop()
        expect(page.locator("#pills .pill.stale")).to_have_count(count, timeout=15_000)
        for text in pills.all_text_contents():
            assert re.search(r" · stale since \d\d:\d\d:\d\d$", text), text
        expect(page.locator("#banner")).to_contain_text("Cannot refresh")
    finally:
        context.close()
        d.stop()


BACKLOG = """# Tuning backlog

## TB-001 — SPIKE_SCORE_THRESHOLD 3 → 3.5

- **Status:** suggested
- **Date:** 2026-12-01
- **Knob:** SPIKE_SCORE_THRESHOLD
- **Change:** 3 → 3.5
- **Evidence:** replay: 12 of 40 noise signals gone, 1 of 25 real ones lost
- **Why:** outlier noise on thin markets

## TB-002 — SPIKE_MIN_PRICE_MOVE 0.03 → 0.04

- **Status:** suggested
- **Date:** 2026-12-01
- **Knob:** SPIKE_MIN_PRICE_MOVE
- **Change:** 0.03 → 0.04
- **Evidence:** replay: 5 of 40 noise signals gone, 0 real ones lost
"""


def test_tuning_panel_applies_and_rejects_after_a_confirmation(browser: Browser,
                                                               tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    backlog = home / "TUNING-BACKLOG.md"
    backlog.write_text(BACKLOG)
    d = DaemonProcess(home, ENABLE_SIMULATION="false", TUNING_BACKLOG_PATH=str(backlog))
    context = browser.new_context()
    asked: list[str] = []
    try:
        page = context.new_page()
        answer = {"accept": False}

        def on_dialog(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept() if answer["accept"] else dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(d.url + "/")
        apply = page.get_by_role("button", name="Apply TB-001")
        apply.click()  # dismissed: nothing changes
        assert "SPIKE_SCORE_THRESHOLD 3 → 3.5" in asked[0]
        assert "Replay evidence: replay: 12 of 40 noise signals gone" in asked[0]
        assert d.http.get("/api/tuning").json()["thresholds"]["SPIKE_SCORE_THRESHOLD"] == 3.0
        answer["accept"] = True
        apply.click()
        expect(page.locator("#toast")).to_contain_text("Applied TB-001")
        assert d.http.get("/api/tuning").json()["thresholds"]["SPIKE_SCORE_THRESHOLD"] == 3.5
        expect(page.locator("#tuning li[data-id='TB-001'] .badge")).to_have_text("applied")
        page.get_by_role("button", name="Reject TB-002").click()
        expect(page.locator("#tuning li[data-id='TB-002'] .badge")).to_have_text("rejected")
        assert "- **Status:** rejected" in backlog.read_text().split("## TB-002")[1]
        assert d.http.get("/api/tuning").json()["thresholds"]["SPIKE_MIN_PRICE_MOVE"] == 0.03
        expect(page.get_by_role("button", name="Apply TB-002")).to_have_count(0)
    finally:
        context.close()
        d.stop()


def test_a_paired_market_shows_the_other_venue_on_its_chart(browser: Browser,
                                                              daemon: DaemonProcess):
    twin = {"source": "uxtest", "platform": "polymarket", "market_id": "ux-test-passes",
            "title": "UX test passes?", "event_kind": "quote", "volume_kind": "delta"}
    for i, price in enumerate((0.35, 0.38)):
        r = daemon.post("/api/events", {**twin, "yes_price": price, "volume": 0,
                                            "timestamp": T0 + 2 + i})
        assert r.status_code in (200, 202), r.text
    r = daemon.post("/api/pairs", {"a": MARKET, "b": "ux-test-passes:yes"})
    assert r.status_code == 200, r.text
    with page_errors(browser, height=1000) as (page, errors):
        deadline = time.monotonic() + 15
        while True:  # the twin's quotes are committed a moment after they were accepted
            page.goto(f"{daemon.url}/market/{MARKET}")
            expect(page.locator("#chart")).to_have_attribute("data-trades-drawn", "13")
            drawn = page.evaluate("""() => ({
                label: window.thMarket.plot.series[5].label,
                prices: window.thMarket.plot.data[5].filter(v => v != null)})""")
            if drawn["prices"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert drawn["label"] == "polymarket ux-test-passes"
        assert drawn["prices"][-1] == 0.38  # the twin's last price (1 s apart: one bucket)
        assert errors == []


def test_market_page_resolution_and_snooze(browser: Browser, daemon: DaemonProcess):
    """Last in the module: it snoozes the market's event in the shared daemon."""
    with page_errors(browser, height=1000) as (page, errors):
        page.goto(f"{daemon.url}/market/{MARKET}")
        # Relayed events carry no close time and nobody has settled it: not guessed.
        expect(page.locator("#m-resolution")).to_have_text(
            "open or closed: not known (no close time from the feed yet)")
        scope = page.locator("#m-snooze-scope")
        expect(scope.locator("option")).to_have_text(
            [f"market {MARKET}", "event KXUXTEST-26DEC06", "series KXUXTEST"])
        scope.select_option("KXUXTEST-26DEC06")
        page.locator("#m-snooze-for").select_option("1h")
        page.locator("#m-snooze").click()
        expect(page.locator("#toast")).to_contain_text("Snoozed KXUXTEST-26DEC06 until")
        expect(page.locator("#m-snoozed")).to_contain_text("snoozed (KXUXTEST-26DEC06) until")
        listed = daemon.http.get("/api/silences").json()
        snoozes = [s for s in listed["silences"] if s["kind"] == "snooze"]
        assert [s["target"] for s in snoozes] == ["KXUXTEST-26DEC06"]
        assert 3500 < snoozes[0]["ends_at"] - snoozes[0]["created_at"] <= 3600
        # What the settlement polling stores when the venue answers: shown as settled.
        db = sqlite3.connect(daemon.log.parent / "trade-hunter.db", timeout=10)
        with db:
            db.execute("INSERT OR REPLACE INTO settlements (market_id, result, checked_at)"
                       " VALUES (?, 'yes', ?)", (MARKET, time.time()))
        db.close()
        page.reload()
        expect(page.locator("#m-resolution")).to_have_text("settled YES")
        expect(page.locator("#m-snoozed")).to_contain_text("snoozed (KXUXTEST-26DEC06) until")
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".m-head").screenshot(path=str(ARTIFACTS / "market-head.png"))
        assert errors == []
