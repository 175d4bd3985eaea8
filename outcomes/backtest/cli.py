"""``trade-hunter backtest``: argument parsing, the run(s), and the printed scorecard."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import msgspec

from trade_hunter.plugins.errors import ConfigError

from .. import scorecard
from ..baseline import BASELINE_K
from ..grading import FLAT_BAND
from ..render import render
from .readers import InputError, read_events, read_markets
from .runner import Run, run_with

EXIT_INPUT = 2


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="trade-hunter backtest",
        description="Run the daemon's detector over recorded Kalshi trades and print how its "
                    "signals did against random moments of the same markets (informational "
                    "only). Settings start from the defaults, not from the environment.")
    p.add_argument("trades", nargs="*", type=Path,
                   help="trades CSV(.gz) in the shape of GET /markets/trades, or JSONL(.gz) "
                        "of recorded WebSocket frames")
    p.add_argument("--markets", type=Path, help="markets CSV: ticker, close_time[, title]"
                                                "[, result]")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a detector setting for the run (repeatable)")
    p.add_argument("--compare", action="append", default=[], metavar="NAME=VALUE",
                   help="run a second time with these settings too and print both")
    p.add_argument("--by", default="tier", choices=scorecard.GROUPS,
                   help="group the scorecard by this (default: tier)")
    p.add_argument("--json", action="store_true", help="print the scorecard(s) as JSON")
    p.add_argument("--signals-out", type=Path, metavar="FILE",
                   help="write every signal with its graded outcomes as JSON lines")
    p.add_argument("--baseline-k", type=int, default=BASELINE_K,
                   help=f"baseline moments per signal (default {BASELINE_K})")
    p.add_argument("--flat-band", type=float, default=FLAT_BAND,
                   help=f"a change within this many dollars is flat (default {FLAT_BAND})")
    p.add_argument("--kalshi", metavar="TICKER",
                   help="download a series', event's or market's public trade history from "
                        "Kalshi (cached under the home folder) and run on it")
    p.add_argument("--since", metavar="DATE", help="with --kalshi: trades from this date "
                                                   "(YYYY-MM-DD, UTC)")
    p.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.trades and not args.kalshi:
        p.error("give recorded trade files, or --kalshi TICKER")
    if args.baseline_k < 0:
        p.error("--baseline-k must be 0 or more")
    return args


def pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError(f"{flag} wants NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


class Progress:
    """A one-line progress count on a terminal; silent when piped."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.on = stream.isatty()

    def __call__(self, n: int) -> None:
        if self.on:
            self.stream.write(f"\rbacktest: {n:,} events read")
            self.stream.flush()

    def done(self) -> None:
        if self.on:
            self.stream.write("\r\033[K")
            self.stream.flush()


def describe(result: Run) -> str:
    from datetime import UTC, datetime

    def day(ts: float | None) -> str:
        return "—" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")
    changed = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in result.settings.items())
    return (f"{result.events:,} events, {result.markets} markets, {day(result.first)} to "
            f"{day(result.last)} UTC; {result.escalations} escalations of the signals below\n"
            f"settings: {changed}")


def card(result: Run, by: str) -> dict[str, Any]:
    built = scorecard.build(result.scored, by, market_hours=result.market_hours,
                            since=result.first, until=result.last)
    return msgspec.to_builtins(built)  # type: ignore[no-any-return]


def main(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = parse_args(argv)
    try:
        files = list(args.trades)
        markets_file = args.markets
        if args.kalshi:
            from .download import download_cached
            trades_file, downloaded = download_cached(args.kalshi, args.since, args.home, err)
            files.append(trades_file)
            markets_file = markets_file or downloaded
        markets = read_markets(markets_file) if markets_file else {}
        progress = Progress(err)
        events = [e for f in files for e in read_events(f)]
        events.sort(key=lambda e: e.timestamp)  # stable: same-time events keep file order
        base = run_with(events, markets, pairs(args.set, "--set"), k=args.baseline_k,
                        band=args.flat_band, progress=progress)
        other = None
        if args.compare:
            overrides = {**pairs(args.set, "--set"), **pairs(args.compare, "--compare")}
            other = run_with([msgspec.structs.replace(e) for e in events], markets, overrides,
                             k=args.baseline_k, band=args.flat_band)
        progress.done()
    except (InputError, ConfigError, OSError) as exc:
        print(f"trade-hunter backtest: {exc}", file=err)
        return EXIT_INPUT
    report(base, other, args, out)
    return 0


def report(base: Run, other: Run | None, args: argparse.Namespace, out: TextIO) -> None:
    cards = {"run": card(base, args.by)}
    if other is not None:
        cards["compare"] = card(other, args.by)
    if args.signals_out:
        write_signals(args.signals_out, base)
    if args.json:
        payload: dict[str, Any] = {
            "data": {"events": base.events, "markets": base.markets, "first": base.first,
                     "last": base.last},
            "settings": base.settings, "scorecard": cards["run"]}
        if other is not None:
            payload["compare"] = {"settings": other.settings, "scorecard": cards["compare"]}
        out.write(msgspec.json.encode(payload).decode() + "\n")
        return
    out.write(describe(base) + "\n\n" + render(cards["run"], "Backtest") + "\n")
    if other is not None:
        out.write("\n" + describe(other).split("\n", 1)[1] + "\n\n"
                  + render(cards["compare"], "Compared run") + "\n\n"
                  + difference(cards["run"], cards["compare"]) + "\n")


def difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    lines = ["Difference (compared − run):",
             f"  signals {b['signals'] - a['signals']:+d}"]
    ta, tb = a.get("total") or {}, b.get("total") or {}
    for ha, hb in zip(ta.get("horizons", []), tb.get("horizons", []), strict=False):
        if ha.get("lift") is None or hb.get("lift") is None:
            continue
        lines.append(f"  +{ha['horizon']} lift {hb['lift'] - ha['lift']:+.1f} points "
                     f"({ha['lift']:+.1f} → {hb['lift']:+.1f})")
    return "\n".join(lines)


def write_signals(path: Path, result: Run) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(msgspec.json.encode({
                "market_id": signal.market_id, "created_at": signal.created_at,
                "yes_price": signal.yes_price, "direction": signal.direction,
                "tier": signal.tier, "rule": signal.rule, "score": signal.score,
                "volume_delta": signal.volume_delta, "price_move": signal.price_move,
                "outcomes": scored.horizons, "baseline": scored.baseline,
                "result": scored.result}).decode() + "\n" for signal, scored in zip(result.signals, result.scored, strict=True))
