"""Human-readable output of ``th-ctl``: one renderer per method, a generic one for the rest
(plugin methods, new table entries); tables drawn with ``rich`` (imported only when a table is
drawn, so ``--json`` and ``-o csv`` stay standard library only), and CSV.

``OUTPUT`` says how: ``width`` (the terminal's columns; ``None`` = as wide as the content, for
pipes and ``--wide``) and ``color`` (only on a terminal, never with ``NO_COLOR``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from trade_hunter.outcomes.render import render as render_scorecard

MAX_CELL = 48  # ``cell()``'s default cut, for one-line summaries (tables size to the width)
UNLIMITED = 10_000
STATE_STYLES = {"running": "green", "connected": "green", "loaded": "green", "active": "green",
                "done": "green", "applied": "green", "signal": "green",
                "degraded": "yellow", "reconnecting": "yellow", "restarting": "yellow",
                "pending": "yellow", "suggested": "yellow", "uncertain": "yellow",
                "starting": "yellow", "failed": "red", "unresolved": "red", "expired": "dim",
                "disabled": "dim", "stopped": "dim", "noise": "dim",
                "high conviction flow": "bold magenta", "notable": "cyan", "watch": "dim"}


@dataclass
class Output:
    width: int | None = None
    color: bool = False

    @classmethod
    def for_stream(cls, stream: TextIO, *, wide: bool = False,
                   environ: dict[str, str] | None = None) -> Output:
        """A terminal gets its width and colours (unless ``NO_COLOR`` is set, to anything
        non-empty, or ``TERM=dumb``); a pipe or file gets neither, and full cells."""
        env = os.environ if environ is None else environ
        tty = stream.isatty()
        color = tty and not env.get("NO_COLOR") and env.get("TERM") != "dumb"
        width = None if wide or not tty else shutil.get_terminal_size().columns
        return cls(width, color)


OUTPUT = Output()


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


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str],
          out: Output | None = None) -> str:
    """Columns of cells under upper-case headers. Within a width, the widest columns are
    cut with an ellipsis; without one, every cell is whole."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    out = out or OUTPUT
    grid = Table(box=box.SIMPLE_HEAD if out.color else None, show_edge=False, pad_edge=False,
                 header_style="bold" if out.color else "", expand=False)
    cells = [[cell(value, UNLIMITED) for value in row] for row in rows]
    for i, h in enumerate(headers):
        longest = max([len(r[i]) for r in cells] or [0])
        # Short columns (ids, states, scores) stay whole; long text is what gets cut.
        # (The column may wrap, or rich would not shrink it; each cell is one line.)
        grid.add_column(h.upper(), overflow="ellipsis", min_width=max(len(h), min(longest, 16)))
    for row_cells in cells:
        grid.add_row(*(Text(text, style=STATE_STYLES.get(text, "") if out.color else "",
                            no_wrap=True, overflow="ellipsis") for text in row_cells))
    console = Console(file=io.StringIO(), width=out.width or UNLIMITED,
                      force_terminal=out.color, no_color=not out.color,
                      color_system="auto" if out.color else None, highlight=False,
                      emoji=False, markup=False, legacy_windows=False)
    console.print(grid)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def to_csv(method: str, result: Any) -> str:
    """The list a command is about as CSV rows (nested values as JSON); a plain object as
    ``key,value`` rows."""
    items = _listed(method, result)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if items is not None:
        headers = list(dict.fromkeys(k for x in items for k in x))
        writer.writerow(headers)
        for x in items:
            writer.writerow([_csv_value(x.get(h)) for h in headers])
    elif isinstance(result, dict):
        writer.writerow(["key", "value"])
        for key, value in result.items():
            writer.writerow([key, _csv_value(value)])
    else:
        writer.writerow([_csv_value(result)])
    return buffer.getvalue().rstrip("\n")


LISTS = {"signals.list": "signals", "tickers.list": "tickers", "plugins.list": "plugins",
         "tuning.show": "suggestions", "methods": "methods"}


def _listed(method: str, result: Any) -> list[dict[str, Any]] | None:
    if isinstance(result, list) and all(isinstance(x, dict) for x in result):
        return result
    if not isinstance(result, dict):
        return None
    key = LISTS.get(method)
    if key is None:
        key = next((k for k, v in result.items() if isinstance(v, list) and v
                    and all(isinstance(x, dict) for x in v)), None)
    value = result.get(key) if key else None
    return value if isinstance(value, list) else None


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def is_terminal() -> bool:
    return sys.stdout.isatty()


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
        text = table([(t.get("ticker"), t.get("feed"), t.get("status"),
                       len(t.get("markets") or []), ago(t.get("added_at")), t.get("detail"))
                      for t in items],
                     ("ticker", "feed", "status", "markets", "added", "detail"))
    idle = [f["name"] for f in r.get("feeds") or [] if not f.get("running")]
    if idle:
        text += (f"\n(not running: {', '.join(idle)}; their tickers are saved and watched "
                 "once the feed runs)")
    return text


