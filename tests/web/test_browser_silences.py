"""The alert workflow in headless chromium against the real daemon: the Silences panel (a
refused matcher, add, expire, delete), the snooze button and "Mark read" on a signal card."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from .browser_kit import DaemonProcess, Watched  # skips without chromium
from .test_browser import daemon as dashboard_daemon
from .test_browser import watched as dashboard_watched

pytestmark = pytest.mark.browser
# The dashboard tests' fixtures: one daemon per module, a page per test.
daemon, watched = dashboard_daemon, dashboard_watched


def test_silences_panel_refuses_adds_expires_and_deletes(watched: Watched,
                                                         daemon: DaemonProcess):
    page = watched.page
    form = page.locator("#silence-form")
    form.locator("[name=matchers]").fill("colour=red topic=crypto")
    form.get_by_role("button", name="Silence").click()
    expect(page.locator("#silence-note")).to_contain_text("'colour=red': unknown name")
    assert daemon.http.get("/api/silences").json()["silences"] == []  # never stored

    form.locator("[name=matchers]").fill("topic=crypto market=KX*")
    form.locator("[name=duration]").select_option("8h")
    form.locator("[name=comment]").fill("quiet night")
    form.get_by_role("button", name="Silence").click()
    item = page.locator("#silence-list .silence")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("topic=crypto market=KX*")
    expect(item).to_contain_text("quiet night")
    expect(page.locator("#silences-summary")).to_contain_text("muted by 0 silences today")
    [stored] = daemon.http.get("/api/silences").json()["silences"]
    assert stored["ends_at"] - stored["created_at"] == 8 * 3600

    item.get_by_role("button", name="Expire").click()
    expect(item).to_contain_text("expired")
    expect(item.get_by_role("button", name="Expire")).to_be_hidden()
    assert daemon.http.get("/api/silences").json()["silences"][0]["state"] == "expired"
    item.get_by_role("button", name="Delete").click()
    expect(page.locator("#silence-list .silence")).to_have_count(0)
    assert daemon.http.get("/api/silences").json()["silences"] == []
    # No notifier runs here: the test button says so (503) instead of pretending.
    page.get_by_role("button", name="Test notifications").click()
    expect(page.locator("#silence-note")).to_contain_text("no notifier is configured")
    # The refused matcher's 422 and the 503 are the failed requests the browser logs.
    assert [e for e in watched.errors if not re.search("status of (422|503)", e)] == []


def test_snooze_button_mutes_the_event_and_mark_read(watched: Watched,
                                                     daemon: DaemonProcess):
    page = watched.page
    event = f"DEMO-SNZ-{time.time_ns()}"
    first = daemon.post("/api/demo/spike", {"market_id": f"{event}-A"}).json()["signals"][0]
    card = page.locator(f"#signal-list .card[data-key='{first}']")
    expect(card).to_have_class(re.compile(r"\bunread\b"))
    card.locator("summary").click()
    card.locator(".snooze-scope").select_option(event)
    card.locator(".snooze-duration").select_option("1h")
    card.get_by_role("button", name="Snooze", exact=True).click()
    expect(page.locator("#silence-note")).to_contain_text(f"Snoozed {event} until")
    expect(card.locator(".muted-label")).to_contain_text("snoozed until")

    # Another market of the same event: still detected and shown, muted; not delivered.
    second = daemon.post("/api/demo/spike", {"market_id": f"{event}-B"}).json()["signals"][0]
    other = page.locator(f"#signal-list .card[data-key='{second}']")
    expect(other.locator(".muted-label")).to_contain_text("snoozed until")
    snoozes = [s for s in daemon.http.get("/api/silences").json()["silences"]
               if s["kind"] == "snooze"]
    assert [s["target"] for s in snoozes] == [event]

    # The pill follows the daemon's count (it refreshes on its own beat): wait until it shows
    # the second signal too, then mark the first one read.
    unread = daemon.http.get("/api/alert-state").json()["unread"]
    expect(page.locator("#alert-pills [data-key=unread]")).to_have_text(f"{unread} unread")
    card.get_by_role("button", name="Mark read").click()
    expect(card).not_to_have_class(re.compile(r"\bunread\b"))
    expect(page.locator("#alert-pills [data-key=unread]")).to_have_text(f"{unread - 1} unread")
    assert first in daemon.http.get("/api/alert-state").json()["acked"]
    assert watched.errors == []


FAKE_NOTIFICATION = """
window.__notes = []; window.__asked = 0;
class FakeNotification {
  constructor(title, options) { window.__notes.push({ title, ...options }); }
}
FakeNotification.permission = "default";
FakeNotification.requestPermission = async () => {
  window.__asked += 1; FakeNotification.permission = "granted"; return "granted";
};
window.Notification = FakeNotification;
"""


def test_browser_notifications_ask_only_when_turned_on(browser, daemon: DaemonProcess):
    # The browser's Notification API is replaced by a recorder (headless chromium shows none).
    context = browser.new_context()
    context.add_init_script(FAKE_NOTIFICATION)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(daemon.url + "/")
    expect(page.locator("#alert-pills [data-key=unread]")).to_be_visible()
    assert page.evaluate("() => window.__asked") == 0  # never asked before the reader opts in
    page.locator("#browser-tier").select_option("watch")
    page.locator("#browser-notify").check()
    page.wait_for_function("() => window.__asked === 1")
    expect(page.locator("#browser-notify")).to_be_checked()

    stamp = time.time_ns()
    daemon.post("/api/snoozes", {"target": f"DEMO-QUIET-{stamp}", "duration": "1h"})
    daemon.post("/api/demo/spike", {"market_id": f"DEMO-QUIET-{stamp}-A"})
    loud = daemon.post("/api/demo/spike", {"market_id": f"DEMO-LOUD-{stamp}-A"}).json()
    page.wait_for_function("() => window.__notes.length >= 1")
    notes = page.evaluate("() => window.__notes")
    assert [n["tag"] for n in notes] == [f"th-signal-{loud['signals'][0]}"]
    assert "informational only" in notes[0]["body"]
    context.close()
