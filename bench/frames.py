"""Synthetic Kalshi WebSocket traffic in the *current* wire format, for the benchmarks.

Frames are the text a WebSocket hands to the feed: ``ticker`` frames (subscription ``sid`` 1,
no ``seq``, like the real captures) and ``trade`` frames (``sid`` 2 with a running ``seq``),
carrying only the fixed-point fields (``*_dollars``, ``*_fp``) plus the integer and time
fields production still sends (see docs/kalshi-protocol.md). Each market follows its
own price walk in cents; ``volume_fp`` on tickers is the running total of that market's
trades, so the detector sees the same market through both channels, as in production. About
one trade in ``SPIKE_EVERY`` is a block print with a price jump, so signals do fire.

Everything is deterministic for a seed, so every figure in one run sees the same frames.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from trade_hunter.plugins.models import MarketEvent

TICKER_SID, TRADE_SID = 1, 2
SPIKE_EVERY = 4000
SIZES = (1, 2, 3, 5, 10, 10, 15, 20, 25, 30)  # ordinary prints stay under the outlier rule
T0 = 1_775_194_500.0  # 2026-04-03 05:35 UTC, the protocol notes' example time
_PRECISE = re.compile(r'"ts":\d+,"ts_ms":\d+')


def market_ids(markets: int, prefix: str = "KXBENCH") -> list[str]:
    return [f"{prefix}-26APR03-T{i:05d}" for i in range(markets)]


@dataclass
class _Market:
    ticker: str
    cents: int
    uuid: str = ""
    volume: float = 0.0
    open_interest: float = 0.0


@dataclass
class FrameSource:
    """Frames for ``markets`` markets, ``trade_share`` of them trades, at ``rate`` frames per
    second of *event* time from ``start`` (the exchange timestamps they carry)."""

    markets: int = 2000
    seed: int = 7
    trade_share: float = 0.4
    spike_every: int = SPIKE_EVERY
    cycle: bool = False
    """Markets in turn (each once every ``markets`` frames) instead of at random."""
    rate: float = 2000.0
    start: float = T0
    prefix: str = "KXBENCH"
    _rng: random.Random = field(init=False)
    _state: list[_Market] = field(init=False)
    seq: int = field(init=False, default=0)
    """The last trade ``seq`` sent (a second source on the same channel goes on from it)."""
    _n: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._state = [_Market(t, self._rng.randint(8, 92),
                               str(uuid.uuid5(uuid.NAMESPACE_URL, t)))
                       for t in market_ids(self.markets, self.prefix)]

    @property
    def tickers(self) -> list[str]:
        return [m.ticker for m in self._state]

    def history(self, seconds: float, step: float = 5.0) -> Iterator[MarketEvent]:
        """Events as the detector saw them over the ``seconds`` before ``start``: one per
        market every ``step`` seconds, alternately a trade and a quote (for warming detector
        states to their steady-state size before a timed run)."""
        rng = random.Random(self.seed + 1)
        rounds = int(seconds / step)
        for r in range(rounds):
            when = self.start - seconds + r * step
            for i, m in enumerate(self._state):
                ts = when + step * i / self.markets
                price = round(max(2, min(98, m.cents + rng.choice((-1, 0, 1)))) / 100, 2)
                if (r + i) % 2:
                    size = float(rng.choice(SIZES))
                    yield MarketEvent(platform="kalshi", market_id=m.ticker, yes_price=price,
                                      volume=size, volume_kind="delta", event_kind="trade",
                                      trade_side="yes" if r % 3 else "no", trade_size=size,
                                      timestamp=ts, received_at=ts, source="kalshi")
                else:
                    yield MarketEvent(platform="kalshi", market_id=m.ticker, yes_price=price,
                                      yes_bid=price - 0.01, yes_ask=price + 0.01,
                                      volume=m.volume, volume_kind="cumulative",
                                      timestamp=ts, received_at=ts, source="kalshi")

    def frames(self, count: int, *, now: float | None = None) -> list[str]:
        """The next ``count`` frames; ``now`` stamps them all with that time instead."""
        return [self.next(now) for _ in range(count)]

    def __iter__(self) -> Iterator[str]:
        while True:
            yield self.next()

    def next(self, now: float | None = None) -> str:
        """The next frame; ``now`` stamps it with that time to the microsecond (``ts`` as a
        float, no ``ts_ms``: latency runs read the send time back from the event)."""
        rng = self._rng
        when = now if now is not None else self.start + self._n / self.rate
        self._n += 1
        m = self._state[(self._n - 1) % self.markets if self.cycle
                        else rng.randrange(self.markets)]
        if rng.random() < self.trade_share:
            frame = self._trade(m, rng, when)
        else:
            frame = self._ticker(m, rng, when)
        if now is not None:
            frame = _PRECISE.sub(f'"ts":{now:.6f}', frame)
        return frame

    def _trade(self, m: _Market, rng: random.Random, when: float) -> str:
        spike = rng.randrange(self.spike_every) == 0
        if spike:
            m.cents = max(2, min(98, m.cents + rng.choice((-6, 6))))
            count = float(rng.randint(1500, 5000))
        else:
            m.cents = max(2, min(98, m.cents + rng.choice((-1, 0, 0, 0, 1))))
            count = float(rng.choice(SIZES))
        m.volume += count
        m.open_interest += count / 2
        side = "yes" if rng.random() < 0.5 else "no"
        self.seq += 1
        ms = int(when * 1000)
        trade_id = uuid.UUID(int=rng.getrandbits(128))
        return (
            f'{{"type":"trade","sid":{TRADE_SID},"seq":{self.seq},"msg":{{'
            f'"trade_id":"{trade_id}","market_ticker":"{m.ticker}",'
            f'"yes_price_dollars":"{_dollars(m.cents)}",'
            f'"no_price_dollars":"{_dollars(100 - m.cents)}","count_fp":"{count:.2f}",'
            f'"taker_outcome_side":"{side}","taker_book_side":"{"bid" if side == "yes" else "ask"}",'
            f'"taker_side":"{side}","is_block_trade":false,"ts":{ms // 1000},"ts_ms":{ms}}}}}')

    def _ticker(self, m: _Market, rng: random.Random, when: float) -> str:
        bid = max(1, m.cents - rng.randint(1, 3))
        ask = min(99, m.cents + rng.randint(1, 3))
        ms = int(when * 1000)
        stamp = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        return (
            f'{{"type":"ticker","sid":{TICKER_SID},"msg":{{"market_ticker":"{m.ticker}",'
            f'"market_id":"{m.uuid}","price_dollars":"{_dollars(m.cents)}",'
            f'"yes_bid_dollars":"{_dollars(bid)}","yes_ask_dollars":"{_dollars(ask)}",'
            f'"yes_bid_size_fp":"{rng.randint(1, 900):.2f}",'
            f'"yes_ask_size_fp":"{rng.randint(1, 900):.2f}",'
            f'"last_trade_size_fp":"{rng.randint(0, 50):.2f}","volume_fp":"{m.volume:.2f}",'
            f'"open_interest_fp":"{m.open_interest:.2f}",'
            f'"dollar_volume":{int(m.volume * m.cents / 100)},'
            f'"dollar_open_interest":{int(m.open_interest / 2)},"ts":{ms // 1000},'
            f'"ts_ms":{ms},"time":"{stamp}Z"}}}}')


def _dollars(cents: int) -> str:
    return f"{cents / 100:.4f}"