def tickers_add(r: dict[str, Any]) -> str:
    t = r.get("ticker") or {}
    verb = "now tracking" if r.get("added") else "already tracking"
    return f"{verb} {t.get('ticker')} ({t.get('status', '?')})"


def tickers_remove(r: dict[str, Any]) -> str:
    return f"stopped tracking {r.get('ticker')}"


def _pair_text(p: dict[str, Any]) -> str:
    side = "YES is YES" if p.get("mapping") == "yes" else "YES of a is NO of b"
    return (f"#{p.get('id')} {p.get('a_platform')}:{p.get('a_market')} ↔ "
            f"{p.get('b_platform')}:{p.get('b_market')} ({side})")


def pairs_list(r: dict[str, Any]) -> str:
    pairs = r.get("pairs") or []
    if not pairs:
        return "no pairs (add one: th-ctl pair-add KALSHI-TICKER polymarket-slug:yes)"
    return table([(p.get("id"), f"{p.get('a_platform')}:{p.get('a_market')}",
                    f"{p.get('b_platform')}:{p.get('b_market')}", p.get("mapping"),
                    ago(p.get("created_at"))) for p in pairs],
                 ("id", "a", "b", "mapping", "added"))


def pairs_add(r: dict[str, Any]) -> str:
    verb = "paired" if r.get("added") else "already paired"
    return f"{verb} {_pair_text(r['pair'])}"


def pairs_remove(r: dict[str, Any]) -> str:
    return f"removed {_pair_text(r['pair'])}"


def feeds_search(r: dict[str, Any]) -> str:
    hits = r.get("results") or []
    if not hits:
        names = r.get("categories") or []
        return (f"{r.get('feed')}: search one of: {', '.join(names)}" if not r.get("query")
                else f"{r.get('feed')}: nothing open in {', '.join(names) or r.get('query')}")
    text = table([(h.get("id"), h.get("title"), h.get("category"),
                   "" if h.get("price") is None else f"{h['price']:.2f}",
                   "" if h.get("volume") is None else f"{h['volume']:,.0f}") for h in hits],
                 ("id", "title", "category", "price", "volume"))
    more = f"\n(showing {len(hits)} of {r.get('total')})" if r.get("truncated") else ""
    return text + more + f"\n(track one: th-ctl add-ticker --feed {r.get('feed')} ID)"


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
    lines = table(rows, ("id", "when", "tier", "score", "move", "market", "title",
                         "analyst")).split("\n")
    # Each row is one line (the header may have a rule under it): its outcomes go below it.
    head, body = lines[:len(lines) - len(items)], lines[len(lines) - len(items):]
    out = list(head)
    for s, line in zip(items, body, strict=True):
        out.append(line)
        graded = [outcome_text(o) for o in s.get("outcomes") or ()
                  if o.get("outcome", "no data") != "no data"]
        if graded:
            out.append("    " + " · ".join(graded))
    return "\n".join(out)


def outcome_text(o: dict[str, Any]) -> str:
    """``+5m ▲ continued +3¢``: the horizon, the price's way, the class, the change."""
    change = o.get("change") or 0.0
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    text = f"+{o.get('horizon')} {arrow} {o.get('outcome')} {round(100 * change, 1):+g}¢"
    return text + (" (at the close)" if o.get("capped") else "")


def plugins_list(r: dict[str, Any]) -> str:
    rows = [(p.get("name"), p.get("version"), p.get("origin"), p.get("status"),
             p.get("error") or ", ".join(p.get("hooks") or [])) for p in r.get("plugins") or []]
    return table(rows, ("plugin", "version", "origin", "status", "hooks / error"))


def relays_list(r: dict[str, Any]) -> str:
    rows = [(x.get("path"), x.get("name"), x.get("auth"), ago(x.get("last_delivery")),
             x.get("deliveries"), x.get("accepted"), x.get("duplicates"),
             x.get("error_count"), _counts(x.get("errors")),
             f"{x.get('last_error')} ({ago(x.get('last_error_at'))})"
             if x.get("last_error") else "-") for x in r.get("routes") or []]
    return table(rows, ("route", "name", "auth", "last delivery", "deliveries", "accepted",
                        "duplicates", "errors", "by code", "last error"))


