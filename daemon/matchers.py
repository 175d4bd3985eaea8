"""Silence matchers and durations: parsing (every problem named) and matching a signal.

A silence is a set of ``name=value`` matchers combined with AND, like Alertmanager's:
``topic=crypto``, ``market=KXHIGHNY-*`` (a shell-style glob, case-sensitive), ``tier=watch``,
``source=polyalerthub``, ``rule=hard``. A snooze is a market, event or series ticker: it
matches the ticker itself and every market below it (``KXBTC15M`` matches
``KXBTC15M-25DEC06-T100``), never a different series that merely starts the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

# name → the signal attribute it reads
FIELDS: dict[str, str] = {"topic": "topic", "market": "market_id", "tier": "tier",
                          "source": "source", "rule": "rule"}
# Copies of plugins.models TIERS/TOPICS/Rule (that module needs msgspec; kept equal by
# tests/daemon/test_silences.py): a value without a glob must be one of these, so a typo
# ("tier=wach") is refused instead of silently matching nothing.
KNOWN: dict[str, tuple[str, ...]] = {
    "tier": ("high conviction flow", "notable", "watch"),
    "topic": ("crypto", "elections", "macro", "sports", "geopolitics", "general"),
    "rule": ("hard", "outlier", "vendor", "divergence"),
}
GLOB = re.compile(r"[*?\[]")
DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DURATION = 90 * 86400.0
MAX_MATCHERS = 10


class MatcherError(ValueError):
    """A malformed matcher list or duration; the message names every problem."""


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str

    def matches(self, signal: Any) -> bool:
        return fnmatchcase(str(getattr(signal, FIELDS[self.name], "") or ""), self.value)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """``"topic=crypto market=KX*"`` (space or comma separated) → matchers, or
    ``MatcherError`` listing every bad one."""
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    problems: list[str] = []
    found: list[Matcher] = []
    if not parts:
        raise MatcherError("no matcher given: expected name=value, e.g. topic=crypto")
    if len(parts) > MAX_MATCHERS:
        raise MatcherError(f"at most {MAX_MATCHERS} matchers")
    for part in parts:
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep:
            problems.append(f"{part!r}: expected name=value")
        elif name not in FIELDS:
            problems.append(f"{part!r}: unknown name {name!r} (one of {', '.join(FIELDS)})")
        elif not value:
            problems.append(f"{part!r}: empty value")
        elif name in KNOWN and not GLOB.search(value) and \
                value.replace("-", " ") not in KNOWN[name]:
            problems.append(f"{part!r}: {name} must be one of {', '.join(KNOWN[name])}")
        elif any(m.name == name for m in found):
            problems.append(f"{part!r}: {name} given twice (matchers are ANDed)")
        else:
            # A tier is written with hyphens on the command line, stored as the signal has it.
            found.append(Matcher(name, value.replace("-", " ") if name == "tier" else value))
    if problems:
        raise MatcherError("; ".join(problems))
    return tuple(found)


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1d``, ``1h30m`` → seconds (``MatcherError`` if bad)."""
    raw = text.strip().lower().replace(" ", "")
    if not raw or DURATION.sub("", raw) or not DURATION.match(raw):
        raise MatcherError(f"duration {text!r}: expected e.g. 90s, 30m, 2h, 1d or 1h30m")
    seconds = sum(float(n) * UNITS[u] for n, u in DURATION.findall(raw))
    if not 0 < seconds <= MAX_DURATION:
        raise MatcherError(f"duration {text!r}: must be more than 0 and at most 90 days")
    return seconds


def parse_target(text: str) -> str:
    """A snooze's market, event or series ticker (upper-cased)."""
    target = text.strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9._-]{0,99}", target):
        raise MatcherError(f"{text!r}: expected a market, event or series ticker, "
                           "e.g. KXBTC15M")
    return target


def under(market_id: str, target: str) -> bool:
    """Whether ``market_id`` is ``target`` or a market of the event/series ``target``."""
    return market_id == target or market_id.startswith(target + "-")
