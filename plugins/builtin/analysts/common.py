"""What the analyst providers share: the facts of a signal, the prompt, the answer schema and
its validation.

An answer is valid only if it decodes into :class:`ReadPayload` (every field present, labels
from the fixed vocabularies, a non-empty rationale) and gives no trading advice. Providers
raise :class:`AnalystError` for anything else, so the daemon falls back to the next one.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import msgspec

from trade_hunter.plugins.errors import AnalystError, ConfigError
from trade_hunter.plugins.models import AnalystRead, Confidence, Direction, Label, SpikeSignal

TOOL_NAME = "record_read"
MAX_TOKENS = 700

SYSTEM_PROMPT = """\
You review unusual activity on one prediction market for an informational monitoring tool.
The tool never trades and you never give trading advice: do not recommend buying, selling,
betting or taking any position, and do not predict returns.

Judge only whether the activity looks like an informed move (label "signal"), a mechanical or
noisy one (label "noise": a thin book or wide spread, a price pinned near 0 or 1, size without
price impact, a move that reverses at once), or ambiguous ("uncertain"). Weigh the current yes
price (the implied probability), the volume spike against the market's baseline, the recent
price history, the mix of yes and no takers, and the bid/ask spread when known.

Answer only through the record_read tool: the label; the direction of the move; your
confidence; a plain-English rationale of two or three sentences that cites the numbers; and a
one-line tuning_note about the detector's thresholds for moves like this one (which knob looks
too low or too high), or an empty string when they look right; and probability_yes, your own
estimate from 0 to 1 that the market settles YES (null when you cannot tell). It is scored
against the settlement next to the market price; it is not advice."""

# The answer schema: used as the Anthropic tool's input_schema and Perplexity's json_schema.
READ_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "noise_or_signal": {"type": "string", "enum": ["signal", "noise", "uncertain"],
                            "description": "informed move, mechanical/noisy, or ambiguous"},
        "direction": {"type": "string", "enum": ["up", "down", "flat"],
                      "description": "direction of the yes price move"},
        "confidence": {"type": "string", "enum": ["low", "medium", "high"]},
        "rationale": {"type": "string",
                      "description": "two or three plain-English sentences citing the numbers"},
        "tuning_note": {"type": "string",
                        "description": "one line on the detector thresholds, or empty"},
        "probability_yes": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                            "description": "your estimate that the market settles YES, 0 to 1 "
                                           "(null when you cannot tell)"},
    },
    "required": ["noise_or_signal", "direction", "confidence", "rationale", "tuning_note"],
    "additionalProperties": False,
}

TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": "Record the read of one market-activity signal (informational only).",
    "input_schema": READ_SCHEMA,
}


class ProviderHealth:
    """A provider's health record (``self.health``, optional): counters, and its state after
    each read: running with ``self.model``, or degraded with the reason."""

    health: Any
    model: str

    def _count(self, name: str) -> None:
        if self.health is not None:
            self.health.count(name)

    def _ok(self) -> None:
        if self.health is not None:
            self.health.count("reads")
            self.health.set("running", f"model {self.model}")

    def _failed(self, why: str) -> None:
        if self.health is not None:
            self.health.count("failures")
            self.health.set("degraded", why)


class ReadPayload(msgspec.Struct):
    """A provider's answer, validated (unknown extra keys are ignored)."""

    noise_or_signal: Label
    direction: Direction
    confidence: Confidence
    rationale: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    tuning_note: Annotated[str, msgspec.Meta(max_length=1000)]
    probability_yes: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    """Optional: the provider's estimate that the market settles YES (out of 0-1: invalid)."""


# Recommendations of a position, as opposed to descriptions of flow ("takers bought YES").
_ADVICE = re.compile(
    r"\b(?:you should|you could|we recommend|i recommend|i suggest|recommend(?:ed|s)?|"
    r"consider|worth|time to|good idea to|opportunity to)\s+"
    r"(?:buying|selling|shorting|betting|buy|sell|short|bet|going long|go long|going short|"
    r"taking a position|take a position|entering|enter)\b"
    r"|\b(?:strong|clear) (?:buy|sell)\b|\b(?:buy|sell) (?:signal|rating|recommendation)\b",
    re.IGNORECASE)


