"""The dashboard in headless Debian chromium (Playwright), against the real ``trade-hunter``
console script in simulation mode. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from playwright.sync_api import Browser, Page, expect

from trade_hunter.plugins.builtin.simulated import MARKETS

from .browser_kit import ARTIFACTS, DaemonProcess, Watched

pytestmark = pytest.mark.browser
TOKEN = "browser-test-token"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    d = DaemonProcess(tmp_path_factory.mktemp("browser") / "home")
    try:
        yield d
    finally:
        d.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(d.log, ARTIFACTS / "browser-daemon.log")


@pytest.fixture
def watched(browser: Browser, daemon: DaemonProcess) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    w = Watched(page, daemon.url)
    page.goto(daemon.url + "/")
    yield w
    context.close()


def spikes(daemon: DaemonProcess, n: int) -> list[int]:
    """``n`` demo spikes, on simulated markets first: their baselines differ, so do the
    scores. A market still cooling down from an earlier spike answers 422 and is skipped."""
    ids: list[int] = []
    candidates = [m for m, _, _ in MARKETS if m not in _used] + \
        [f"DEMO-BROWSER-{time.time_ns()}-{i}" for i in range(n)]
    for market in candidates:
        _used.add(market)
        response = daemon.post("/api/demo/spike", {"market_id": market})
        if response.status_code == 422:
            continue
        assert response.status_code == 200, response.text
        ids += response.json()["signals"]
        if len(ids) >= n:
            break
    return ids


_used: set[str] = set()


def card_scores(page: Page) -> list[float]:
    return [float(s) for s in page.locator("#signal-list .card").evaluate_all(
        "els => els.map(e => e.dataset.score)")]


def wait_refresh(page: Page) -> None:
    before = page.locator("#updated").text_content()
    expect(page.locator("#updated")).not_to_have_text(before or "", timeout=8000)


# --------------------------------------------------------------------------- tests
def test_page_loads_clean_and_fills_every_panel(watched: Watched, daemon: DaemonProcess):
    page = watched.page
    for heading in ("Recent Signals", "Tuning Advisor", "Live Trade Flow", "Market Tape",
                    "Tracked Markets", "Category Search"):
        expect(page.get_by_role("heading", name=re.compile(heading))).to_be_visible()
    expect(page.locator("#pills .pill").nth(5)).to_be_visible(timeout=10_000)
    pills = page.locator("#pills").inner_text()
    assert "SIMULATION" in pills and "simulated: connected" in pills and "last event" in pills
    expect(page.locator("#flow-list tr").first).to_be_visible()
    expect(page.locator("#tape-list tr").first).to_be_visible()
    # A market with a few prices already draws its sparkline (inline SVG).
    page.wait_for_function("""() => Array.from(document.querySelectorAll(
        '#flow-list .spark polyline')).some(p => p.getAttribute('points').split(' ').length > 2)""")
    assert page.locator("#flow-list .kind").first.inner_text() in ("T", "Q")
    # The advisor's suggestions, or an empty state that says why there are none.
    expect(page.locator("#tuning .empty, #tuning .suggestions, #tuning .patterns").first
           ).not_to_be_empty()
    wait_refresh(page)
    spikes(daemon, 1)
    expect(page.locator("#signal-list .card .read").first).not_to_be_empty()
    wait_refresh(page)
    text = page.locator("body").inner_text()
    assert not re.search(r"\b(undefined|NaN|null|\[object Object\])\b", text), text
    assert watched.errors == [] and watched.foreign == []


def test_signals_appear_and_resort_by_score(watched: Watched, daemon: DaemonProcess):
    page = watched.page
    spikes(daemon, 3)
    expect(page.locator("#signal-list .card").nth(2)).to_be_visible()
    card = page.locator("#signal-list .card").first
    expect(card.locator(".tier")).to_have_text(re.compile("watch|notable|high conviction"))
    expect(card.locator(".read")).not_to_be_empty()
    page.select_option("#sort", "score")
    scores = card_scores(page)
    assert len(scores) >= 3 and scores == sorted(scores, reverse=True)
    assert len(set(scores)) > 1
    page.select_option("#sort", "newest")
    ids = [int(k) for k in page.locator("#signal-list .card").evaluate_all(
        "els => els.map(e => e.dataset.key)")]
    assert ids == sorted(ids, reverse=True)
    assert watched.errors == []


def test_topic_and_tier_filters(watched: Watched, daemon: DaemonProcess):
    page = watched.page
    spikes(daemon, 2)  # demo spikes keep the topic of the simulated market they hit
    expect(page.locator("#signal-list .card").nth(1)).to_be_visible()
    topic = page.locator("#signal-list .card").first.get_attribute("data-topic")
    page.select_option("#topic", topic)
    # expect() polls: the list re-renders asynchronously (and on every 3 s refresh)
    expect(page.locator(f'#signal-list .card[data-topic="{topic}"]').first).to_be_visible()
    expect(page.locator(f'#signal-list .card:not([data-topic="{topic}"])')).to_have_count(0)
    page.select_option("#topic", "geopolitics")  # possibly none: then the empty state says so
    shown = page.locator("#signal-list .card").evaluate_all("els => els.map(e => e.dataset.topic)")
    assert set(shown) <= {"geopolitics"}
    if not shown:
        expect(page.locator("#signals-empty")).to_contain_text("hidden by the filters")
    page.select_option("#topic", "")
    tier = page.locator("#signal-list .card").first.get_attribute("data-tier")
    page.select_option("#tier", tier)
    expect(page.locator(f'#signal-list .card[data-tier="{tier}"]').first).to_be_visible()
    expect(page.locator(f'#signal-list .card:not([data-tier="{tier}"])')).to_have_count(0)
    page.select_option("#tier", "")


def test_vendor_alerts_have_a_badge_and_a_source_filter(watched: Watched,
                                                       daemon: DaemonProcess):
    page = watched.page
    spikes(daemon, 1)  # one of ours, to be filtered out
    fixture = Path(__file__).parent / "fixtures" / "polyalerthub" / "whale_trade.json"
    answer = daemon.post("/api/alerts/polyalerthub", json.loads(fixture.read_text()))
    assert answer.status_code == 200, answer.text
    vendor = page.locator('#signal-list .card.is-vendor[data-source="polyalerthub"]').first
    expect(vendor).to_be_visible()
    expect(vendor.locator(".vendor")).to_have_text("vendor · polyalerthub")
    expect(vendor.locator(".volume")).to_contain_text("whale_trade · by 0x7c3a91d2")
    expect(page.locator("#signal-list .card:not(.is-vendor) .vendor").first).to_be_hidden()
    expect(page.locator('#source option[value="polyalerthub"]')).to_have_count(1)
    page.select_option("#source", "polyalerthub")
    expect(page.locator('#signal-list .card:not([data-source="polyalerthub"])')
           ).to_have_count(0)
    page.select_option("#source", "")
    expect(page.locator("#signal-list .card:not(.is-vendor)").first).to_be_visible()
    assert watched.errors == []


def test_refresh_keeps_scroll_sort_filters_and_focus(watched: Watched, daemon: DaemonProcess):
    page = watched.page
    spikes(daemon, 10)
    expect(page.locator("#signal-list .card").nth(9)).to_be_visible()
    page.select_option("#sort", "score")
    listing = page.locator("#signal-list")
    listing.evaluate("el => { el.scrollTop = 150; }")
    # The card at the top of the visible part of the list, and where it is on screen.
    anchor = page.evaluate_handle("""() => {
        const list = document.getElementById("signal-list");
        const top = list.getBoundingClientRect().top;
        return Array.from(list.children).find(c => c.getBoundingClientRect().top >= top);
    }""")
    before = anchor.evaluate("el => el.getBoundingClientRect().top")
    page.locator("#ticker-input").fill("KXPART")
    page.locator("#ticker-input").focus()
    wait_refresh(page)
    wait_refresh(page)
    assert page.evaluate("document.activeElement.id") == "ticker-input"
    assert page.locator("#ticker-input").input_value() == "KXPART"
    assert page.locator("#sort").input_value() == "score"
    assert listing.evaluate("el => el.scrollTop") >= 150  # not thrown back to the top
    # Patched in place, not re-created, and still where the reader left it (new cards
    # inserted above are absorbed by the browser's scroll anchoring).
    assert anchor.evaluate("el => el.isConnected")
    assert abs(anchor.evaluate("el => el.getBoundingClientRect().top") - before) <= 2
    page.locator("#ticker-input").fill("")
    page.select_option("#sort", "newest")


def test_add_and_remove_a_ticker(watched: Watched, daemon: DaemonProcess):
    page = watched.page
    page.locator("#ticker-input").fill("kxbtc15m")
    page.locator("#ticker-input").press("Enter")
    row = page.locator("#ticker-list li", has_text="KXBTC15M")
    expect(row).to_be_visible()
    expect(row.locator(".badge")).to_have_text("pending")
    expect(page.locator("#ticker-input")).to_have_value("")
    expect(page.locator("#tickers-note")).to_contain_text("Kalshi feed is not running")
    assert [t["ticker"] for t in daemon.http.get("/api/kalshi/markets").json()["tickers"]] \
        == ["KXBTC15M"]
    page.get_by_role("button", name="Remove KXBTC15M").click()
    expect(row).to_have_count(0)
    expect(page.locator("#tickers-empty")).to_be_visible()
    assert daemon.http.get("/api/kalshi/markets").json()["tickers"] == []
    page.locator("#ticker-input").fill("not a ticker")
    page.locator("#ticker-input").press("Enter")
    expect(page.locator("#toast")).to_contain_text("not a ticker")


def test_demo_spike_button_adds_a_card(watched: Watched, daemon: DaemonProcess):
    page = watched.page
    expect(page.locator("#pills .pill").first).to_be_visible()
    before = page.locator("#signal-list .card.demo").count()
    page.get_by_role("button", name="Demo spike").click()
    expect(page.locator("#toast")).to_contain_text("Demo spike injected")
    expect(page.locator("#signal-list .card.demo")).to_have_count(before + 1)
    page.select_option("#sort", "newest")
    expect(page.locator("#signal-list .card").first).to_contain_text("Demo spike")


def test_keyboard_reaches_the_controls(watched: Watched, daemon: DaemonProcess):
    page = watched.page
    expect(page.locator("#pills .pill").first).to_be_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    focused = []
    for _ in range(8):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id"))
    assert {"demo-spike", "sort", "topic", "tier"} <= set(focused)
    page.locator("#demo-spike").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#toast")).to_contain_text("Demo spike injected")


def test_category_search_explains_an_unreachable_exchange(watched: Watched,
                                                          daemon: DaemonProcess):
    page = watched.page
    page.get_by_role("button", name="Crypto").click()
    expect(page.locator("#category-status")).to_contain_text("Kalshi is unavailable")


def test_foreign_pages_cannot_drive_the_dashboard(browser: Browser, daemon: DaemonProcess,
                                                  tmp_path: Path):
    target = daemon.url
    (tmp_path / "evil.html").write_text(f"""<!doctype html><body>