def methods(r: dict[str, Any]) -> str:
    rows = [(m.get("name"), m.get("command"), m.get("http") or "-", m.get("help"))
            for m in r.get("methods") or []]
    text = table(rows, ("method", "th-ctl", "http", "what"))
    return text + (f"\n({r['note']})" if r.get("note") else "")


def tuning_show(r: dict[str, Any]) -> str:
    thresholds = r.get("thresholds") or {}
    state = r.get("state") or ("on" if r.get("available") else "off")
    every = duration(r.get("interval_seconds") or 0)
    window = f"{cell(r.get('window_hours'))}h"
    lines = [f"tuning advisor: {state} -- {r.get('detail') or ''}".rstrip(" -"),
             f"last run   {ago(r.get('last_run_at'))}; every {every} over {window}",
             f"backlog    {r.get('backlog_path') or '-'}",
             f"thresholds {', '.join(f'{k} {cell(v)}' for k, v in thresholds.items()) or '-'}",
             f"labels     {_counts(r.get('labels'))}"]
    suggestions = r.get("suggestions") or []
    lines += ["", "SUGGESTIONS"]
    lines.append(table([(e.get("id"), e.get("status"), e.get("knob"),
                         f"{cell(e.get('from'))} → {cell(e.get('to'))}", e.get("date"),
                         e.get("evidence")) for e in suggestions],
                       ("id", "status", "knob", "change", "date", "evidence"))
                 if suggestions else "  (none yet)")
    patterns = r.get("patterns") or []
    if patterns:
        lines += ["", "NOISE PATTERNS"]
        lines.append(table([(p.get("dimension"), p.get("value"), p.get("noise"),
                             p.get("total"), f"{(p.get('share') or 0):.0%}")
                            for p in patterns],
                           ("dimension", "value", "noise", "signals", "share")))
    return "\n".join(lines)


def demo_spike(r: dict[str, Any]) -> str:
    ids = ", ".join(f"#{i}" for i in r.get("signals") or [])
    return f"injected a spike on {r.get('market_id')}: signal {ids}"


def scorecard(r: dict[str, Any]) -> str:
    text = render_scorecard(r)
    if r.get("open"):
        text += f"\n{r['open']} signal(s) still wait for a horizon."
    if r.get("baseline_open"):
        text += (f"\n{r['baseline_open']} signal(s) graded at every horizon; their baselines "
                 "grow until the day is over.")
    return text


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


def silence_list(r: dict[str, Any]) -> str:
    rows = [(s.get("id"), s.get("kind"), s.get("state"), " ".join(s.get("matchers") or []),
             time.strftime("%Y-%m-%d %H:%M", time.localtime(s.get("expired_at") or
                                                            s.get("ends_at") or 0)),
             s.get("comment")) for s in r.get("silences") or []]
    muted = r.get("muted_today") or {}
    head = (f"{muted.get('alerts', 0)} alerts muted by {muted.get('silences', 0)} silences "
            f"today · {r.get('unread', 0)} unread")
    if not rows:
        return head + "\nno silences or snoozes (th-ctl silence add topic=crypto)"
    return head + "\n" + table(rows, ["id", "kind", "state", "matchers", "until", "comment"])


def digest_run(r: dict[str, Any]) -> str:
    text = f"{r.get('title', '')}\n\n{r.get('body', '')}"
    for a in r.get("results") or []:
        text += f"\n{a.get('notifier')}: {'delivered' if a.get('ok') else a.get('answer')}"
    return text


def notify_test(r: dict[str, Any]) -> str:
    return "\n".join(f"{a.get('notifier')}: {'delivered' if a.get('ok') else 'FAILED'}"
                     f"{'' if a.get('ok') else ' — ' + str(a.get('answer'))}"
                     for a in r.get("results") or []) or "no notifier"


RENDERERS: dict[str, Callable[[Any], str]] = {
    "silence.list": silence_list,
    "digest.run": digest_run,
    "notify.test": notify_test,
    "status": status,
    "tickers.list": tickers_list,
    "tickers.add": tickers_add,
    "tickers.remove": tickers_remove,
    "feeds.search": feeds_search,
    "pairs.list": pairs_list,
    "pairs.add": pairs_add,
    "pairs.remove": pairs_remove,
    "signals.list": signals_list,
    "plugins.list": plugins_list,
    "tuning.show": tuning_show,
    "methods": methods,
    "demo.spike": demo_spike,
    "relays.list": relays_list,
    "scorecard": scorecard,
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
