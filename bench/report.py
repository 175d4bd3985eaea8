"""The benchmark results as a console table and as docs/PERFORMANCE.md.

The figures and their explanations are generated from one run's results; what was changed
to reach them (a record of the work, measured once) is bench/changes.md, appended as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHANGES = Path(__file__).with_name("changes.md")

MB = 1e6
MIB = 2**20


def _ms(f: dict[str, Any]) -> str:
    return f"p50 {f['p50_ms']:.1f} / p99 {f['p99_ms']:.1f} / max {f['max_ms']:.0f} ms"


def rows(r: dict[str, Any]) -> list[dict[str, str]]:
    """One row per figure: what was measured, its reference, the ratio, the target, met?"""
    out: list[dict[str, str]] = []

    def add(figure: str, measured: str, reference: str, ratio: str, target: str,
            met: bool | None) -> None:
        out.append({"figure": figure, "measured": measured, "reference": reference,
                    "ratio": ratio, "target": target,
                    "met": "—" if met is None else ("yes" if met else "NO")})

    if "ingest" in r:
        i = r["ingest"]
        add("1. Ingest, one core (wall clock)", f"{i['events_per_s']:,.0f} events/s",
            f"floor {i['floor_events_per_s']:,.0f} events/s", f"{i['ratio']:.2f} × floor",
            "≥ 50,000/s and ≥ 0.33 × floor",
            i["events_per_s"] >= 50_000 and i["ratio"] >= 0.33)
        add("   per CPU-second (all threads)", f"{i['events_per_cpu_s']:,.0f} events/s",
            f"floor {i['floor_events_per_cpu_s']:,.0f} events/s",
            f"{i['cpu_ratio']:.2f} × floor", "—", None)
    if "latency" in r:
        lat = r["latency"]
        det, com = lat["detected"], lat["committed"]
        add("2. Frame → signal handed to notifiers", _ms(det), "target p99 20 ms",
            f"{det['p99_ms'] / 20:.2f} × target", "p99 < 20 ms", det["p99_ms"] < 20)
        if lat["notified"].get("count"):
            add("   frame → notifier called (outbox, after commit)", _ms(lat["notified"]),
                "—", "—", "—", None)
        add("   frame → committed in SQLite", _ms(com), "target p99 300 ms",
            f"{com['p99_ms'] / 300:.2f} × target", "p99 < 300 ms", com["p99_ms"] < 300)
    if "state" in r:
        s = r["state"]
        busy, quiet = s["ingesting"], s["quiet"]
        add(f"3. GET /api/state, {busy['events_per_s']:,.0f} events/s in",
            f"p50 {busy['p50_ms']:.1f} / p95 {busy['p95_ms']:.1f} ms",
            f"quiet p95 {quiet['p95_ms']:.1f} ms", f"{busy['p95_ms'] / quiet['p95_ms']:.2f} × quiet",
            "p95 < 50 ms", busy["p95_ms"] < 50)
        add("   payload", f"{busy['bytes'] / 1000:.0f} KB", "target 300 KB",
            f"{busy['bytes'] / 300_000:.2f} × target", "< 300 KB", busy["bytes"] < 300_000)
    if "memory" in r:
        m = r["memory"]
        peak = m["peak_rss_mib"] * MIB / MB
        idle = m["idle_rss_mib"] * MIB / MB
        add(f"4. Peak RSS, {m['markets']:,} markets, {m['minutes']:.0f} min of traffic",
            f"{peak:.0f} MB ({m['peak_rss_mib']:.0f} MiB)",
            f"idle, states loaded {idle:.0f} MB", f"{peak / idle:.2f} × idle", "< 250 MB",
            peak < 250)
    if "startup" in r:
        st = r["startup"]
        add("5. Start-up, empty home", f"{st['empty_s']:.2f} s", "target 2 s",
            f"{st['empty_s'] / 2:.2f} × target", "< 2 s", st["empty_s"] < 2)
        add(f"   with a week ({st['week_events'] / 1e6:.1f} M events)", f"{st['week_s']:.2f} s",
            f"empty {st['empty_s']:.2f} s", f"{st['week_s'] / st['empty_s']:.2f} × empty",
            "< 3 s", st["week_s"] < 3)
    if "backtest" in r:
        b = r["backtest"]
        for profile in ("gated", "classic"):
            rate = b[f"{profile}_trades_per_s"]
            add(f"6. Backtest detector path ({profile})", f"{rate:,.0f} trades/s",
                "target 200,000 trades/s", f"{rate / 200_000:.2f} × target", "≥ 200,000/s",
                rate >= 200_000)
        add(f"   backtest end to end, {b['trades']:,} trades", f"{b['end_to_end_s']:.2f} s",
            "target 3 s", f"{b['end_to_end_s'] / 3:.2f} × target", "< 3 s",
            b["end_to_end_s"] < 3)
    return out


def render_table(r: dict[str, Any]) -> str:
    table = rows(r)
    heads = ("figure", "measured", "reference", "ratio", "target", "met")
    widths = {h: max(len(h), *(len(row[h]) for row in table)) if table else len(h)
              for h in heads}
    lines = ["  ".join(h.ljust(widths[h]) for h in heads),
             "  ".join("-" * widths[h] for h in heads)]
    lines += ["  ".join(row[h].ljust(widths[h]) for h in heads) for row in table]
    return "\n".join(lines)


def _load(r: dict[str, Any]) -> str:
    loads = [f"{name} {r[name]['load'][0]:.1f}" for name in
             ("ingest", "latency", "state", "memory", "startup")
             if name in r and r[name].get("load")]
    return ", ".join(loads) if loads else "n/a"


def render_markdown(r: dict[str, Any], command: str) -> str:
    m = r["machine"]
    table = rows(r)
    out = [
        "# Performance",
        "",
        ("Generated by `./run-bench` (`python -m bench`, see bench/); do not edit by hand: "
         "rerun it. Every figure is measured in one run side by side with its reference."),
        "",
        f"- **Date:** {m['date']}  ",
        (f"- **Machine:** {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, "
         f"{m['os']}  "),
        f"- **Python:** {m['python']}; SQLite {m['sqlite']}  ",
        (f"- **Command:** `{command}` ({r['total_seconds']} s in all"
         f"{'; quick sizes, not the targets’ conditions' if r.get('quick') else ''})  "),
        (f"- **Load average (1 min) when each figure finished:** {_load(r)}. The machine is "
         "shared, so wall-clock figures vary from run to run (±20 % seen for ingest); the "
         "per-event CPU figures move less."),
        "",
        "| Figure | Measured | Reference | Ratio | Target | Met |",
        "|---|---|---|---|---|---|",
    ]
    out += [f"| {_name(x['figure'])} | {x['measured']} | {x['reference']} | {x['ratio']} | "
            f"{x['target']} | {x['met']} |" for x in table]
    out += _details(r)
    return "\n".join(out) + "\n"


def _name(figure: str) -> str:
    return f"↳ {figure.strip()}" if figure.startswith(" ") else figure


def _details(r: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "ingest" in r:
        i = r["ingest"]
        runs = ", ".join(f"{x:,}" for x in i["all_runs"])
        floors = ", ".join(f"{x:,}" for x in i["all_floors"])
        out += [
            "", "## 1. Ingest throughput", "",
            (f"{i['frames']:,} Kalshi frames (ticker and trade, current fixed-point format) over "
             f"{i['markets']:,} markets → {i['events']:,} events ({i['signals']} signals), "
             "through the real daemon: the Kalshi session's frame decoding, the feed's "
             "de-duplication, the ingest channel, detection against warm states (31 minutes "
             "of history per market), live windows, batched SQLite commits; timed from the "
             "frames reaching the socket's receive queue to the last event committed. The "
             "floor parses the same frames with `json.loads` and inserts the rows with "
             "`executemany` into the same schema and connection settings, nothing else. "
             f"Process pinned to one core; best of {i['repeat']} alternating runs each "
             f"(pipeline: {runs} events/s; floor: {floors})."),
            "",
            (f"CPU per event: event loop {i['loop_us']:.1f} µs + SQLite writer thread "
             f"{i['writer_us']:.1f} µs = {i['loop_us'] + i['writer_us']:.1f} µs; the floor "
             f"spends {i['floor_us']:.1f} µs, of which SQLite's inserts are most. The pipeline "
             "does the floor's work (its writer inserts the same rows) plus typed decoding, "
             "validation, de-duplication, detection and the live windows in Python."),
        ]
        out += _ingest_limits(i)
    if "latency" in r:
        lat = r["latency"]
        out += [
            "", "## 2. Detection latency", "",
            (f"{lat['rate']:,.0f} frames/s for {lat['seconds']:.0f} s over {lat['markets']:,} "
             f"markets (achieved {lat['achieved_rate']:,.0f}/s), {lat['signals']} signals. "
             "Each frame carries its arrival time; *detected* is the pipeline's hand-off to "
             "the notifier outbox and the analyst queue, *notifier called* is a notifier's "
             "`notify()` through the durable outbox (its rows are committed first), "
             "*committed* is the event visible to another SQLite connection (polled every "
             "2 ms). Committed latency is the pipeline's batching by design: a batch is "
             "written after a 5 ms pause in arrivals, at 5,000 events or after 100 ms, "
             "whichever comes first; at a steady 2,000 frames/s the 100 ms bound decides. "
             "Alerts delivered twice by the outbox (at-least-once) were timed once: "
             f"{lat.get('repeated_alerts', 0)} repeats."),
        ]
    if "state" in r:
        s = r["state"]
        out += [
            "", "## 3. Dashboard state", "",
            (f"A week of history ({s['stored_events']:,} events over {s['markets']:,} "
             "markets, 20,000 signals with reads) and full live windows "
             f"({s['tape_markets']:,} markets on the tape, {s['live_signals']} signals); "
             f"{s['requests']} requests each quiet and while "
             f"{s['ingesting']['events_per_s']:,.0f} events/s arrive "
             f"({s['ingesting']['frames_per_s']:,.0f} frames/s). `/api/state` is built from "
             "bounded in-memory windows only; the same tape read from the history "
             f"(`SELECT market_id, MAX(ts) … GROUP BY market_id`) takes {s['scan_ms']:.0f} "
             f"ms, {s['scan_ms'] / s['quiet']['p50_ms']:.0f}× a whole quiet `/api/state`."),
        ]
    if "memory" in r:
        mm = r["memory"]
        out += [
            "", "## 4. Memory", "",
            (f"{mm['markets']:,} tracked markets, {mm['minutes']:.0f} minutes of exchange "
             "time at one event per market every 5 s (every market with its full price "
             f"history): the first {mm['warm_minutes']:.0f} minutes computed straight into "
             "detector states (stored; loaded at start, as after a restart), the rest "
             f"({mm['frames']:,} frames, {mm['events']:,} events, {mm['signals']:,} signals) "
             f"through the daemon in {mm['seconds_run']:.0f} s while the dashboard polls. "
             f"Peak RSS (VmHWM) {mm['peak_rss_mib']:.0f} MiB; at the end "
             f"{mm['end_rss_mib']:.0f} MiB; idle with the states loaded "
             f"{mm['idle_rss_mib']:.0f} MiB. Database {mm['db_mib']:.0f} MiB on disk."),
        ]
    if "startup" in r:
        st = r["startup"]
        empty = ", ".join(f"{x:.2f}" for x in st["empty_runs"])
        week = ", ".join(f"{x:.2f}" for x in st["week_runs"])
        out += [
            "", "## 5. Start-up", "",
            ("`trade-hunter` launched with defaults and its own home; clock stopped at the "
             f"first 200 from `/api/health`; median of {st['repeat']} (empty: {empty} s; "
             f"week, {st['week_db_mb']:.0f} MB: {week} s). The first launch with a week "
             "pays for reading the database into the page cache."),
        ]
    if "profile" in r:
        out += _profile(r["profile"])
    out += ["", CHANGES.read_text(encoding="utf-8").rstrip("\n")]
    return out


def _ingest_limits(i: dict[str, Any]) -> list[str]:
    """How far the rate is from 50,000/s run by run, and why, from the run's own figures."""
    runs, floors = i["all_runs"], i["all_floors"]
    ratios = sorted(r / f for r, f in zip(runs, floors, strict=True))
    median = ratios[len(ratios) // 2]
    reached = sum(r >= 50_000 for r in runs)
    out = [
        "",
        (f"{reached} of {len(runs)} pipeline runs reached 50,000 events/s; the figure is the "
         "best (noise from other processes only ever slows a run down). Run by run the "
         f"pipeline did {ratios[0]:.2f}-{ratios[-1]:.2f} of the floor measured just before "
         f"it (median {median:.2f}): the ratio stays put while the machine's speed moves "
         f"(floors {min(floors):,}-{max(floors):,} events/s in this run), so 50,000/s needs "
         f"a machine whose floor reaches about {50_000 / median:,.0f}."),
    ]
    if i["events_per_s"] >= 50_000:
        return out
    per_event = i["loop_us"] + i["writer_us"]
    return [*out, "", (
        f"**Not met in this run: {i['events_per_s']:,.0f} events/s against 50,000.** One "
        f"core has 20 µs per event for 50,000/s; the pipeline spent {per_event:.1f} µs of "
        f"CPU per event ({i['loop_us']:.1f} in the event loop, {i['writer_us']:.1f} in "
        "SQLite). What is left is spread thin (the profile below): Python in the loop "
        "(typed decoding, de-duplication, the detector's per-market state, the live "
        "windows), each part 1-3 µs and each touching one of 2,000 markets' state at random "
        "(see memory locality below), and SQLite's own cost for a row and its two indexes in "
        "the writer.")]


def _profile(p: dict[str, Any]) -> list[str]:
    parts = ", ".join(f"{k} {v:.2f} µs" for k, v in p["writer_parts_us"].items())
    out = [
        "", "## Profile evidence (ingest)", "",
        (f"pyinstrument on the event loop thread over {p['events']:,} events (sampling "
         "every 0.5 ms; its overhead roughly doubles the loop's time: "
         f"{p['loop_us']:.1f} µs per event under the profiler); the writer thread timed from "
         f"inside, without a profiler: {p['writer_us']:.1f} µs CPU per event ({parts}). "
         "*Waiting in epoll* is the loop idle while the writer thread has the one core."),
        "",
        "| µs/event self | µs/event incl. | function |",
        "|---:|---:|---|",
    ]
    out += [f"| {row['self_us']:.2f} | {row['total_us']:.2f} | `{row['function']}` |"
            for row in p["loop_table"][:20]]
    if p.get("detector_us"):
        (few, few_us), (many, many_us) = p["detector_us"].items()
        out += ["", (
            f"Memory locality: the detector alone (parsed events, warm states, no daemon) "
            f"spends {few_us:.2f} µs per event over {int(few):,} markets and {many_us:.2f} µs "
            f"over {int(many):,}: the same code and the same number of events, but one "
            "market's state at random per event no longer stays in the CPU's caches. Every "
            "per-market step of the loop (the feed's last quote, the detector state, the "
            "tape entry) pays this.")]
    return out
