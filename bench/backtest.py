"""The backtest's speed: the detector path over the development file (gated and classic), and
the whole command end to end (read, detect, grade, baseline, print), pinned to one core.

Targets (issue: signal outcomes): the detector path at ≥ 200,000 trades/s, the 19,791-trade
development file end to end in under 3 s.
"""

from __future__ import annotations

import argparse
import io
import time
from typing import Any

import msgspec

from trade_hunter.outcomes.backtest.cli import main as backtest
from trade_hunter.outcomes.backtest.readers import read_events
from trade_hunter.outcomes.backtest.runner import make_detector
from trade_hunter.outcomes.quality_doc import MARKETS, TRADES

from .common import emit, pin_one_core, say


def detector_rate(events: list[Any], profile: str, repeat: int) -> float:
    """Best-of-``repeat`` trades per second of the detector alone, one state per market."""
    best = 0.0
    for _ in range(repeat):
        detector, _ = make_detector({"SPIKE_PROFILE": profile})
        batch = [msgspec.structs.replace(e) for e in events]
        states: dict[str, Any] = {}
        process, new_state = detector.process, detector.new_state
        started = time.perf_counter()
        for e in batch:
            state = states.get(e.market_id)
            if state is None:
                state = states[e.market_id] = new_state(e.market_id)
            process(e, state)
        best = max(best, len(batch) / (time.perf_counter() - started))
    return best


def end_to_end(repeat: int) -> float:
    """Best-of-``repeat`` seconds of ``trade-hunter backtest`` on the development file."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        code = backtest([str(TRADES), "--markets", str(MARKETS)], io.StringIO(), io.StringIO())
        best = min(best, time.perf_counter() - started)
        assert code == 0
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    core = pin_one_core()
    events = list(read_events(TRADES))
    result: dict[str, Any] = {"core": core, "trades": len(events)}
    for profile in ("gated", "classic"):
        result[f"{profile}_trades_per_s"] = round(detector_rate(events, profile, args.repeat))
        say(f"  detector ({profile}): {result[f'{profile}_trades_per_s']:,} trades/s")
    result["end_to_end_s"] = round(end_to_end(max(1, args.repeat // 2)), 3)
    say(f"  end to end: {result['end_to_end_s']:.2f} s for {len(events):,} trades")
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
