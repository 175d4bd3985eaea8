"""The tuning advisor's logic: false-positive patterns, and threshold suggestions backed by a
replay of the stored events.

The daemon (``daemon/tuning_advisor.py``) runs it periodically and on demand, keeps the backlog file
and applies suggestions; everything here is pure and synchronous, so it can be tested on a
hand-built history.

* **Patterns**: analysed signals of the window grouped by tier, topic, market, trigger rule,
  price level and spread; groups that are mostly ``noise`` are reported.
* **Suggestions**: for each knob of the detector (``SPIKE_MIN_VOLUME_DELTA``,
  ``SPIKE_MIN_PRICE_MOVE``, ``SPIKE_SCORE_THRESHOLD``, ``SPIKE_COOLDOWN_SECONDS``), candidate
  values are taken from the noisy signals; each candidate is **replayed**: the detector runs
  again, with the candidate thresholds, over the stored events of every market that fired in
  the window (from a warm-up hour before it). A past signal is *kept* when the replay fires on
  the same event. The best candidate per knob drops the most ``noise`` while keeping at least
  80 % of ``signal``; every number in the evidence comes from the replay.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trade_hunter.outcomes.scorecard import ScoredSignal
from trade_hunter.plugins.models import AnalystRead, MarketEvent, SpikeSignal

from . import tuning_outcomes

Key = tuple[str, float]
LABELS = ("signal", "noise", "uncertain")
MIN_LABELLED = 6          # analysed signals needed before suggesting anything
MIN_NOISE = 2
MIN_NOISE_DROPPED = 2
KEEP_SIGNAL_SHARE = 0.8
MIN_GROUP = 3             # signals in a group before it counts as a pattern
MAX_CANDIDATES = 8
WARMUP_SECONDS = 3600.0   # replay starts this long before the window: baselines fill up
KNOBS = ("SPIKE_MIN_VOLUME_DELTA", "SPIKE_MIN_PRICE_MOVE", "SPIKE_SCORE_THRESHOLD",
         "SPIKE_COOLDOWN_SECONDS")
MINUS = "\u2212"


def key_of(market_id: str, ts: float) -> Key:
    return (market_id, round(ts, 6))


def fmt(value: float) -> str:
    return f"{value:g}"


@dataclass
class Past:
    """A past signal and its analyst label (``None``: no finished read)."""

    signal: SpikeSignal
    label: str | None

    @property
    def key(self) -> Key:
        return key_of(self.signal.market_id, self.signal.created_at)


def past_signals(rows: Iterable[tuple[SpikeSignal, AnalystRead | None]]) -> list[Past]:
    """Signals of the window with their labels; injected demo signals and relayed vendor
    alerts (not the detector's) are left out."""
    out = []
    for signal, read in rows:
        if signal.demo or signal.source == "demo" or signal.vendor is not None:
            continue
        label = read.noise_or_signal if read is not None and read.status == "done" else None
        out.append(Past(signal, label))
    return out


# ---------------------------------------------------------------------- patterns
@dataclass
class Pattern:
    dimension: str
    value: str
    noise: int
    total: int

    @property
    def share(self) -> float:
        return self.noise / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "value": self.value, "noise": self.noise,
                "total": self.total, "share": round(self.share, 3),
                "description": self.text()}

    def text(self) -> str:
        return f"{self.dimension} {self.value}: {self.noise} of {self.total} noise"


def _price_level(price: float | None) -> str:
    if price is None:
        return "unknown"
    return "under 10c" if price < 0.10 else "over 90c" if price > 0.90 else "10-90c"


def _spread_level(spread: float | None) -> str:
    if spread is None:
        return "unknown"
    return "2c or less" if spread <= 0.02 else "2-5c" if spread <= 0.05 else "over 5c"


def dimensions(signal: SpikeSignal) -> dict[str, str]:
    return {"tier": signal.tier, "topic": signal.topic, "market": signal.market_id,
            "rule": signal.rule, "price level": _price_level(signal.yes_price),
            "spread": _spread_level(signal.context.spread)}


