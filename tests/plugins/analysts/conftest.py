"""Fixtures for the analyst tests: the fake Anthropic and Perplexity servers (real HTTP on
127.0.0.1, port 0) and signals made by the real spike detector."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trade_hunter.plugins.builtin.spike import SpikeDetector
from trade_hunter.plugins.models import MarketEvent, SpikeSignal

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from fake_analysts import FakeAnthropic, FakePerplexity


@pytest.fixture
async def fake_anthropic(nursery: trio.Nursery) -> FakeAnthropic:
    return await nursery.start(FakeAnthropic().serve)


@pytest.fixture
async def fake_perplexity(nursery: trio.Nursery) -> FakePerplexity:
    return await nursery.start(FakePerplexity().serve)


@pytest.fixture
def jump_clock() -> trio.testing.MockClock:
    """Trio's autojump clock, jumping after 0.1 s of real idleness rather than at once: the
    anthropic SDK hops to a worker thread and the fakes answer over real sockets, and the
    clock must not jump past a deadline while they do."""
    return trio.testing.MockClock(autojump_threshold=0.1)


def spike_signal(*, market: str = "KXTEST-1", quiet_price: float = 0.40,
                 spike_price: float = 0.47, spike_volume: float = 600.0,
                 quiet_volume: float = 20.0, side: str = "yes", bid_ask: tuple[float, float]
                 | None = None, t0: float = 1_800_000_000.0, **overrides: Any) -> SpikeSignal:
    """A signal from the real detector: ten quiet trades, then one big trade."""
    detector = SpikeDetector(overrides or None)
    state = detector.new_state(market)
    for i in range(10):
        detector.process(MarketEvent(
            platform="kalshi", market_id=market, title="Will the Fed cut rates in December?",
            yes_price=quiet_price, volume=quiet_volume, event_kind="trade",
            trade_side=side, timestamp=t0 + i * 10, source="test"), state)
    extra = {"yes_bid": bid_ask[0], "yes_ask": bid_ask[1]} if bid_ask else {}
    signal = detector.process(MarketEvent(
        platform="kalshi", market_id=market, title="Will the Fed cut rates in December?",
        yes_price=spike_price, volume=spike_volume, event_kind="trade", trade_side=side,
        trade_size=spike_volume, timestamp=t0 + 120, source="test", **extra), state)
    assert signal is not None
    signal.id = 7
    return signal


@pytest.fixture
def make_signal() -> Callable[..., SpikeSignal]:
    return spike_signal
