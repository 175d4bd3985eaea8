"""Incidents in headless Debian chromium against the real ``trade-hunter`` console script
(ingest-only): the dashboard shows an incident's signals as one card listing its markets,
expandable to the signals; History groups by incident with a toggle. Screenshots go to
``test-artifacts/``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser


from playwright.sync_api import Browser, expect

from .browser_kit import ARTIFACTS, DaemonProcess, page_errors  # skips without chromium

EVENT = "KXHIGHUX-26DEC06"
MARKETS = [f"{EVENT}-B40", f"{EVENT}-B41", f"{EVENT}-B42"]


def spike(market: str, platform: str = "kalshi") -> list[dict[str, Any]]:
    """Ten 10-contract trades at 40¢, then 500 contracts at 50¢: one signal."""
    t0 = time.time() - 120
    base = {"source": "uxinc", "platform": platform, "market_id": market, "topic": "macro",
            "title": f"Will {market} be hot?", "event_kind": "trade", "volume_kind": "delta",
            "trade_side": "yes"}
    return [{**base, "yes_price": 0.40, "volume": 10, "trade_size": 10, "timestamp": t0 + i}
            for i in range(10)] + [{**base, "yes_price": 0.50, "volume": 500,
                                    "trade_size": 500, "timestamp": t0 + 10}]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    d = DaemonProcess(tmp_path_factory.mktemp("inc") / "home", ENABLE_SIMULATION="false")
    try:
        for market in MARKETS:
            for e in spike(market):
                assert d.post("/api/events", e).status_code in (200, 202)
        for e in spike("UX-PLAIN", platform="test"):
            assert d.post("/api/events", e).status_code in (200, 202)
        deadline = time.monotonic() + 15
        while len(d.state()["signals"]) < 4:
            assert time.monotonic() < deadline, "the spikes raised no signals"
            time.sleep(0.1)
        yield d
    finally:
        d.stop()



def test_the_dashboard_shows_an_incident_as_one_card(browser: Browser, daemon: DaemonProcess):
    with page_errors(browser) as (page, errors):
        page.goto(daemon.url + "/")
        incident = page.locator("#signal-list > .incident-card")
        expect(incident).to_have_count(1)
        expect(incident.locator("> .card-top .title")).to_contain_text(f"· {EVENT}")
        expect(incident.locator("> .card-top .inc-count")).to_have_text("3 signals on 3 markets")
        expect(incident.locator(".inc-markets a.market")).to_have_text(list(reversed(MARKETS)))
        expect(incident.locator(".inc-markets li").first).to_contain_text("50¢ +10¢ · score")
        # the other signal stays a card of its own; the members are folded away
        expect(page.locator("#signal-list > .card")).to_have_count(1)
        members = incident.locator(".inc-members > .card")
        expect(members).to_have_count(3)
        expect(members.first).to_be_hidden()
        incident.locator("> details > summary").click()
        expect(members.first).to_be_visible()
        expect(members.first.locator(".why-line")).to_contain_text("hard: 500 contracts")
        # still expanded after the next refreshes (patched in place, never rebuilt)
        with page.expect_response(lambda r: "/api/state" in r.url):
            pass  # the next refresh
        page.wait_for_load_state("networkidle")
        expect(incident.locator("> details")).to_have_attribute("open", "")
        expect(members.first).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#signal-list").screenshot(path=str(ARTIFACTS / "incident-card.png"))
        assert errors == []


def test_history_groups_by_incident(browser: Browser, daemon: DaemonProcess):
    with page_errors(browser) as (page, errors):
        page.goto(daemon.url + "/history")
        expect(page.locator("#h-list > .card")).to_have_count(4)
        page.get_by_label("Group by incident").check()
        expect(page).to_have_url(f"{daemon.url}/history?group=incident")
        incident = page.locator("#h-list > .incident-card")
        expect(incident).to_have_count(1)
        expect(incident.locator("> .card-top .inc-count")).to_have_text("3 signals on 3 markets")
        expect(page.locator("#h-list > .card")).to_have_count(1)
        expect(page.locator("#h-count")).to_have_text("4 of 4")
        assert page.locator("#x-csv").get_attribute("href") == "/api/signals.csv"
        incident.locator("> details > summary").click()
        expect(incident.locator(".inc-members > .card")).to_have_count(3)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "history-incidents.png"), full_page=True)
        page.reload()  # the toggle lives in the URL
        expect(page.get_by_label("Group by incident")).to_be_checked()
        assert errors == []
