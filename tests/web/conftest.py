"""Web test helpers: a real daemon plus quart-trio's test client on the same app."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trio

from trade_hunter.daemon.app import Daemon
from trade_hunter.plugins.models import MarketEvent
from trade_hunter.web.app import create_app


def spike_events(market: str, *, topic: str = "crypto", size: float = 500.0,
                 base: float = 10.0, title: str = "") -> list[MarketEvent]:
    """Five ordinary trades, then one big trade with a price jump: one signal."""
    t0 = time.time() - 60
    title = title or f"Will {market} happen?"
    kw: dict[str, Any] = {"platform": "test", "market_id": market, "title": title,
                          "topic": topic, "event_kind": "trade", "trade_side": "yes",
                          "source": "test"}
    events = [MarketEvent(yes_price=0.40, volume=base, timestamp=t0 + i, **kw)
              for i in range(5)]
    events.append(MarketEvent(yes_price=0.50, volume=size, timestamp=t0 + 10, **kw))
    return events


async def wait_signals(d: Daemon, n: int, timeout: float = 5.0) -> None:
    with trio.fail_after(timeout):
        while len(d.live.signals) < n:
            await trio.sleep(0.01)


Make = Callable[..., Awaitable[tuple[Daemon, Any]]]


@pytest.fixture
async def web(start_daemon: Any) -> Make:
    """``d, client = await web(ENV=...)``: a running daemon and a test client of its app."""
    async def make(**env: str) -> tuple[Daemon, Any]:
        d = await start_daemon(**env)
        return d, create_app(d.web_parts()).test_client()
    return make


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Debian chromium per browser-test module (``browser_kit.launch``)."""
    from .browser_kit import launch  # imported here: it skips when chromium is missing

    with launch() as b:
        yield b
