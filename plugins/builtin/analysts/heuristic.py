"""The local heuristic analyst: a rule-based read from the signal's own numbers, no network.

It is tried last, so a daemon without API keys (simulation mode, say) still shows a read on
every signal. Its reads are labelled provider ``heuristic`` and say so in the rationale: they
are rules of thumb, not an AI's judgement.
"""

from __future__ import annotations

from typing import Any

from trade_hunter.plugins import ComponentRegistry, hookimpl
from trade_hunter.plugins.models import AnalystRead, SpikeSignal

from .common import ReadPayload, to_read

MODEL = "rules-v1"
WIDE_SPREAD = 0.08        # dollars: a thin book, prices jump on small size
TIGHT_SPREAD = 0.03
EXTREME = 0.04            # within 4c of 0 or 1: near-certain markets move mechanically
STRONG_MULTIPLE = 3.0     # volume vs baseline
ALIGNED_SHARE = 0.7       # share of recent takers on the side of the move
MIN_TAKERS = 4
INFORMED_MOVE = 0.02      # two cents with heavy volume is a real move, even under the minimum


def judge(signal: SpikeSignal) -> ReadPayload:
    """The rules: count the signs of an informed move against the signs of noise."""
    c = signal.context
    price, move, multiple = signal.yes_price, signal.price_move, signal.volume_multiple
    min_move = float(signal.thresholds.get("SPIKE_MIN_PRICE_MOVE", 0.03)) or 0.03
    informed: list[str] = []
    noisy: list[str] = []
    notes: list[str] = []

    if c.spread is not None and c.spread >= WIDE_SPREAD:
        noisy.append(f"the spread is wide ({c.spread * 100:.0f}c), so small orders move the price")
        notes.append(f"wide-spread markets fire easily; a higher SPIKE_MIN_VOLUME_DELTA "
                     f"(now {signal.thresholds.get('SPIKE_MIN_VOLUME_DELTA', 120):g}) "
                     f"would cut these")
    if price is not None and (price <= EXTREME or price >= 1 - EXTREME):
        noisy.append(f"the price is pinned near certainty ({price * 100:.0f}%), where moves "
                     f"are mostly mechanical")
    if move < min_move / 2 and multiple >= STRONG_MULTIPLE:
        noisy.append(f"volume is {multiple:.1f}x baseline but the price barely moved "
                     f"({move * 100:.1f}c), which looks like rebalancing or a block cross")
        notes.append("size without price impact triggers the outlier rule; a higher "
                     "SPIKE_SCORE_THRESHOLD would skip it")
    five = c.price_change_5m
    if five is not None and move > 0 and (
            (signal.direction == "up" and five <= 0) or (signal.direction == "down" and five >= 0)):
        noisy.append(f"the price is back where it was five minutes ago "
                     f"({five * 100:+.1f}c), so the move reversed an earlier one")

    if multiple >= STRONG_MULTIPLE and move >= min(min_move, INFORMED_MOVE):
        informed.append(f"volume is {multiple:.1f}x the baseline with a {move * 100:.1f}c "
                        f"{signal.direction} move")
    takers = c.yes_trades + c.no_trades
    if takers >= MIN_TAKERS and signal.direction in ("up", "down"):
        with_move = c.yes_trades if signal.direction == "up" else c.no_trades
        share = with_move / takers
        if share >= ALIGNED_SHARE:
            informed.append(f"{share:.0%} of the last {takers} takers traded on the side of "
                            f"the move")
    if c.spread is not None and c.spread <= TIGHT_SPREAD:
        informed.append(f"the book is tight ({c.spread * 100:.0f}c spread)")
    thirty = c.price_change_30m
    if thirty is not None and five is not None and signal.direction in ("up", "down"):
        sign = 1 if signal.direction == "up" else -1
        if sign * thirty > sign * five > 0:
            informed.append(f"it extends a {thirty * 100:+.1f}c move over 30 minutes")

    if noisy and len(noisy) >= len(informed):
        label, confidence = "noise", "high" if len(noisy) >= 2 else "medium"
    elif len(informed) >= 2 and not noisy:
        label, confidence = "signal", "high" if len(informed) >= 3 else "medium"
    else:
        label, confidence = "uncertain", "low"
    reasons = {"noise": noisy or informed, "signal": informed,
               "uncertain": informed + noisy}[label]
    if reasons:
        body = "; ".join(reasons[:3])
        rationale = f"Heuristic read (local rules, not AI): {body[0].upper()}{body[1:]}."
    else:
        rationale = ("Heuristic read (local rules, not AI): the numbers show neither a clear "
                     "informed move nor a clear mechanical cause.")
    if label == "uncertain" and informed and noisy:
        rationale += " Signs point both ways."
    note = notes[0] if label == "noise" and notes else ""
    return ReadPayload(noise_or_signal=label, direction=signal.direction,  # type: ignore[arg-type]
                       confidence=confidence,  # type: ignore[arg-type]
                       rationale=rationale, tuning_note=note)


class HeuristicAnalyst:
    name = "heuristic"
    metered = False  # free and local: not counted against the call budget

    def __init__(self, health: Any = None) -> None:
        self.health = health
        if health is not None:
            health.set("running", "local rules, no network")

    async def analyze(self, signal: SpikeSignal) -> AnalystRead:
        read = to_read(judge(signal), signal=signal, provider=self.name, model=MODEL)
        if self.health is not None:
            self.health.count("reads")
        return read


@hookimpl
def th_register_analysts(registry: ComponentRegistry) -> None:
    registry.add("heuristic", lambda ctx: HeuristicAnalyst(ctx.health), priority=1000,
                 description="local rules, no network (the last fallback)")
