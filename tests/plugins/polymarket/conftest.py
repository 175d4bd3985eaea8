"""Fixtures for the Polymarket feed tests: the local fake Polymarket (``th_polymarket_fake``)
and a feed builder wired the way the plugin factory wires it (settings → config)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

sys.path.insert(0, str(Path(__file__).parent))  # the fake lives here

from th_polymarket_fake import FakePolymarket

from trade_hunter.daemon.cli import build
from trade_hunter.daemon.supervisor import ComponentHealth
from trade_hunter.plugins.builtin.polymarket.config import load_config
from trade_hunter.plugins.builtin.polymarket.feed import PolymarketFeed


@pytest.fixture
def start_fake(nursery: trio.Nursery) -> Callable[..., Any]:
    async def start(now: Callable[[], float] = time.time) -> FakePolymarket:
        return await FakePolymarket(now=now).start(nursery)
    return start


@pytest.fixture
def make_feed(tmp_path: Path) -> Callable[..., PolymarketFeed]:
    def make(fake: FakePolymarket, book: Any, *, now: Callable[[], float] = time.time,
             gamma_page: int | None = None, **env: str) -> PolymarketFeed:
        settings, _, _ = build({"TRADE_HUNTER_HOME": str(tmp_path),
                                "ENABLE_POLYMARKET": "true", "THIRD_PARTY_PLUGINS": "false",
                                **fake.env(), **env})
        return PolymarketFeed(load_config(settings), ComponentHealth("polymarket", "feed"),
                              book, now=now, gamma_page=gamma_page)
    return make