def patterns(past: list[Past], *, min_group: int = MIN_GROUP,
             min_share: float = 0.5) -> list[Pattern]:
    """Groups of analysed signals that are mostly noise, noisiest first."""
    counts: dict[tuple[str, str], list[int]] = {}
    for p in past:
        if p.label is None:
            continue
        for dim, value in dimensions(p.signal).items():
            c = counts.setdefault((dim, value), [0, 0])
            c[0] += p.label == "noise"
            c[1] += 1
    found = [Pattern(d, v, n, t) for (d, v), (n, t) in counts.items()
             if t >= min_group and n >= MIN_NOISE and n / t >= min_share]
    return sorted(found, key=lambda p: (-p.share, -p.noise, p.dimension, p.value))


# ---------------------------------------------------------------------- replay
def replay(detector: Any, thresholds: list[dict[str, float]],
           markets: Iterable[tuple[str, list[MarketEvent]]], start: float) -> list[set[Key]]:
    """Run the detector with each set of thresholds over each market's events (in order,
    from fresh state); returns, per set, the events at or after ``start`` that fired."""
    detectors = [detector.with_thresholds(**t) for t in thresholds]
    fired: list[set[Key]] = [set() for _ in thresholds]
    for market, events in markets:
        for det, out in zip(detectors, fired, strict=True):
            state = det.new_state(market)
            for event in events:
                if det.process(event, state) is not None and event.timestamp >= start:
                    out.add(key_of(market, event.timestamp))
    return fired


@dataclass
class Evidence:
    """What a replay says about a change, counted over the past signals of the window that
    the replay at the current thresholds reproduces."""

    alerts_now: int
    alerts_proposed: int
    total: dict[str, int]
    kept: dict[str, int]
    reproduced: int
    past: int
    new: int
    outcomes: dict[str, Any] | None = None
    """How the kept and dropped signals did (tuning_outcomes.split), when outcomes exist."""

    def dropped(self, label: str) -> int:
        return self.total.get(label, 0) - self.kept.get(label, 0)

    def text(self) -> str:
        now, then = self.alerts_now, self.alerts_proposed
        if now:
            change = round((then - now) / now * 100)
            sign = MINUS if change < 0 else "+"
            parts = [f"{sign}{abs(change)} % alerts ({now} → {then})"]
        else:
            parts = [f"alerts {now} → {then}"]
        counts = []
        if self.total.get("noise"):
            counts.append(f"drops {self.dropped('noise')} of {self.total['noise']} noise")
        for label in ("signal", "uncertain"):
            if self.total.get(label):
                counts.append(f"keeps {self.kept.get(label, 0)} of {self.total[label]} {label}")
        if counts:
            parts.append(", ".join(counts))
        tail = f"replay reproduces {self.reproduced} of {self.past} past signals"
        if self.new:
            tail += f" and adds {self.new} new"
        parts.append(tail)
        if self.outcomes:
            parts.append(tuning_outcomes.text(self.outcomes))
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"alerts_now": self.alerts_now, "alerts_proposed": self.alerts_proposed,
                "total": dict(self.total), "kept": dict(self.kept),
                "reproduced": self.reproduced, "past": self.past, "new": self.new,
                **({"outcomes": self.outcomes} if self.outcomes else {})}


def evidence(past: list[Past], base: set[Key], proposed: set[Key]) -> Evidence:
    total: dict[str, int] = {}
    kept: dict[str, int] = {}
    reproduced = 0
    for p in past:
        if p.key not in base:
            continue
        reproduced += 1
        label = p.label or "unlabelled"
        total[label] = total.get(label, 0) + 1
        kept[label] = kept.get(label, 0) + (p.key in proposed)
    return Evidence(len(base), len(proposed), total, kept, reproduced, len(past),
                    len(proposed - base))


def merit(ev: Evidence) -> float | None:
    """How good a change is (higher is better), or ``None`` when it is not worth suggesting:
    it must drop enough noise, keep 80 % of signal, and drop noise more than signal."""
    noise, signal = ev.total.get("noise", 0), ev.total.get("signal", 0)
    nd, sd = ev.dropped("noise"), ev.dropped("signal")
    if nd < MIN_NOISE_DROPPED:
        return None
    if signal and ev.kept.get("signal", 0) < KEEP_SIGNAL_SHARE * signal:
        return None
    if signal and sd / signal >= nd / noise:
        return None
    return nd - 2.0 * sd - 0.25 * ev.dropped("uncertain")