def gives_advice(text: str) -> bool:
    """True when ``text`` recommends a position (never allowed in a read)."""
    return bool(_ADVICE.search(text))


def validate(data: Any) -> ReadPayload:
    """Plain data (a tool input, a decoded JSON answer) → :class:`ReadPayload`, or raise
    :class:`AnalystError` naming what is wrong."""
    try:
        payload = msgspec.convert(data, type=ReadPayload)
    except msgspec.ValidationError as exc:
        raise AnalystError(f"invalid answer: {exc}") from None
    payload.rationale = payload.rationale.strip()
    if not payload.rationale:
        raise AnalystError("invalid answer: empty rationale")
    payload.tuning_note = " ".join(payload.tuning_note.split())[:300]
    if gives_advice(payload.rationale) or gives_advice(payload.tuning_note):
        raise AnalystError("invalid answer: it reads as trading advice")
    return payload


_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_json_answer(text: str) -> ReadPayload:
    """A text answer (JSON, possibly after a reasoning section or inside a code fence)."""
    body = _THINK.sub("", text).strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        data = json.loads(body)
    except ValueError:
        raise AnalystError(f"invalid answer: not JSON: {body[:80]!r}") from None
    return validate(data)


def to_read(payload: ReadPayload, *, signal: SpikeSignal, provider: str, model: str,
            citations: list[str] | None = None) -> AnalystRead:
    return AnalystRead(signal_id=signal.id or 0, status="done",
                       noise_or_signal=payload.noise_or_signal, direction=payload.direction,
                       confidence=payload.confidence, rationale=payload.rationale,
                       tuning_note=payload.tuning_note, probability_yes=payload.probability_yes,
                       provider=provider, model=model,
                       citations=list(citations or []))


def check_url(variable: str, value: str) -> str:
    """An endpoint setting: an http(s) URL without a trailing slash, or :class:`ConfigError`."""
    url = value.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(?:/[^\s?#]*)?", url):
        raise ConfigError(variable, value, "an http:// or https:// URL")
    return url


# ---------------------------------------------------------------------- the facts of a signal
def _cents(x: float | None) -> str | None:
    return None if x is None else f"{x * 100:+.1f}c"


def signal_facts(signal: SpikeSignal) -> dict[str, Any]:
    """What the analyst is shown: the numbers a person would look at, nothing secret."""
    c = signal.context
    price = signal.yes_price
    return {
        "market": {"title": signal.title, "id": signal.market_id, "platform": signal.platform,
                   "topic": signal.topic},
        "yes_price": price,
        "implied_probability": None if price is None else f"{price * 100:.1f}%",
        "detector": {"rule": signal.rule, "tier": signal.tier, "score": signal.score,
                     "thresholds": signal.thresholds},
        "volume": {"this_event": signal.volume_delta, "baseline_per_event": signal.baseline,
                   "multiple_of_baseline": signal.volume_multiple,
                   "mean_per_event_1h": c.mean_volume_1h, "mean_per_event_24h": c.mean_volume_24h},
        "price_move": {"size": signal.price_move, "direction": signal.direction,
                       "change_1m": _cents(c.price_change_1m),
                       "change_5m": _cents(c.price_change_5m),
                       "change_30m": _cents(c.price_change_30m)},
        "recent_takers": {"yes": c.yes_trades, "no": c.no_trades},
        "spread": c.spread,
        "trigger_event": {"kind": signal.event.event_kind, "side": signal.event.trade_side,
                          "size": signal.event.trade_size},
        "recent_events": [
            {"seconds_before": round(signal.created_at - e.timestamp, 1), "kind": e.event_kind,
             "yes_price": e.yes_price, "volume": e.volume_delta, "side": e.trade_side}
            for e in c.recent_events],
    }


def user_prompt(signal: SpikeSignal) -> str:
    return ("Judge this spike. The facts, as JSON:\n"
            + json.dumps(signal_facts(signal), indent=1, default=str))
