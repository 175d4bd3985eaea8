"""Discord messages for incidents: one embed listing the incident's markets, edited as the
incident grows (the message id comes from the ``wait=true`` answer of its first post)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trade_hunter.plugins.models import Alert, Incident

from .discord_embeds import (
    ARROWS,
    HTTP_URL,
    NO_PINGS,
    TIER_COLOURS,
    USERNAME,
    cents,
    fit,
    market_url,
    signed_cents,
)


def incident_name(incident: Incident) -> str:
    return f"incident #{incident.id} ({incident.key})"


def incident_payload(alert: Alert, *, fallback: bool = False,
                     page_url: Callable[[str], str | None] | None = None) -> dict[str, Any]:
    """``page_url`` gives a market's page on the dashboard: each listed market links to it."""
    incident = alert.incident
    assert incident is not None
    markets = len({i.market_id for i in incident.signals})
    top = max(incident.signals, key=lambda i: i.score)

    def page(market: str) -> str:
        url = page_url(market) if page_url is not None else None
        return f" · [market page]({url})" if url and HTTP_URL.match(url) else ""

    fields = [{"name": f"{i.tier} · {i.market_id}",
               "value": f"{cents(i.yes_price)} {ARROWS.get(i.direction, '▶')} "
                        f"{signed_cents(i.price_move)} · score {i.score:.2f}"
                        f"{f' · {i.title}' if i.title else ''}{page(i.market_id)}"}
              for i in incident.signals[:20]]
    more = incident.total - len(fields)
    embed: dict[str, Any] = {
        "title": f"{incident.key}: {incident.total} signal{'s' * (incident.total != 1)} "
                 f"on {markets} market{'s' * (markets != 1)}",
        "description": f"Strongest: {top.title or top.market_id} ({top.tier}, score "
                       f"{top.score:.2f})" + (f"\n…and {more} earlier" if more > 0 else ""),
        "color": TIER_COLOURS.get(top.tier, 0x95A5A6),
        "fields": fields,
        "footer": {"text": f"Trade Hunter {incident_name(incident)} · update "
                           f"{incident.update} · informational only, not trading advice"},
    }
    url = market_url(alert.signal)
    if url:
        embed["url"] = url
    payload: dict[str, Any] = {"username": USERNAME, "allowed_mentions": NO_PINGS,
                               "embeds": [fit(embed)]}
    if fallback:  # the earlier message could not be edited: say which incident this updates
        payload["content"] = f"Update of {incident_name(incident)}"
    return payload
