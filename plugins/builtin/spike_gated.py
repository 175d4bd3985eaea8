"""The ``gated`` profile of the spike detector (the default; docs/detector.md): the classic
rules, then noise gates, escalation instead of silence, and trade-flow evidence.

Every gate was measured on recorded Kalshi trades with ``trade-hunter backtest`` (the table is
in docs/SIGNAL-QUALITY.md); the defaults are the round values that held in both halves of the
development month.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from typing import Any

import msgspec

from trade_hunter.plugins.models import MarketEvent, SpikeSignal

from .spike import OUTLIER_FACTOR, SpikeDetector, SpikeState

GATED_DEFAULTS: dict[str, Any] = {
    "SPIKE_WARMUP_POINTS": 10,
    "SPIKE_PRICE_BAND": 0.10,
    "SPIKE_CLOSE_GUARD_SECONDS": 900.0,
    "SPIKE_ESCALATE_FACTOR": 2.0,
    "SPIKE_VOLUME_ONLY": "quiet",
    "SPIKE_FLOW_ONE_SIDED": 1.01,
    "SPIKE_FLOW_CHURN": 0.0,
}
FLAT_BAND = 0.005          # a move within half a cent is no move (as the outcomes' flat band)
FLOW_TRADES = 20           # trades in the flow share
CLUSTER_TRADES = 10        # trades in the large-trade cluster test
SIZE_WINDOW = 50           # trades in the size distribution
LARGE_QUANTILE = 0.8       # "large": at or above the market's 80th percentile trade size
_SIZE = struct.Struct("<f")
_TAIL = tuple(round(sum(math.comb(CLUSTER_TRADES, i) * (1 - LARGE_QUANTILE) ** i
                         * LARGE_QUANTILE ** (CLUSTER_TRADES - i)
                         for i in range(k, CLUSTER_TRADES + 1)), 4)
              for k in range(CLUSTER_TRADES + 1))
"""P(at least k of CLUSTER_TRADES trades are large), k = 0 … CLUSTER_TRADES."""
TIER_RANK = {"watch": 0, "notable": 1, "high conviction flow": 2}
TIERS_BY_RANK = ("watch", "notable", "high conviction flow")


class GatedState(SpikeState, kw_only=True):
    flow: bytearray = msgspec.field(default_factory=bytearray)
    """Signed sizes of the market's last trades (+ a YES taker, − a NO taker), float32."""
    closes_at: float | None = None
    signal_score: float = 0.0
    signal_tier: str = ""
    signal_from: float | None = None
    """The price before the current signal (escalations report the move since)."""
    escalations: int = 0
    quiet_at: float | None = None
    """The last volume-only signal: those have their own cooldown, so a quiet one never
    holds back (or is escalated into) an alert about a price move."""


def flow_share(flow: bytearray, direction: str, trades: int = FLOW_TRADES) -> float | None:
    """Share of the last ``trades`` trades' taker volume on the move's side."""
    if direction not in ("up", "down") or not flow:
        return None
    yes = no = 0.0
    for (s,) in _SIZE.iter_unpack(flow[-trades * _SIZE.size:]):
        if s > 0:
            yes += s
        else:
            no -= s
    total = yes + no
    if not total:
        return None
    return round((yes if direction == "up" else no) / total, 4)


def cluster_p(flow: bytearray) -> float | None:
    """How unlikely the recent run of large trades is: P(at least k of the last
    CLUSTER_TRADES trades are large) if each were large with its usual 1 − LARGE_QUANTILE
    chance (binomial tail). Small values mean a cluster of large trades."""
    sizes = sorted(abs(s) for (s,) in _SIZE.iter_unpack(flow))
    if len(sizes) < 2 * CLUSTER_TRADES:
        return None
    cut = sizes[int(LARGE_QUANTILE * (len(sizes) - 1))]
    k = sum(1 for (s,) in _SIZE.iter_unpack(flow[-CLUSTER_TRADES * _SIZE.size:]) if abs(s) >= cut)
    return _TAIL[k]