<form id=f method=post enctype=text/plain action="{target}/api/kalshi/markets">
<input name='{{"ticker":"EVILFORM","x":"' value='"}}'></form>
<script>
fetch("{target}/api/kalshi/markets", {{method: "POST", mode: "no-cors",
  headers: {{"Content-Type": "text/plain"}}, body: '{{"ticker":"EVILFETCH"}}'}})
  .finally(() => document.getElementById("f").submit());
</script></body>""")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(
        *a, directory=str(tmp_path), **k)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        with page.expect_navigation(url=re.compile(r"/api/kalshi/markets")) as nav:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/evil.html")
        assert nav.value.status == 403  # the cross-site form post was refused
        # DNS rebinding: the attacker's name now points at loopback.
        rebound = page.goto(f"http://evil.test:{daemon.port}/api/state")
        assert rebound is not None and rebound.status == 403
        assert "forbidden host" in rebound.text()
    finally:
        context.close()
        server.shutdown()
    tickers = [t["ticker"] for t in daemon.http.get("/api/kalshi/markets").json()["tickers"]]
    assert not {"EVILFORM", "EVILFETCH"} & set(tickers)


def test_screenshots_at_desktop_and_narrow_widths(browser: Browser, daemon: DaemonProcess):
    ARTIFACTS.mkdir(exist_ok=True)
    spikes(daemon, 2)
    for name, width, height in (("1280x800", 1280, 800), ("narrow-420", 420, 900)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(daemon.url + "/")
        expect(page.locator("#signal-list .card").first).to_be_visible(timeout=15_000)
        expect(page.locator("#tape-list tr").first).to_be_visible()
        wait_refresh(page)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"horizontal overflow of {overflow}px at {name}"
        path = ARTIFACTS / f"dashboard-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        context.close()


def test_login_flow_with_a_dashboard_token(browser: Browser, tmp_path: Path):
    d = DaemonProcess(tmp_path / "home", DASHBOARD_TOKEN=TOKEN)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(d.url + "/")
        expect(page).to_have_url(d.url + "/login")
        page.locator("#token").fill("wrong")
        page.locator("#token").press("Enter")
        expect(page.locator("#login-error")).to_have_text("wrong token")
        page.locator("#token").fill(TOKEN)
        page.locator("#token").press("Enter")
        expect(page).to_have_url(d.url + "/")
        expect(page.locator("#flow-list tr").first).to_be_visible()
        expect(page.locator("#logout")).to_be_visible()
        cookies = context.cookies()
        assert cookies and all(TOKEN not in c["value"] for c in cookies)
        page.locator("#logout").click()
        expect(page).to_have_url(d.url + "/login")
    finally:
        context.close()
        d.stop()


def test_empty_panels_say_why(browser: Browser, tmp_path: Path):
    d = DaemonProcess(tmp_path / "home", ENABLE_SIMULATION="false")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(d.url + "/")
        expect(page.locator("#pills")).to_contain_text("INGEST-ONLY")
        expect(page.locator("#pills")).to_contain_text("no feed")
        expect(page.locator("#signals-empty")).to_contain_text("No signals yet")
        expect(page.locator("#flow-empty")).to_contain_text("ingest-only mode runs no feed")
        expect(page.locator("#tape-empty")).to_contain_text("POST /api/events")
        expect(page.locator("#tickers-empty")).to_be_visible()
    finally:
        context.close()
        d.stop()


class FakeKalshiRest(http.server.BaseHTTPRequestHandler):
    """The three public REST reads category search makes, in Kalshi's wire format."""

    seen: ClassVar[list[str]] = []
    BODIES: ClassVar[dict[str, Any]] = {
        "/trade-api/v2/search/tags_by_categories": {
            "tags_by_categories": {"Crypto": ["BTC", "ETH"], "Sports": ["NFL"]}},
        "/trade-api/v2/series": {"series": [
            {"ticker": "KXBTC15M", "category": "Crypto", "title": "Bitcoin 15 min"}],
            "cursor": ""},
        "/trade-api/v2/events": {"events": [{
            "event_ticker": "KXBTC15M-26NOV270515", "series_ticker": "KXBTC15M",
            "title": "Bitcoin price up in the next 15 minutes?",
            "markets": [{"ticker": "KXBTC15M-26NOV270515-15", "status": "active",
                         "yes_sub_title": "Up", "last_price_dollars": "0.5600",
                         "yes_bid_dollars": "0.5500", "yes_ask_dollars": "0.5700",
                         "volume_fp": "1834.00", "volume_24h_fp": "900.00"}]}],
            "cursor": ""},
    }

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.seen.append(self.path)
        body = self.BODIES.get(path)
        data = json.dumps(body if body is not None else {"error": "not found"}).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_category_search_finds_markets_and_tracks_one_with_a_click(browser: Browser,
                                                                   tmp_path: Path):
    pytest.importorskip("trade_hunter.plugins.builtin.kalshi", reason="the Kalshi plugin is not installed")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeKalshiRest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"http://127.0.0.1:{server.server_address[1]}/trade-api/v2"
    d = DaemonProcess(tmp_path / "home", DISABLED_PLUGINS="", KALSHI_API_BASE=api)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(d.url + "/")
        page.get_by_role("button", name="Crypto").click()
        result = page.locator("#category-results li", has_text="KXBTC15M-26NOV270515-15")
        expect(result).to_contain_text("Bitcoin price up in the next 15 minutes? — Up")
        expect(result).to_contain_text("56¢")
        expect(page.locator("#category-status")).to_contain_text("1 result for “Crypto”")
        result.get_by_role("button", name="Track KXBTC15M-26NOV270515-15").click()
        expect(page.locator("#ticker-list li", has_text="KXBTC15M-26NOV270515-15")).to_be_visible()
        result.get_by_role("button", name="Track KXBTC15M", exact=True).click()
        expect(page.locator("#ticker-list li .tk", has_text=re.compile(r"^KXBTC15M$"))).to_be_visible()
        tracked = {t["ticker"] for t in d.http.get("/api/kalshi/markets").json()["tickers"]}
        assert tracked == {"KXBTC15M-26NOV270515-15", "KXBTC15M"}
        page.locator("#category-input").fill("Cooking")
        page.locator("#category-input").press("Enter")
        expect(page.locator("#category-status")).to_contain_text("try one of: Crypto, Sports")
    finally:
        context.close()
        d.stop()
        server.shutdown()
    assert FakeKalshiRest.seen and all(p.startswith("/trade-api/v2/") for p in FakeKalshiRest.seen)
