"""A scorecard as a plain-text table, from its JSON form (plain dicts), so the backtest and
``th-ctl scorecard`` print the same thing. Standard library only: th-ctl imports it."""

from __future__ import annotations

from typing import Any

COLUMNS = ("group", "signals", "/mkt-h", "at", "graded", "wait", "cont", "base", "lift [95% CI]",
           "flat", "base flat", "|move|", "base |move|")


def pct(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}%"


def pts(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1f}"


def lift_text(h: dict[str, Any]) -> str:
    if h.get("lift") is None:
        return "—"
    if h.get("lift_low") is None:
        return f"{pts(h['lift'])} [n too small]"
    return f"{pts(h['lift'])} [{pts(h['lift_low'])}, {pts(h['lift_high'])}]"


def cents(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}¢"


def rows(card: dict[str, Any], horizons: tuple[str, ...] | None = None) -> list[list[str]]:
    out: list[list[str]] = []
    groups = list(card.get("groups") or [])
    total = card.get("total")
    if total and len(groups) != 1:
        groups.append(total)
    for g in groups:
        first = True
        for h in g["horizons"]:
            if horizons and h["horizon"] not in horizons:
                continue
            rate = g.get("per_market_hour")
            out.append([
                g["group"] if first else "", str(g["signals"]) if first else "",
                (f"{rate:.3f}" if rate is not None else "—") if first else "",
                "+" + h["horizon"], str(h["graded"]), str(h["waiting"]),
                pct(h["continuation"]), pct(h["baseline_continuation"]), lift_text(h),
                pct(h["flat"]), pct(h["baseline_flat"]), cents(h["mean_abs_move"]),
                cents(h["baseline_mean_abs_move"])])
            first = False
    return out


def table(header: tuple[str, ...] | list[str], body: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in body]
    return "\n".join(lines)


def settlement_lines(card: dict[str, Any]) -> list[str]:
    out = []
    for g in [*card.get("groups", []), card.get("total") or {}]:
        if not g or not g.get("settled"):
            continue
        line = (f"  {g['group']}: {g['settled']} settled, direction right "
                f"{pct(g['hit_rate'], 1)} vs {pct(g['implied_hit_rate'], 1)} implied by the price")
        if g.get("analyst_scored"):
            line += (f"; analyst Brier {g['brier']:.3f} vs market {g['brier_market']:.3f}"
                     f" (skill {g['brier_skill']:+.3f}, n={g['analyst_scored']})")
        out.append(line)
    return out


def divergence_lines(card: dict[str, Any]) -> list[str]:
    """Groups holding divergence signals: the share whose gap closed by each horizon."""
    out = []
    for g in [*card.get("groups", []), card.get("total") or {}]:
        shares = [(h["horizon"], h.get("converged")) for h in g.get("horizons") or ()]
        if g and any(x is not None for _, x in shares) and (g is not card.get("total")
                                                            or len(card["groups"]) != 1):
            out.append(f"  {g['group']}: gap closed within "
                       + ", ".join(f"+{name} {pct(x)}" for name, x in shares))
    return out


def render(card: dict[str, Any], title: str = "", horizons: tuple[str, ...] | None = None
           ) -> str:
    rate = card["signals"] / card["market_hours"] if card.get("market_hours") else None
    head = (f"{title or 'Scorecard'} by {card['group_by']}: {card['signals']} signals over "
            f"{card['market_hours']:.1f} market-hours"
            + (f" ({rate:.3f} per market-hour)" if rate is not None else ""))
    parts = [head, "", table(COLUMNS, rows(card, horizons))]
    settled = settlement_lines(card)
    if settled:
        parts += ["", "Settlement:", *settled]
    diverged = divergence_lines(card)
    if diverged:
        parts += ["", "Cross-venue divergences (converged = the gap fell to the rule's minimum):",
                  *diverged]
    parts += ["", ("cont = continued / (continued + reversed) among moves beyond the flat band; "
              "base = the same for random moved trades of the same market and day; "
              "lift = cont - base in points (95% bootstrap interval). Informational only.")]
    return "\n".join(parts)