class GatedDetector(SpikeDetector):
    state_type = GatedState

    def __init__(self, thresholds: Mapping[str, Any] | None = None) -> None:
        super().__init__(thresholds)
        g = dict(GATED_DEFAULTS)
        g.update({k: v for k, v in (thresholds or {}).items() if k in GATED_DEFAULTS})
        self.thresholds.update(g)
        self.thresholds["SPIKE_PROFILE"] = "gated"
        self.warmup = int(g["SPIKE_WARMUP_POINTS"])
        self.band = float(g["SPIKE_PRICE_BAND"])
        self.guard = float(g["SPIKE_CLOSE_GUARD_SECONDS"])
        self.escalate = float(g["SPIKE_ESCALATE_FACTOR"])
        self.volume_only = str(g["SPIKE_VOLUME_ONLY"])
        self.one_sided = float(g["SPIKE_FLOW_ONE_SIDED"])
        self.churn = float(g["SPIKE_FLOW_CHURN"])

    def with_thresholds(self, **overrides: Any) -> GatedDetector:
        return GatedDetector({**self.thresholds, **overrides})

    def describe(self) -> str:
        flow = ("off" if self.one_sided > 1 and self.churn <= 0
                else f"one-sided ≥ {self.one_sided:g}, churn ≤ {self.churn:g}")
        return (super().describe().replace("classic:", "gated:", 1)
                + f"; warm-up {self.warmup} points; band {self.band:g}–{1 - self.band:g}; "
                f"close guard {self.guard:g} s; escalate ×{self.escalate:g}; volume-only "
                f"{self.volume_only}; flow tiers {flow}")

    def new_state(self, market_id: str = "") -> GatedState:
        return GatedState()

    def process(self, event: MarketEvent, state: SpikeState) -> SpikeSignal | None:
        if event.closes_at is not None:
            state.closes_at = event.closes_at  # type: ignore[attr-defined]
        ts, price = event.timestamp, event.yes_price
        vd = self.volume_delta(event, state)
        if event.volume_kind == "cumulative":
            vd = round(vd, 6)  # a difference of readings: no float noise (…000000021)
        signal = None
        if vd > 0:
            window = state.window
            base = max(sum(window) / len(window), 1.0) if window else max(self.min_volume / 2, 1.0)
            if vd >= self.min_volume or vd >= OUTLIER_FACTOR * base:  # else neither rule holds
                last_at = state.last_signal_at
                signal = self._candidate(event, state, vd, base,  # type: ignore[arg-type]
                                         escalation=last_at is not None
                                         and ts - last_at < self.cooldown)
            window.append(vd)
            if len(window) > self.points:
                del window[: len(window) - self.points]
        if price is not None:
            state.last_price = price
        self._remember(event, state, vd)
        if event.event_kind == "trade" and event.trade_side and event.trade_size:
            size = event.trade_size if event.trade_side == "yes" else -event.trade_size
            flow = state.flow  # type: ignore[attr-defined]
            flow += _SIZE.pack(size)
            if len(flow) > SIZE_WINDOW * _SIZE.size:
                del flow[: _SIZE.size]
        return signal

    # ------------------------------------------------------------------ the gates
    def outside_band(self, before: float | None, after: float | None) -> bool:
        """Both prices on the same side outside [band, 1 − band]: a tick there means little."""
        low, high = self.band, 1 - self.band
        if before is None:
            before = after
        elif after is None:
            after = before
        if before is None or after is None:
            return False
        return (before < low and after < low) or (before > high and after > high)

    def _candidate(self, event: MarketEvent, state: GatedState, vd: float, base: float, *,
                   escalation: bool) -> SpikeSignal | None:
        price, last = event.yes_price, state.last_price
        move = round(abs(price - last), 6) if price is not None and last is not None else 0.0
        multiple = vd / max(base, 1.0)
        price_score = move / max(self.min_move, 0.01)
        score = multiple * 0.75 + price_score * 1.25
        warm = len(state.window) >= self.warmup
        if vd >= self.min_volume and move >= self.min_move and (warm or move >= 2 * self.min_move):
            rule = "hard"
        elif warm and vd >= OUTLIER_FACTOR * base and score >= self.threshold:
            rule = "outlier"
        else:
            return None
        if self.outside_band(last, price):
            return None
        closes_at, ts = state.closes_at, event.timestamp
        if closes_at is not None and closes_at - ts < self.guard:
            return None
        volume_only = move <= FLAT_BAND
        if escalation and not volume_only and score < self.escalate * state.signal_score:
            # Only a higher tier can still escalate it: cheap to rule out before the flow.
            best = TIER_RANK[self.tier(score, move, multiple)] + (self.one_sided <= 1.0)
            if best <= TIER_RANK.get(state.signal_tier, 0):
                return None
        if volume_only:
            quiet_at = state.quiet_at
            if self.volume_only == "off" or (quiet_at is not None
                                             and ts - quiet_at < self.cooldown):
                return None
            state.quiet_at = ts
        direction = "flat" if volume_only or price is None or last is None else (
            "up" if price > last else "down")
        share = flow_share(state.flow, direction)
        tier = "watch" if volume_only else self._tier(score, move, multiple, share)
        if volume_only:
            pass  # its own cooldown (quiet_at); the move signal's state is left alone
        elif escalation:
            if not (score >= self.escalate * state.signal_score
                    or TIER_RANK[tier] > TIER_RANK.get(state.signal_tier, 0)):
                return None
            state.escalations += 1
            state.signal_score, state.signal_tier = score, tier
        else:
            state.last_signal_at, state.escalations, state.signal_from = ts, 0, last
            state.signal_score, state.signal_tier = score, tier
        signal = self._signal(event, state, rule, vd, base, multiple, move, price_score, score,
                              last)
        signal.tier = tier  # type: ignore[assignment]
        signal.notify = not volume_only or self.volume_only == "notify"
        ctx = signal.context
        ctx.flow_share, ctx.large_trade_cluster_p = share, cluster_p(state.flow)
        ctx.seconds_to_close = None if closes_at is None else round(closes_at - ts, 3)
        ctx.baseline_points = len(state.window)
        if escalation and not volume_only:
            signal.escalation = state.escalations
            signal.escalates = state.last_signal_at
            if price is not None and state.signal_from is not None:
                signal.move_since_signal = round(price - state.signal_from, 6)
        return signal

    def _tier(self, score: float, move: float, multiple: float, share: float | None) -> str:
        rank = TIER_RANK[self.tier(score, move, multiple)]
        if share is not None:
            if share >= self.one_sided and rank < 2:
                rank += 1  # one-sided taker flow: what an informed move looks like
            elif share <= self.churn and rank > 0:
                rank -= 1  # two-sided churn
        return TIERS_BY_RANK[rank]