# ---------------------------------------------------------------------- candidates
def _above(value: float, step: float) -> float:
    """The first multiple of ``step`` strictly above ``value``."""
    # Rounded first: 0.03 / 0.01 is 2.9999999999999996 in binary.
    return round((math.floor(round(value / step, 9)) + 1) * step, 6)


def _spread_out(values: list[float]) -> list[float]:
    values = sorted(set(values))
    if len(values) <= MAX_CANDIDATES:
        return values
    last = len(values) - 1
    return [values[round(i * last / (MAX_CANDIDATES - 1))] for i in range(MAX_CANDIDATES)]


def _repeat_gaps(past: list[Past]) -> list[tuple[Past, float]]:
    """Each signal that follows another on its market, with the seconds since that one."""
    last: dict[str, float] = {}
    out = []
    for p in sorted(past, key=lambda p: p.signal.created_at):
        s = p.signal
        if s.market_id in last:
            out.append((p, s.created_at - last[s.market_id]))
        last[s.market_id] = s.created_at
    return out


def candidates(knob: str, current: float, past: list[Past]) -> list[float]:
    """Values above ``current`` worth replaying, from the noisy signals' own numbers."""
    noise = [p.signal for p in past if p.label == "noise"]
    data: list[float]
    extra: list[float]
    if knob == "SPIKE_MIN_VOLUME_DELTA":
        data = [_above(s.volume_delta, 10 if s.volume_delta < 1000 else 100)
                for s in noise if s.rule == "hard"]
        extra = [float(round(current * f)) for f in (1.5, 2, 3)]
    elif knob == "SPIKE_MIN_PRICE_MOVE":
        data = [_above(s.price_move, 0.01) for s in noise if s.rule == "hard"]
        extra = [round(current + d, 2) for d in (0.01, 0.02, 0.04)]
    elif knob == "SPIKE_SCORE_THRESHOLD":
        data = [_above(s.score, 0.5) for s in noise if s.rule == "outlier"]
        extra = [current + d for d in (0.5, 1.0, 2.0)]
    elif knob == "SPIKE_COOLDOWN_SECONDS":
        data = [_above(gap, 60) for p, gap in _repeat_gaps(past) if p.label == "noise"]
        extra = [current * f for f in (2, 3, 4)] if current else [60.0, 300.0, 600.0]
    else:
        return []
    return _spread_out([v for v in data + extra if current < v <= _cap(knob, current)])


def _cap(knob: str, current: float) -> float:
    """The largest value one suggestion may propose: changes come in steps a person can
    judge (the next run can suggest the next step)."""
    if knob == "SPIKE_MIN_PRICE_MOVE":
        return min(0.5, max(current * 3, current + 0.03))
    factor = {"SPIKE_SCORE_THRESHOLD": 2.0, "SPIKE_MIN_VOLUME_DELTA": 3.0}.get(knob, 4.0)
    return max(current * factor, 1.0)


def why(knob: str, past: list[Past]) -> str:
    """The false-positive pattern a change of ``knob`` answers, in one sentence."""
    def med(label: str, attr: str, rule: str | None = None) -> float | None:
        values = [getattr(p.signal, attr) for p in past if p.label == label
                  and (rule is None or p.signal.rule == rule)]
        return statistics.median(values) if values else None

    if knob == "SPIKE_MIN_VOLUME_DELTA":
        n, s = med("noise", "volume_delta", "hard"), med("signal", "volume_delta", "hard")
        if n is not None and s is not None:
            return (f"hard-rule signals read as noise are small: median volume {fmt(n)} "
                    f"vs {fmt(s)} for those read as signal")
        return "hard-rule signals read as noise are small"
    if knob == "SPIKE_MIN_PRICE_MOVE":
        n, s = med("noise", "price_move"), med("signal", "price_move")
        if n is not None and s is not None:
            return (f"signals read as noise move the price less: median {n * 100:.1f}c vs "
                    f"{s * 100:.1f}c for those read as signal")
        return "signals read as noise move the price less"
    if knob == "SPIKE_SCORE_THRESHOLD":
        outliers = [p for p in past if p.signal.rule == "outlier" and p.label is not None]
        noisy = sum(p.label == "noise" for p in outliers)
        return (f"{noisy} of {len(outliers)} analysed outlier-rule signals were read as "
                f"noise")
    gaps = [gap for p, gap in _repeat_gaps(past) if p.label == "noise"]
    if gaps:
        return (f"noise repeats on the same markets: {len(gaps)} signals read as noise came "
                f"soon after another signal on their market (median gap "
                f"{statistics.median(gaps) / 60:.0f} min)")
    return "noise repeats on the same markets soon after a signal"


