"""Run the daemon's detector over recorded events, then grade every signal and its baseline.

The detector is created through the same plugin registry and settings as the daemon's (so a
``--set`` is validated exactly like an environment variable), and fed the events in time
order with one state per market, as the pipeline does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from trade_hunter.plugins.models import MarketEvent, SpikeSignal
from trade_hunter.plugins.registry import PluginContext

from ..baseline import BASELINE_K, PricePath, grade_signal
from ..grading import FLAT_BAND
from ..scorecard import ScoredSignal
from .readers import MarketInfo

Progress = Callable[[int], None]


def make_detector(overrides: Mapping[str, str], name: str = "spike") -> tuple[Any, dict[str, Any]]:
    """The daemon's detector with default settings plus ``overrides`` (NAME → raw value);
    raises ConfigError naming every bad value. Returns it with the settings in force."""
    from trade_hunter.daemon.cli import build  # the daemon's own plugin and settings loading

    settings: Any
    settings, _host, registries = build({"THIRD_PARTY_PLUGINS": "false", **overrides})
    unknown = [k for k in overrides if k not in registries.settings.items]
    if unknown:
        from trade_hunter.plugins.errors import ConfigError
        raise ConfigError(unknown[0], overrides[unknown[0]],
                          "a setting the daemon declares (README, Configuration)")
    null = SimpleNamespace(set=lambda *a, **k: None, count=lambda *a, **k: None,
                           put=lambda *a, **k: None)
    ctx = PluginContext(settings=settings, health=null, tickers=None,  # type: ignore[arg-type]
                        store=None, home=None)  # type: ignore[arg-type]
    detector = registries.detectors.items[name].factory(ctx)
    spike = {k: settings[k] for k in registries.settings.items if k.startswith("SPIKE_")}
    return detector, spike


@dataclass
class Run:
    """A finished backtest: the signals graded, the data's extent and the settings."""

    scored: list[ScoredSignal]
    signals: list[SpikeSignal]
    """New signals (graded); escalations of them are counted apart."""
    escalations: int
    events: int
    markets: int
    market_hours: dict[str, float]
    first: float | None
    last: float | None
    settings: dict[str, Any] = field(default_factory=dict)


def run(events: Iterable[MarketEvent], detector: Any, markets: Mapping[str, MarketInfo], *,
        k: int = BASELINE_K, band: float = FLAT_BAND, progress: Progress | None = None
        ) -> Run:
    states: dict[str, Any] = {}
    paths: dict[str, PricePath] = defaultdict(PricePath)
    hours: dict[str, set[int]] = defaultdict(set)
    fired: list[tuple[SpikeSignal, int]] = []
    process, new_state = detector.process, detector.new_state
    first = last = None
    n = escalations = 0
    for e in events:
        market = e.market_id
        info = markets.get(market)
        if info is not None:
            if info.title and not e.title:
                e.title = info.title
            if info.close_time is not None:
                e.closes_at = info.close_time
        state = states.get(market)
        if state is None:
            state = states[market] = new_state(market)
        signal = process(e, state)
        path = paths[market]
        if e.yes_price is not None:
            path.add(e.timestamp, e.yes_price, e.event_kind == "trade")
        if e.event_kind == "trade":
            hours[market].add(int(e.timestamp // 3600))
        if signal is not None:
            if signal.escalation:
                escalations += 1
            else:
                fired.append((signal, len(path.times) - 1))
        if first is None:
            first = e.timestamp
        last = e.timestamp
        n += 1
        if progress is not None and n % 5000 == 0:
            progress(n)
    scored = [score(s, i, paths[s.market_id], markets.get(s.market_id), data_end=last or 0.0,
                    k=k, band=band) for s, i in fired]
    return Run(scored=scored, signals=[s for s, _ in fired], escalations=escalations, events=n, markets=len(states),
               market_hours={m: float(len(h)) for m, h in hours.items()}, first=first, last=last)


def run_with(events: Iterable[MarketEvent], markets: Mapping[str, MarketInfo],
             overrides: Mapping[str, str], *, k: int = BASELINE_K, band: float = FLAT_BAND,
             progress: Progress | None = None) -> Run:
    """The daemon's detector with these settings over ``events`` (which it annotates with
    titles and close times: pass copies to reuse them), the settings recorded on the run."""
    detector, spike = make_detector(overrides)
    result = run(events, detector, markets, k=k, band=band, progress=progress)
    result.settings = spike
    return result


def score(signal: SpikeSignal, i: int, path: PricePath, info: MarketInfo | None, *,
          data_end: float, k: int, band: float) -> ScoredSignal:
    close = info.close_time if info else None
    if i >= 0:
        p0 = signal.yes_price if signal.yes_price is not None else path.prices[i]
        outcomes, base = grade_signal(path, i, signal.market_id, signal.direction,
                                      signal.created_at, p0, data_end=data_end,
                                      close_time=close, k=k, band=band)
    else:  # a signal before the market's first price: nothing to grade from
        outcomes, base = [], []
    return ScoredSignal(
        market_id=signal.market_id, created_at=signal.created_at, direction=signal.direction,
        yes_price=signal.yes_price, tier=signal.tier, rule=signal.rule, topic=signal.topic,
        source=signal.source, horizons=outcomes, baseline=base,
        result=info.result if info else None)
