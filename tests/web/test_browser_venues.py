"""Two venues on the dashboard, in headless Debian chromium against the real ``trade-hunter``
console script with the Polymarket feed live against the local fake Polymarket (run in a
thread of this process): the tracked panel's venue selector, each tracked identifier's
venue, and the category search's hits from every venue with theirs. A screenshot of the
panels goes to ``test-artifacts/venues.png``."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from .browser_kit import ARTIFACTS, DaemonProcess  # skips without chromium

pytestmark = pytest.mark.browser

from playwright.sync_api import Browser, Page, expect

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "polymarket"))
from th_polymarket_fake import FakePolymarket
from th_polymarket_fake.helpers import fed_book


class FakeInThread:
    """The trio fake Polymarket served from its own thread for the daemon subprocess."""

    def __init__(self) -> None:
        ready: queue.Queue[Any] = queue.Queue()
        self._ready = ready
        self.thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)
        self.thread.start()
        self.fake, self.token, self._stop = ready.get(timeout=30)

    async def _main(self) -> None:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            fake = await FakePolymarket().start(nursery)
            fed_book(fake)
            fake.events["fed-decision-in-december"].volume = 5000.0
            fake.events["bitcoin-100k-2026"].volume = 900.0
            self._ready.put((fake, trio.lowlevel.current_trio_token(), stop))
            await stop.wait()
            nursery.cancel_scope.cancel()

    def close(self) -> None:
        trio.from_thread.run_sync(self._stop.set, trio_token=self.token)
        self.thread.join(10)


@pytest.fixture(scope="module")
def venues(tmp_path_factory: pytest.TempPathFactory, browser: Browser
           ) -> Iterator[tuple[Page, Any, Any]]:
    poly = FakeInThread()
    d = DaemonProcess(tmp_path_factory.mktemp("venues") / "home", ENABLE_POLYMARKET="true",
                      **poly.fake.env())
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(d.url + "/")
        yield page, d, (poly.fake, poly.token)
        assert errors == []
    finally:
        d.stop()
        poly.close()


def test_the_venue_selector_adds_to_the_chosen_feed(venues):
    page, d, _ = venues
    select = page.locator("#ticker-feed")
    # the running feed first; an idle one is listed (its identifiers are kept for later)
    expect(select.locator("option")).to_have_text(["Polymarket", "Kalshi (not running)"])
    expect(select).to_have_value("polymarket")
    expect(page.locator("#ticker-input")).to_have_attribute(
        "placeholder", "a Polymarket event or market slug (or condition id), e.g. "
                       "fed-decision-in-december")
    page.locator("#ticker-input").fill("https://polymarket.com/event/fed-decision-in-december")
    page.locator("#ticker-input").press("Enter")
    row = page.locator("#ticker-list li", has_text="fed-decision-in-december")
    expect(row.locator(".venue")).to_have_text("Polymarket")
    expect(row.locator(".badge")).to_have_text("active", timeout=15_000)
    expect(row).to_contain_text("event: 2 open market(s)")
    select.select_option("kalshi")
    expect(page.locator("#ticker-input")).to_have_attribute(
        "placeholder", "a Kalshi series, event or market ticker, e.g. KXBTC15M")
    page.locator("#ticker-input").fill("kxbtc15m")
    page.locator("#ticker-input").press("Enter")
    kalshi_row = page.locator("#ticker-list li", has_text="KXBTC15M")
    expect(kalshi_row.locator(".venue")).to_have_text("Kalshi")
    expect(kalshi_row.locator(".badge")).to_have_text("pending")
    expect(page.locator("#tickers-note")).to_contain_text("The Kalshi feed is not running")
    expect(select).to_have_value("kalshi")  # the choice survives the refreshes
    tracked = {f: [t["ticker"] for t in d.http.get(f"/api/feeds/{f}/tracked").json()["tickers"]]
               for f in ("polymarket", "kalshi")}
    assert tracked == {"polymarket": ["fed-decision-in-december"], "kalshi": ["KXBTC15M"]}


def test_category_search_shows_each_hit_with_its_venue(venues):
    page, _, (fake, token) = venues
    page.locator("#category-input").fill("Crypto")
    page.locator("#category-input").press("Enter")
    hit = page.locator("#category-results li", has_text="bitcoin-100k-2026")
    expect(hit.locator(".venue")).to_have_text("Polymarket")
    expect(hit).to_contain_text("Bitcoin above $100k?")
    expect(hit).to_contain_text("vol 900")
    status = page.locator("#category-status")
    expect(status).to_contain_text("1 result for “Crypto”")
    expect(status).to_contain_text("Kalshi: Kalshi is unavailable")  # its REST is unreachable
    hit.get_by_role("button", name="Track bitcoin-100k-2026").click()
    row = page.locator("#ticker-list li", has_text="bitcoin-100k-2026")
    expect(row.locator(".venue")).to_have_text("Polymarket")
    expect(row.locator(".badge")).to_have_text("active", timeout=15_000)
    want = fake.markets["bitcoin-above-100k-on-dec-31"].yes_token
    subscribed = trio.from_thread.run(fake.wait_for, lambda: want in fake.subscribed(),
                                      trio_token=token)
    assert subscribed
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".p-tickers").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "venues.png"), full_page=True)
