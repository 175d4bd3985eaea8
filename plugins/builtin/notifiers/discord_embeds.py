"""Discord message bodies for alerts: one embed per message, every field within Discord's
limits (truncated, never rejected for length), and no mention can ever ping anyone.

Limits (Discord "Embed Limits"): title 256, description 4096, 25 fields, field name 256,
field value 1024 (and not empty), footer 2048, author 256, and at most 6000 characters for all
of those together. Discord trims whitespace and does not say whether it counts code points or
UTF-16 units, so lengths here are counted in UTF-16 units (never fewer than code points).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from trade_hunter.plugins.models import Alert, AnalystRead, SpikeSignal

TITLE, DESCRIPTION, FIELDS, FIELD_NAME, FIELD_VALUE, FOOTER, TOTAL = (
    256, 4096, 25, 256, 1024, 2048, 6000)
USERNAME = "Trade Hunter"
NO_PINGS: dict[str, Any] = {"parse": []}
TIER_COLOURS = {"high conviction flow": 0xE74C3C, "notable": 0xE67E22, "watch": 0xF1C40F}
LABEL_COLOURS = {"signal": 0x2ECC71, "noise": 0x95A5A6, "uncertain": 0x3498DB}
ARROWS = {"up": "▲", "down": "▼", "flat": "▶"}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,200}$")
HTTP_URL = re.compile(r"^https?://[^\s<>\"]{1,500}$")


# --------------------------------------------------------------------------- lengths
def units(text: str) -> int:
    """Length in UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int, *, empty: str = "") -> str:
    """``text`` trimmed and cut to ``limit`` units, ending in "…" when cut."""
    text = (text or "").strip()
    if units(text) <= limit:
        return text or empty
    out, used = [], 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > limit - 1:
            break
        out.append(ch)
        used += size
    return "".join(out).rstrip() + "…"


def embed_size(embed: dict[str, Any]) -> int:
    total = units(embed.get("title", "")) + units(embed.get("description", ""))
    total += units(embed.get("footer", {}).get("text", ""))
    total += units(embed.get("author", {}).get("name", ""))
    for f in embed.get("fields", []):
        total += units(f["name"]) + units(f["value"])
    return total


def fit(embed: dict[str, Any]) -> dict[str, Any]:
    """Enforce every per-field limit, then the 6000 total (shrinking the description first,
    then dropping trailing fields)."""
    if "title" in embed:
        embed["title"] = clip(embed["title"], TITLE, empty="(untitled market)")
    if "description" in embed:
        embed["description"] = clip(embed["description"], DESCRIPTION)
        if not embed["description"]:
            del embed["description"]
    if "footer" in embed:
        embed["footer"]["text"] = clip(embed["footer"]["text"], FOOTER, empty="Trade Hunter")
    embed["fields"] = [
        {"name": clip(f["name"], FIELD_NAME, empty="—"),
         "value": clip(f["value"], FIELD_VALUE, empty="—"), "inline": f.get("inline", True)}
        for f in embed.get("fields", [])[:FIELDS]]
    excess = embed_size(embed) - TOTAL
    if excess > 0 and "description" in embed:
        keep = max(units(embed["description"]) - excess, 0)
        embed["description"] = clip(embed["description"], max(keep, 1))
        excess = embed_size(embed) - TOTAL
    while excess > 0 and embed["fields"]:
        embed["fields"].pop()
        excess = embed_size(embed) - TOTAL
    return embed


# --------------------------------------------------------------------------- formatting
def market_url(signal: SpikeSignal) -> str | None:
    """A link to the market's page when it can be known (http(s) only: Discord rejects
    anything else in an embed URL)."""
    meta_url = signal.event.metadata.get("url") if signal.event.metadata else None
    if isinstance(meta_url, str) and HTTP_URL.match(meta_url):
        return meta_url
    platform, market = signal.platform.lower(), signal.market_id
    if platform == "kalshi" and market:
        series = market.split("-", 1)[0].lower()
        return f"https://kalshi.com/markets/{quote(series)}"
    if platform == "polymarket" and _SLUG.match(market):
        return f"https://polymarket.com/market/{market}"
    return None


def cents(price: float | None) -> str:
    return "—" if price is None else f"{price * 100:.1f}¢".replace(".0¢", "¢")


def signed_cents(move: float | None) -> str:
    if move is None:
        return "—"
    return f"{move * 100:+.1f}¢".replace(".0¢", "¢")


def amount(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}".rstrip("0").rstrip(".")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _footer(signal: SpikeSignal, extra: str = "") -> dict[str, str]:
    parts = ["Trade Hunter", f"signal #{signal.id}" if signal.id is not None else "",
             f"via {signal.source}" if signal.source else "", extra,
             "informational only, not trading advice"]
    return {"text": " · ".join(p for p in parts if p)}


