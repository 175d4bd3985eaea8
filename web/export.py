"""Signals and events as CSV and JSON Lines rows (the columns are documented in the README).

Times are ISO 8601 UTC with the epoch seconds beside them; a price move is signed cents
(``-3`` for a 3¢ fall, as "−3¢" on the cards); text a spreadsheet would run as a formula
(``=``, ``+``, ``-``, ``@`` first) gets a leading apostrophe in CSV only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from trade_hunter.daemon.signal_history import EVENT_COLUMNS
from trade_hunter.outcomes.grading import HORIZON_NAMES
from trade_hunter.plugins.models import AnalystRead, SpikeSignal

from .why import explain, signed_move

SIGNAL_COLUMNS = (
    "id", "created_at", "created_at_epoch", "market_id", "platform", "title", "topic",
    "source", "tier", "rule", "score", "direction", "price_move_cents", "yes_price",
    "volume_delta", "baseline", "volume_multiple", "notify", "escalation", "demo", "why",
    "analyst_label", "analyst_confidence", "analyst_provider", "analyst_rationale",
    *(f"outcome_{name}" for name in HORIZON_NAMES),
)
EVENT_EXPORT_COLUMNS = ("id", "ts", "ts_epoch", "received_at_epoch", "platform", "market_id",
                        "kind", "yes_price", "yes_bid", "yes_ask", "volume", "volume_kind",
                        "trade_side", "trade_size", "source")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = frozenset({"market_id", "title", "topic", "source", "why", "analyst_rationale",
                          "platform"})


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def signal_row(signal: SpikeSignal, read: AnalystRead | None,
               outcomes: dict[str, str] | None = None) -> dict[str, Any]:
    """One signal's export row; ``outcomes`` (``signal_history.outcome_classes``) gives its
    ``outcome_<horizon>`` cells, ``pending`` without them."""
    graded = outcomes or {}
    card = {"rule": signal.rule, "score": signal.score, "volume_delta": signal.volume_delta,
            "volume_multiple": signal.volume_multiple, "baseline": signal.baseline,
            "price_move": signal.price_move, "direction": signal.direction,
            "context": {"baseline_points": signal.context.baseline_points},
            "event": {"event_kind": signal.event.event_kind}}
    return {
        "id": signal.id, "created_at": iso(signal.created_at),
        "created_at_epoch": signal.created_at, "market_id": signal.market_id,
        "platform": signal.platform, "title": signal.title, "topic": signal.topic,
        "source": signal.source, "tier": signal.tier, "rule": signal.rule,
        "score": round(signal.score, 4), "direction": signal.direction,
        "price_move_cents": round(signed_move(card) * 100, 2), "yes_price": signal.yes_price,
        "volume_delta": signal.volume_delta, "baseline": signal.baseline,
        "volume_multiple": signal.volume_multiple, "notify": signal.notify,
        "escalation": signal.escalation, "demo": signal.demo,
        "why": explain(card, signal.thresholds, None)["why"],
        "analyst_label": read.noise_or_signal if read else None,
        "analyst_confidence": read.confidence if read else None,
        "analyst_provider": read.provider if read else None,
        "analyst_rationale": read.rationale if read else None,
    } | {f"outcome_{name}": graded.get(name, "pending") for name in HORIZON_NAMES}


def event_row(row: tuple[Any, ...]) -> dict[str, Any]:
    e = dict(zip(EVENT_COLUMNS, row, strict=True))
    return {"id": e["id"], "ts": iso(e["ts"]), "ts_epoch": e["ts"],
            "received_at_epoch": e["received_at"], "platform": e["platform"],
            "market_id": e["market_id"], "kind": "trade" if e["kind"] == "T" else "quote",
            "yes_price": e["yes_price"], "yes_bid": e["yes_bid"], "yes_ask": e["yes_ask"],
            "volume": e["volume"], "volume_kind": e["volume_kind"],
            "trade_side": e["trade_side"], "trade_size": e["trade_size"],
            "source": e["source"]}


def _cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if column in TEXT_COLUMNS and isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_cells(columns: Iterable[str], row: dict[str, Any]) -> list[Any]:
    """One row's CSV cells: empty for null, true/false, formulas defused."""
    return [_cell(c, row.get(c)) for c in columns]


def csv_chunk(columns: Iterable[str], rows: Iterable[dict[str, Any]], *,
              header: bool = False) -> str:
    """Rows as CSV text (RFC 4180 quoting, CRLF line ends), with the header line first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    cols = list(columns)
    if header:
        writer.writerow(cols)
    for row in rows:
        writer.writerow(csv_cells(cols, row))
    return buffer.getvalue()
