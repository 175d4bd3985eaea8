"""Strict validation of relayed JSON into :class:`MarketEvent`, with messages that name the
field (``[3].yes_price: expected a number from 0 to 1, got 1.5``).

Decoded JSON may hold ``NaN`` and infinities (the web layer lets them through so they can be
named here); booleans are not numbers; unknown fields are refused (a typo must not silently
drop a value). All problems of a payload are collected (up to ``MAX_ERRORS``) and raised as
one :class:`PayloadError` whose ``detail`` lists them with what is accepted.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime
from typing import Any

from trade_hunter.plugins.errors import PayloadError
from trade_hunter.plugins.models import TOPICS
from trade_hunter.plugins.topics import normalize_category

MAX_EVENTS = 1000
MAX_ERRORS = 20
MIN_TIME = 946_684_800.0          # 2000-01-01: older is not a live observation
FUTURE_SLACK = 86_400.0           # clocks drift, but a day ahead is a bug
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_URL = re.compile(r"^https?://[^\s<>\"]{1,500}$")


class Problems:
    """Collects field errors; ``raise_if_any`` turns them into one ``PayloadError``."""

    def __init__(self, accepted: Any) -> None:
        self.items: list[dict[str, str]] = []
        self.accepted = accepted
        self.count = 0

    def add(self, field: str, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_ERRORS:
            self.items.append({"field": field, "message": message})

    def raise_if_any(self) -> None:
        if not self.items:
            return
        first = self.items[0]
        more = f" (and {self.count - 1} more)" if self.count > 1 else ""
        raise PayloadError(f"{first['field']}: {first['message']}{more}",
                           {"errors": self.items, "accepted": self.accepted})


def items_of(payload: Any, problems: Problems, *, what: str = "event") -> list[Any]:
    """One object or an array of 1..MAX_EVENTS objects."""
    if isinstance(payload, dict):
        return [payload]
    if isinstance(payload, list):
        if not payload:
            problems.add("body", f"expected at least one {what}")
        elif len(payload) > MAX_EVENTS:
            problems.add("body", f"expected at most {MAX_EVENTS} {what}s per request, "
                                 f"got {len(payload)}")
        else:
            return payload
        return []
    problems.add("body", f"expected a JSON object or an array of objects, got "
                         f"{type_name(payload)}")
    return []


def parse_all(payload: Any, problems: Problems, one: Any, *, what: str = "event"
              ) -> list[Any]:
    """Convert each item of ``payload`` with ``one(obj, prefix, problems)`` (the prefix names
    the array index in messages); every problem of every item is reported at once."""
    items = items_of(payload, problems, what=what)
    many = isinstance(payload, list)
    events = [one(obj, f"[{i}]." if many else "", problems) for i, obj in enumerate(items)]
    problems.raise_if_any()
    return [e for e in events if e is not None]


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _float(value: float) -> float:
    """``float(value)``, with integers too large for a float as infinity (refused later)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def show(value: Any) -> str:
    text = repr(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------- field readers
def text(obj: dict[str, Any], key: str, at: str, problems: Problems, *,
         required: bool = False, max_len: int = 200, name: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            problems.add(f"{at}{key}", "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        problems.add(f"{at}{key}", f"expected a string, got {type_name(value)}")
        return None
    value = str(value).strip()
    if not value:
        if required:
            problems.add(f"{at}{key}", "must not be empty")
        return None
    if len(value) > max_len:
        problems.add(f"{at}{key}", f"expected at most {max_len} characters, got {len(value)}")
        return None
    if name and not _NAME.match(value):
        problems.add(f"{at}{key}", "expected letters, digits and . _ : - (at most 64), "
                                   f"got {show(value)}")
        return None
    return value


def number(obj: dict[str, Any], key: str, at: str, problems: Problems, *,
           required: bool = False, low: float | None = None, high: float | None = None,
           label: str | None = None) -> float | None:
    value = obj.get(key)
    field = f"{at}{label or key}"
    if value is None:
        if required:
            problems.add(field, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.add(field, f"expected a number, got {type_name(value)}")
        return None
    value = _float(value)
    if not math.isfinite(value):
        problems.add(field, f"expected a finite number, got {value}")
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (f"from {low:g} to {high:g}" if low is not None and high is not None
                  else f"of at least {low:g}" if low is not None else f"of at most {high:g}")
        problems.add(field, f"expected a number {bounds}, got {show(value)}")
        return None
    return value


def price(obj: dict[str, Any], key: str, at: str, problems: Problems, *,
          required: bool = False) -> float | None:
    return number(obj, key, at, problems, required=required, low=0.0, high=1.0)


def choice(obj: dict[str, Any], key: str, at: str, problems: Problems,
           options: tuple[str, ...]) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in options:
        problems.add(f"{at}{key}", f"expected one of {', '.join(options)}, got {show(value)}")
        return None
    return value.lower()


def timestamp(obj: dict[str, Any], key: str, at: str, problems: Problems, *,
              allow_ms: bool = False) -> float | None:
    """Epoch seconds (a number) or an ISO 8601 string with a zone; with ``allow_ms``,
    epoch milliseconds too (alert services often send them)."""
    value = obj.get(key)
    if value is None:
        return None
    field = f"{at}{key}"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())  # "Z" works from 3.11
        except ValueError:
            problems.add(field, f"expected epoch seconds or an ISO 8601 time, got {show(value)}")
            return None
        if parsed.tzinfo is None:
            problems.add(field, "an ISO 8601 time needs a zone (Z or +00:00)")
            return None
        seconds = parsed.timestamp()
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(_float(value)):
        problems.add(field, f"expected epoch seconds or an ISO 8601 time, got {show(value)}")
        return None
    else:
        seconds = _float(value)
        if allow_ms and seconds > 1e11:
            seconds /= 1000.0
    latest = time.time() + FUTURE_SLACK
    if not MIN_TIME <= seconds <= latest:
        hint = " (milliseconds? send seconds)" if seconds > 1e11 else ""
        problems.add(field, f"expected a time between 2000-01-01 and tomorrow, got "
                            f"{show(value)}{hint}")
        return None
    return seconds


def topic(obj: dict[str, Any], key: str, at: str, problems: Problems, *,
          strict: bool = True) -> str | None:
    """One of our topics (aliases such as ``Economics`` or ``politics`` accepted). Unknown:
    an error when ``strict``, else ``None`` (the pipeline infers it from the title)."""
    raw = text(obj, key, at, problems, max_len=64)
    found = normalize_category(raw) if raw else None
    if found is not None and found not in TOPICS:
        if strict:
            problems.add(f"{at}{key}", f"expected one of {', '.join(TOPICS)}, got {show(raw)}")
        return None
    return found


def url(obj: dict[str, Any], key: str, at: str, problems: Problems) -> str | None:
    raw = text(obj, key, at, problems, max_len=500)
    if raw is not None and not _URL.match(raw):
        problems.add(f"{at}{key}", "expected an http(s) URL")
        return None
    return raw


def unknown(obj: dict[str, Any], allowed: frozenset[str], at: str, problems: Problems) -> None:
    extra = sorted(k for k in obj if k not in allowed)
    if extra:
        shown = ", ".join(extra[:5]) + ("…" if len(extra) > 5 else "")
        problems.add(f"{at}{extra[0]}", f"unknown field(s): {shown}; accepted: "
                                        f"{', '.join(sorted(allowed))}")
