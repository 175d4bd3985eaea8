"""Human-readable output of ``th-ctl``: one renderer per method, a generic one for the rest
(plugin methods, new table entries), plain text tables. Standard library only."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

MAX_CELL = 48


def cell(value: Any, width: int = MAX_CELL) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"))
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def ago(when: Any, now: float | None = None) -> str:
    if not isinstance(when, int | float) or not when:
        return "-"
    return duration((now or time.time()) - when) + " ago"


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds // 60 % 60:02d}m"
    return f"{seconds // 86400}d {seconds // 3600 % 24:02d}h"


def _counts(mapping: Any) -> str:
    if not isinstance(mapping, dict) or not mapping:
        return "-"
    return ", ".join(f"{k} {v}" for k, v in mapping.items())


def _health_table(items: Any) -> str:
    rows = [(h.get("name"), h.get("state"), h.get("restarts"),
             h.get("last_error") or h.get("detail") or "") for h in items or ()]
    return table(rows, ("name", "state", "restarts", "detail / last error")) if rows \
        else "  (none)"


# ---------------------------------------------------------------------- per method
def status(r: dict[str, Any]) -> str:
    counters = r.get("counters") or {}
    lines = [
        (f"Trade Hunter {r.get('version', '?')}: {r.get('mode', '?')} mode, "
         f"up {duration(r.get('uptime') or 0)} (pid {r.get('pid', '?')})"),
        f"dashboard  {r.get('dashboard') or '-'}",
        f"home       {r.get('home', '-')}",
        f"counters   {_counts(counters.get('counters'))}",
        (f"markets    {counters.get('markets', 0)} on the tape, last event "
         f"{ago(counters.get('last_event_at'))}"),
        f"tickers    {_counts(r.get('tickers'))}",
        "",
        "FEEDS",
        _health_table(r.get("feeds")),
        "",
        "COMPONENTS",
        _health_table(r.get("components")),
    ]
    return "\n".join(lines)


def tickers_list(r: dict[str, Any]) -> str:
    items = r.get("tickers") or []
    if not items:
        text = "no tracked tickers (add one: th-ctl add-ticker KXBTC15M)"
    else:
        text = table([(t.get("ticker"), t.get("status"), len(t.get("markets") or []),
                       ago(t.get("added_at")), t.get("detail")) for t in items],
                     ("ticker", "status", "markets", "added", "detail"))
    if r.get("kalshi") is False:
        text += "\n(the Kalshi feed is not running: tickers are watched once ENABLE_KALSHI=true)"
    return text


def tickers_add(r: dict[str, Any]) -> str:
    t = r.get("ticker") or {}
    verb = "now tracking" if r.get("added") else "already tracking"
    return f"{verb} {t.get('ticker')} ({t.get('status', '?')})"


def tickers_remove(r: dict[str, Any]) -> str:
    return f"stopped tracking {r.get('ticker')}"


def cents(move: float, direction: str | None) -> str:
    """A price move as the dashboard shows it: "+3¢", "−3¢" (signed by direction)."""
    c = round(abs(move) * 100, 1) * (-1 if direction == "down" else 1)
    return ("+" if c > 0 else "−" if c < 0 else "±") + f"{abs(c):g}¢"


def signals_csv(r: dict[str, Any]) -> str:
    """``th-ctl signals --csv``: the daemon's rows with the export's columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(r["columns"])
    writer.writerows(r.get("rows") or [])  # cells as the daemon made them (export.csv_cells)
    return buffer.getvalue().rstrip("\n")


def signals_list(r: dict[str, Any]) -> str:
    if "columns" in r:
        return signals_csv(r)
    items = r.get("signals") or []
    if not items:
        return "no signals yet (try: th-ctl demo-spike)"
    rows = []
    for s in items:
        read = s.get("read") or {}
        label = read.get("noise_or_signal") or read.get("status") or "-"
        if read.get("confidence"):
            label += f" ({read['confidence']})"
        rows.append((s.get("id"), ago(s.get("created_at")), s.get("tier"),
                     f"{s.get('score', 0):.2f}", cents(s.get("price_move", 0), s.get("direction")),
                     s.get("market_id"), cell(s.get("title"), 40), label))
    return table(rows, ("id", "when", "tier", "score", "move", "market", "title", "analyst"))


def plugins_list(r: dict[str, Any]) -> str:
    rows = [(p.get("name"), p.get("version"), p.get("origin"), p.get("status"),
             p.get("error") or ", ".join(p.get("hooks") or [])) for p in r.get("plugins") or []]
    return table(rows, ("plugin", "version", "origin", "status", "hooks / error"))


def demo_spike(r: dict[str, Any]) -> str:
    ids = ", ".join(f"#{i}" for i in r.get("signals") or [])
    return f"injected a spike on {r.get('market_id')}: signal {ids}"


def shutdown(r: dict[str, Any]) -> str:
    return f"stopping Trade Hunter (pid {r.get('pid')})"


def generic(result: Any) -> str:
    """Any JSON result: scalars as ``key: value``, lists of objects as tables."""
    if isinstance(result, list):
        if result and all(isinstance(x, dict) for x in result):
            headers = list(dict.fromkeys(k for x in result for k in x))
            return table([[x.get(h) for h in headers] for x in result], headers)
        return "\n".join(cell(x, 200) for x in result) or "(empty)"
    if not isinstance(result, dict):
        return cell(result, 10_000)
    parts = []
    for key, value in result.items():
        if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            parts.append(f"{key}:\n{generic(value)}")
        else:
            parts.append(f"{key}: {cell(value, 200)}")
    return "\n".join(parts) or "(empty)"


RENDERERS: dict[str, Callable[[Any], str]] = {
    "status": status,
    "tickers.list": tickers_list,
    "tickers.add": tickers_add,
    "tickers.remove": tickers_remove,
    "signals.list": signals_list,
    "plugins.list": plugins_list,
    "demo.spike": demo_spike,
    "shutdown": shutdown,
}


def render(method: str, result: Any) -> str:
    renderer = RENDERERS.get(method)
    if renderer is not None and isinstance(result, dict):
        try:
            return renderer(result)
        except (TypeError, ValueError, AttributeError, KeyError):
            pass  # an unexpected shape (newer daemon): fall back to the generic view
    return generic(result)
