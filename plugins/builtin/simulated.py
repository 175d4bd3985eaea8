"""The simulated feed (the default mode): synthetic markets with realistic flow and
occasional genuine spikes, deterministic under ``SIMULATION_SEED``."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import trio

from trade_hunter.plugins import ComponentRegistry, hookimpl
from trade_hunter.plugins.models import MarketEvent

MARKETS: tuple[tuple[str, str, str], ...] = (
    # (market id, title, topic)
    ("SIM-BTC-100K-DEC", "Will Bitcoin close above $100,000 on Dec 31?", "crypto"),
    ("SIM-BTC-15M-UP", "Bitcoin price up in the next 15 minutes?", "crypto"),
    ("SIM-ETH-4K-DEC", "Will Ethereum trade above $4,000 by year end?", "crypto"),
    ("SIM-SOL-250", "Will Solana reach $250 this month?", "crypto"),
    ("SIM-XRP-ETF", "Will a spot XRP ETF be approved by March?", "crypto"),
    ("SIM-DOGE-1", "Will Dogecoin hit $1 in 2027?", "crypto"),
    ("SIM-STABLE-ACT", "Will the stablecoin bill pass the Senate this session?", "crypto"),
    ("SIM-PRES-2028-DEM", "Will the Democratic nominee win the 2028 presidential election?", "elections"),
    ("SIM-SEN-PA", "Will Republicans win the Pennsylvania Senate race?", "elections"),
    ("SIM-GOV-CA", "Will the incumbent party hold the California governorship?", "elections"),
    ("SIM-NYC-MAYOR", "Will the Working Families candidate win the NYC mayoral primary?", "elections"),
    ("SIM-UK-ELECTION", "Will a UK general election be called before July?", "elections"),
    ("SIM-HOUSE-CONTROL", "Will Democrats win control of the House?", "elections"),
    ("SIM-TURNOUT-60", "Will national turnout exceed 60%?", "elections"),
    ("SIM-FED-CUT-DEC", "Will the Fed cut rates at the December FOMC meeting?", "macro"),
    ("SIM-CPI-3", "Will November CPI come in above 3.0% year over year?", "macro"),
    ("SIM-GDP-Q4", "Will Q4 GDP growth exceed 2%?", "macro"),
    ("SIM-UNEMP-45", "Will the unemployment rate reach 4.5% by March?", "macro"),
    ("SIM-RECESSION-27", "Will the US enter a recession in 2027?", "macro"),
    ("SIM-SPX-7000", "Will the S&P 500 close above 7,000 this year?", "macro"),
    ("SIM-OIL-90", "Will WTI oil trade above $90 in January?", "macro"),
    ("SIM-NFL-SB-KC", "Will Kansas City win the Super Bowl?", "sports"),
    ("SIM-NBA-BOS-LAL", "Celtics vs Lakers: will Boston win tonight?", "sports"),
    ("SIM-MLB-WS-LAD", "Will the Dodgers win the World Series?", "sports"),
    ("SIM-UCL-RMA", "Will Real Madrid win the Champions League?", "sports"),
    ("SIM-F1-VER", "Will Verstappen win the next Grand Prix?", "sports"),
    ("SIM-NHL-EDM", "Will Edmonton make the Stanley Cup final?", "sports"),
    ("SIM-TENNIS-AO", "Will the top seed win the Australian Open?", "sports"),
    ("SIM-UKR-CEASEFIRE", "Will Russia and Ukraine sign a ceasefire by June?", "geopolitics"),
    ("SIM-TAIWAN-DRILL", "Will China hold military drills around Taiwan this month?", "geopolitics"),
    ("SIM-IRAN-DEAL", "Will Iran and the US announce a nuclear deal this year?", "geopolitics"),
    ("SIM-NATO-SUMMIT", "Will NATO members agree a 3% spending target at the summit?", "geopolitics"),
    ("SIM-GAZA-TRUCE", "Will the Gaza truce hold through the end of the month?", "geopolitics"),
    ("SIM-SANCTIONS-EU", "Will the EU adopt a new sanctions package by Friday?", "geopolitics"),
    ("SIM-TARIFF-CN", "Will new tariffs on Chinese imports take effect this quarter?", "macro"),
    ("SIM-ELECTION-DE", "Will the CDU lead the next German government?", "elections"),
)

TICK_SECONDS = 0.1
HISTORY_TRADES = 12          # ordinary trades per market replayed at start (see history())
HISTORY_SECONDS = 300.0
FIRST_SPIKE_AFTER = 8.0      # seconds: the first signals appear well within a minute
SPIKE_EVERY = (15.0, 45.0)   # then a genuine spike every so often


@dataclass
class SimMarket:
    market_id: str
    title: str
    topic: str
    price: float
    volume: float
    typical: float  # typical trade size


class SimulatedFeed:
    def __init__(self, seed: str = "", health: Any = None, *,
                 tick: float = TICK_SECONDS, store: Any = None) -> None:
        self.rng = random.Random(seed or None)
        self.health = health
        self.tick = tick
        self.store = store
        """Where the previous run's prices are read from (``StoreReader.last_prices``)."""
        rng = self.rng
        self.markets = [SimMarket(m, t, topic, round(rng.uniform(0.08, 0.92), 2),
                                  float(rng.randint(2_000, 90_000)), float(rng.randint(5, 40)))
                        for m, t, topic in MARKETS]

    def _event(self, m: SimMarket, **kw: Any) -> MarketEvent:
        now = time.time()
        return MarketEvent(platform="simulated", market_id=m.market_id, title=m.title,
                           topic=m.topic, source="simulated", timestamp=now, received_at=now,
                           **kw)

    def step(self) -> list[MarketEvent]:
        """One tick of ordinary flow: a quote or a small trade on a random market."""
        rng = self.rng
        m = rng.choice(self.markets)
        if rng.random() < 0.55:
            # Log-normal sizes: ordinary flow varies, but rarely looks like a 4x outlier,
            # so the simulated dashboard is not drowned in false alarms.
            size = max(1.0, round(m.typical * rng.lognormvariate(0, 0.45)))
            drift = rng.choice((-0.01, 0.0, 0.0, 0.0, 0.01))
            m.price = min(0.99, max(0.01, round(m.price + drift, 2)))
            side = "yes" if drift > 0 or (drift == 0 and rng.random() < 0.5) else "no"
            m.volume += size
            return [self._event(m, event_kind="trade", yes_price=m.price, volume=size,
                                volume_kind="delta", trade_side=side, trade_size=size)]
        half = rng.choice((0.01, 0.01, 0.02))
        return [self._event(m, event_kind="quote", yes_price=m.price, volume=m.volume,
                            volume_kind="cumulative", yes_bid=max(0.0, round(m.price - half, 2)),
                            yes_ask=min(1.0, round(m.price + half, 2)))]

    def history(self) -> list[MarketEvent]:
        """A few minutes of ordinary trades per market, timestamped in the past: a real feed
        joins markets with a history, and the gated detector needs a warm baseline
        (SPIKE_WARMUP_POINTS) before its outlier rule fires."""
        now, rng = time.time(), self.rng
        events = []
        for m in self.markets:
            for _ in range(HISTORY_TRADES):
                # steadier than live flow: a history must not itself look like a spike
                size = max(1.0, round(m.typical * rng.lognormvariate(0, 0.15)))
                m.volume += size
                e = self._event(m, event_kind="trade", yes_price=m.price, volume=size,
                                volume_kind="delta", trade_size=size,
                                trade_side=rng.choice(("yes", "no")))
                e.timestamp = now - rng.uniform(0, HISTORY_SECONDS)
                events.append(e)
        events.sort(key=lambda e: e.timestamp)
        return events

    def spike(self, market_id: str | None = None) -> list[MarketEvent]:
        """A genuine burst: a few large same-side trades moving the price several cents."""
        rng = self.rng
        m = next((x for x in self.markets if x.market_id == market_id), None) or \
            rng.choice(self.markets)
        up = m.price < 0.5 if rng.random() < 0.7 else m.price >= 0.5
        events = []
        for _ in range(rng.randint(2, 4)):
            size = float(rng.randint(150, 900))
            move = rng.choice((0.02, 0.03, 0.04, 0.05))
            m.price = min(0.99, max(0.01, round(m.price + (move if up else -move), 2)))
            m.volume += size
            events.append(self._event(m, event_kind="trade", yes_price=m.price, volume=size,
                                      volume_kind="delta", trade_side="yes" if up else "no",
                                      trade_size=size))
        return events

    def resume(self, last: dict[str, tuple[float, float | None]]) -> int:
        """Continue from the stored prices and volumes: fresh random ones would look like
        jumps against the detector's restored baselines (a burst of fake signals)."""
        resumed = 0
        for m in self.markets:
            if m.market_id in last:
                price, volume = last[m.market_id]
                m.price = min(0.99, max(0.01, round(price, 2)))
                m.volume = volume if volume is not None else m.volume
                resumed += 1
        return resumed

    async def run(self, send_channel: trio.MemorySendChannel[Any], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        if self.store is not None:
            self.resume(await trio.to_thread.run_sync(
                self.store.last_prices, [m.market_id for m in self.markets]))
        if self.health is not None:
            self.health.set("connected", f"{len(self.markets)} synthetic markets")
        task_status.started()
        await send_channel.send(self.history())
        next_spike = trio.current_time() + FIRST_SPIKE_AFTER
        while True:
            await send_channel.send(self.step())
            if self.health is not None:
                self.health.count("events")
            if trio.current_time() >= next_spike:
                burst = self.spike()
                await send_channel.send(burst)
                if self.health is not None:
                    self.health.count("spikes")
                next_spike = trio.current_time() + self.rng.uniform(*SPIKE_EVERY)
            await trio.sleep(self.tick)


@hookimpl
def th_register_feeds(registry: ComponentRegistry) -> None:
    registry.add("simulated",
                 lambda ctx: SimulatedFeed(ctx.settings.SIMULATION_SEED, ctx.health,
                                           store=ctx.store),
                 enabled=lambda settings: settings.active_mode == "simulation",
                 description="synthetic markets with occasional genuine spikes")