# ---------------------------------------------------------------------- the advice
@dataclass
class Suggestion:
    knob: str
    current: float
    proposed: float
    why: str
    evidence: Evidence
    merit: float

    def as_dict(self) -> dict[str, Any]:
        return {"knob": self.knob, "from": self.current, "to": self.proposed,
                "why": self.why, "evidence": self.evidence.text(),
                "replay": self.evidence.as_dict()}


@dataclass
class Report:
    start: float
    end: float
    labels: dict[str, int]
    patterns: list[Pattern] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    baseline: dict[str, int] = field(default_factory=dict)
    message: str = ""


def advise(detector: Any, past: list[Past],
           events_for: Callable[[str, float, float], list[MarketEvent]],
           start: float, end: float, *, limit: int = 3,
           outcomes: Mapping[Key, ScoredSignal] | None = None) -> Report:
    """Patterns and replay-backed suggestions for the window ``[start, end)``.

    ``events_for(market_id, since, until)`` returns a market's stored events in order;
    ``outcomes`` (by ``key_of(market, signal time)``) say how the past signals did, so each
    suggestion also reports how the signals it would keep and drop did.
    """
    labels = {label: sum(p.label == label for p in past) for label in LABELS}
    labels["unlabelled"] = sum(p.label is None for p in past)
    report = Report(start, end, labels, patterns(past))
    analysed = labels["signal"] + labels["noise"] + labels["uncertain"]
    if analysed < MIN_LABELLED or labels["noise"] < MIN_NOISE:
        report.message = (f"not enough analysed signals yet: {analysed} analysed "
                          f"({labels['noise']} noise) in the window; suggestions need "
                          f"{MIN_LABELLED} with at least {MIN_NOISE} noise")
        return report

    current = dict(detector.thresholds)
    trials: list[tuple[str, float]] = [("", 0.0)]
    for knob in KNOBS:
        if knob in current:
            trials += [(knob, v) for v in candidates(knob, float(current[knob]), past)]
    markets = sorted({p.signal.market_id for p in past})
    fired = replay(detector, [{k: v} if k else {} for k, v in trials],
                   ((m, events_for(m, start - WARMUP_SECONDS, end)) for m in markets), start)
    base = fired[0]
    report.baseline = {"alerts": len(base), "reproduced": len(base & {p.key for p in past}),
                       "past": len(past)}
    best: dict[str, Suggestion] = {}
    chosen: dict[str, set[Key]] = {}
    for (knob, value), proposed in zip(trials[1:], fired[1:], strict=True):
        ev = evidence(past, base, proposed)
        score = merit(ev)
        if score is None:
            continue
        old = best.get(knob)
        # Ties go to the smaller change.
        if old is None or score > old.merit:
            best[knob] = Suggestion(knob, float(current[knob]), value, why(knob, past), ev,
                                    score)
            chosen[knob] = proposed
    report.suggestions = sorted(best.values(), key=lambda s: -s.merit)[:limit]
    for s in report.suggestions if outcomes else ():
        replayed = [p.key for p in past if p.key in base]
        s.evidence.outcomes = tuning_outcomes.split(
            [k for k in replayed if k in chosen[s.knob]],
            [k for k in replayed if k not in chosen[s.knob]], outcomes or {})
    if not report.suggestions:
        report.message = ("no threshold change in reach drops enough noise while keeping "
                          f"{KEEP_SIGNAL_SHARE:.0%} of signal")
    return report
