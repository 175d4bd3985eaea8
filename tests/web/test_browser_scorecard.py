"""The Scorecard panel, its status pill and the cards' outcome lines in headless Debian
chromium, against the real ``trade-hunter`` console script over a graded stored history
(tests/outcome_history.py). The screenshot goes to ``test-artifacts/scorecard.png``."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from trade_hunter.daemon.store import Store

from ..outcome_history import many_markets
from .browser_kit import ARTIFACTS, DaemonProcess, launch  # skips without chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    home = tmp_path_factory.mktemp("scorecard") / "home"
    store = Store(home / "trade-hunter.db")
    store.open()
    many_markets(store, 9)
    store.close()
    d = DaemonProcess(home, ENABLE_SIMULATION="false")
    try:
        # The grader runs right after start-up: wait (bounded) until it has committed all 9.
        deadline = time.monotonic() + 60
        while (d.http.get("/api/scorecard").json().get("open") != 0
               or d.http.get("/api/scorecard").json().get("signals") != 9):
            assert time.monotonic() < deadline, "the stored signals were not graded"
            time.sleep(0.2)
        yield d
    finally:
        d.stop()


def test_scorecard_panel_pill_and_card_outcomes(graded: DaemonProcess):
    with launch() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.goto(graded.url + "/")
        expect(page.get_by_role("heading", name="Scorecard")).to_be_visible()
        rows = page.locator("#scorecard table.scorecard tbody tr")
        expect(rows).to_have_count(4)  # the three tiers and all
        groups = rows.evaluate_all("els => els.map(e => e.dataset.group)")
        assert groups == ["high conviction flow", "notable", "watch", "all"]
        total = rows.nth(3).inner_text()
        assert re.search(r"all\s+9/9\s+56%", total), total  # 5 of 9 continued at +5m
        assert page.locator("#scorecard .liftbar .point").count() == 4
        assert page.locator("#scorecard .liftbar .ci").count() >= 1  # n ≥ 2: an interval
        expect(page.locator("#scorecard-waiting")).to_contain_text(
            "0 signals still waiting for their horizons")
        pill = page.locator("#pills .pill", has_text="lift")
        expect(pill).to_have_text(re.compile(
            r"^5 m lift [+−±]\d+\.\d pts \[[+−±]\d+\.\d, [+−±]\d+\.\d\], 9 graded$"))
        # Another horizon: +60m, where the even markets are up 7¢ and the odd down 7¢.
        page.select_option("#scorecard-horizon", "60m")
        expect(rows.nth(3)).to_contain_text("56%")
        # Each card carries its outcomes.
        expect(page.locator("#signal-list .card .outcome").first).to_be_visible()
        lines = page.locator("#signal-list .card .outcomes").all_inner_texts()
        assert any("+1m ▲ continued +2¢" in t and "+60m ▲ continued +7¢" in t for t in lines)
        assert any("+5m ▼ reversed −4¢" in t for t in lines)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "scorecard.png"), full_page=True)
        text = page.locator("body").inner_text()
        assert not re.search(r"\b(undefined|NaN|null|\[object Object\])\b", text)
        assert errors == []