def detector_embed(signal: SpikeSignal) -> dict[str, Any]:
    ctx = signal.context
    arrow = ARROWS.get(signal.direction, "")
    fields = [
        {"name": "Market", "value": f"`{signal.market_id}` · {signal.platform}"},
        {"name": "Price", "value": f"{cents(signal.yes_price)} ({arrow} "
                                   f"{signed_cents(signal.price_move)})"},
        {"name": "Volume", "value": f"{amount(signal.volume_delta)} vs "
                                    f"{amount(signal.baseline)} baseline "
                                    f"({signal.volume_multiple:.1f}×)"},
        {"name": "Score", "value": f"{signal.score:.2f} · {signal.rule} rule"},
        {"name": "Tier", "value": signal.tier},
        {"name": "Topic", "value": signal.topic},
    ]
    if signal.vendor is not None:  # relayed from another service, not our detector's
        who = f" · by {signal.vendor.trader}" if signal.vendor.trader else ""
        fields.insert(0, {"name": "Vendor alert",
                          "value": f"{signal.source} · {signal.vendor.alert_type}{who}"})
    moves = [f"{label} {signed_cents(v)}" for label, v in (
        ("1m", ctx.price_change_1m), ("5m", ctx.price_change_5m),
        ("30m", ctx.price_change_30m)) if v is not None]
    if moves:
        fields.append({"name": "Recent moves", "value": " · ".join(moves)})
    if ctx.yes_trades or ctx.no_trades:
        fields.append({"name": "Taker mix", "value": f"{ctx.yes_trades} yes / "
                                                     f"{ctx.no_trades} no"})
    if ctx.spread is not None:
        fields.append({"name": "Spread", "value": cents(ctx.spread)})
    when = int(signal.created_at or signal.event.timestamp)
    fields.append({"name": "Time", "value": f"<t:{when}:T> (<t:{when}:R>)"})
    embed: dict[str, Any] = {
        "type": "rich",
        "title": ("[DEMO] " if signal.demo else "") + (signal.title or signal.market_id),
        "description": _escalation(signal) + f"Unusual {signal.tier} activity: "
                       f"{signal.volume_multiple:.1f}× the usual volume, price "
                       f"{signed_cents(signal.price_move)} ({signal.direction})."
        if signal.vendor is None else f"Alert relayed from {signal.source} "
                                      f"({signal.vendor.alert_type}), not our detector's.",
        "color": TIER_COLOURS.get(signal.tier, 0x95A5A6),
        "timestamp": iso(signal.created_at or signal.event.timestamp),
        "fields": fields,
        "footer": _footer(signal),
    }
    return embed


def _escalation(signal: SpikeSignal) -> str:
    """An escalation is an update of an earlier alert (Discord webhooks cannot edit a message
    sent without its id): it names that alert and the move since."""
    if not signal.escalation:
        return ""
    since = f" · now {signed_cents(signal.move_since_signal)} since it" \
        if signal.move_since_signal is not None else ""
    first = int(signal.escalates or signal.created_at)
    return f"**Escalated {signal.escalation}×** (update of the alert of <t:{first}:T>{since}). "


def analyst_embed(signal: SpikeSignal, read: AnalystRead) -> dict[str, Any]:
    label = read.noise_or_signal or read.status
    fields: list[dict[str, Any]] = [
        {"name": "Label", "value": label},
        {"name": "Confidence", "value": read.confidence or "—"},
        {"name": "Direction", "value": read.direction or "—"},
        {"name": "Market", "value": f"`{signal.market_id}` · {signal.platform}"},
        {"name": "Price", "value": f"{cents(signal.yes_price)} "
                                   f"({signed_cents(signal.price_move)})"},
        {"name": "Score", "value": f"{signal.score:.2f} · {signal.tier}"},
    ]
    if read.tuning_note:
        fields.append({"name": "Tuning note", "value": read.tuning_note, "inline": False})
    if read.citations:
        fields.append({"name": "Sources", "value": "\n".join(read.citations[:5]),
                       "inline": False})
    who = " / ".join(p for p in (read.provider, read.model) if p)
    return {
        "type": "rich",
        "title": f"Analyst read: {label} · {signal.title or signal.market_id}",
        "description": read.rationale or read.error or "",
        "color": LABEL_COLOURS.get(read.noise_or_signal or "", 0x95A5A6),
        "timestamp": iso(read.created_at or signal.created_at or signal.event.timestamp),
        "fields": fields,
        "footer": _footer(signal, f"analyst {who}" if who else ""),
    }


def links_value(page: str | None, venue: str | None) -> str | None:
    """The market's page on our dashboard next to its page on the venue, as Markdown links."""
    links = [f"[market page]({page})" if page and HTTP_URL.match(page) else "",
             f"[on the venue]({venue})" if venue else ""]
    return " · ".join(x for x in links if x) or None


def build_payload(alert: Alert, page_url: str | None = None) -> dict[str, Any]:
    """The JSON body of one Execute Webhook call for ``alert``; ``page_url`` is the market's
    page on the dashboard (``DASHBOARD_PUBLIC_URL``)."""
    signal = alert.signal
    if alert.kind == "analyst" and alert.read is not None:
        embed = analyst_embed(signal, alert.read)
    else:
        embed = detector_embed(signal)
    url = market_url(signal)
    if url:
        embed["url"] = url
    links = links_value(page_url, url)
    if links:
        embed["fields"].insert(0, {"name": "Links", "value": links, "inline": False})
    if alert.possible_repeat:  # Discord webhooks have no idempotency key: say it honestly
        embed["title"] = "(possible repeat) " + embed["title"]
        embed["footer"]["text"] += " · possible repeat: the daemon stopped while sending it"
    return {"username": USERNAME, "allowed_mentions": NO_PINGS, "embeds": [fit(embed)]}
