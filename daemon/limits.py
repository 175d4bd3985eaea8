"""Limits on the text the daemon accepts from outside (ingest routes, control methods): every
string must be encodable as UTF-8 (a lone surrogate such as ``"\\ud800"`` is valid JSON but
cannot be stored) and no longer than its limit. Checked at the edge, so a bad string is a 4xx
naming its field and never reaches the store, where it would fail a whole batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # standard library only at run time: th-ctl imports this via protocol
    from trade_hunter.plugins.models import MarketEvent

MAX_ID = 256          # an event's id (idempotency key), a market id, a ticker, a backlog id
MAX_TITLE = 500       # a market's title
MAX_URL = 2048
MAX_NAME = 64         # platform, source, topic and the other short names
MAX_PARAM = 256       # any string parameter of a control method (demo.spike's market id ...)

EVENT_LIMITS: dict[str, int] = {"market_id": MAX_ID, "ext_id": MAX_ID, "title": MAX_TITLE,
                                "url": MAX_URL}
FIELD_NAMES = {"ext_id": "id"}  # as the ingest JSON calls them


def text_problem(value: str, limit: int) -> str | None:
    """What is wrong with ``value``, or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid Unicode text (a lone surrogate at character {exc.start})"
    if len(value) > limit:
        return f"at most {limit} characters, got {len(value)}"
    return None


def _metadata_strings(value: Any, path: str = "", depth: int = 0
                      ) -> Iterator[tuple[str, str, int]]:
    """Every string in an event's metadata with its path: top-level names are short
    (``MAX_NAME``), nested alert data (a relay's ``metadata``/``extra``) may run to ``MAX_URL``;
    keys are text too."""
    if depth > 8:
        return
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, item in items:
        name = f"{path}.{key}" if path else str(key)
        if isinstance(key, str):
            yield name, key, MAX_URL
        if isinstance(item, str):
            yield name, item, MAX_NAME if depth == 0 else MAX_URL
        elif isinstance(item, dict | list):
            yield from _metadata_strings(item, name, depth + 1)


def event_problems(events: list[MarketEvent]) -> list[str]:
    """Every string field of every event that breaks a limit: ``[3].title: …``."""
    problems = []
    many = len(events) > 1
    for i, event in enumerate(events):
        fields = [(name, getattr(event, name), MAX_NAME) for name in event.__struct_fields__]
        fields += list(_metadata_strings(event.metadata))  # e.g. the market's url
        for name, value, default in fields:
            if not isinstance(value, str):
                continue
            problem = text_problem(value, EVENT_LIMITS.get(name.rsplit(".", 1)[-1], default))
            if problem:
                field = FIELD_NAMES.get(name, name)
                problems.append(f"[{i}].{field}: {problem}" if many else f"{field}: {problem}")
    return problems
