"""Plain-text alerts (title and body) for services without embeds: apprise's Telegram,
email, ntfy, webhooks… The same facts as the Discord embeds, as short lines."""

from __future__ import annotations

from collections.abc import Callable

from trade_hunter.plugins.models import Alert, AnalystRead, SpikeSignal

from .discord_embeds import amount, cents, market_url, signed_cents

FOOTER = "Trade Hunter · informational only, not trading advice"
TEST_MARKER = "[TEST]"


PageUrl = Callable[[str], "str | None"]
"""A market's page on the dashboard (``DASHBOARD_PUBLIC_URL``), ``None`` when unknown."""


def _no_page(market: str) -> str | None:
    return None


def detector_text(signal: SpikeSignal, page_url: PageUrl = _no_page) -> tuple[str, str]:
    arrow = {"up": "▲", "down": "▼"}.get(signal.direction, "▶")
    update = f" (update {signal.escalation})" if signal.escalation else ""
    title = ("[DEMO] " if signal.demo else "") + f"{signal.tier}{update}: " + \
        (signal.title or signal.market_id)
    lines = [
        f"Market: {signal.market_id} ({signal.platform}, {signal.topic})",
        f"Price: {cents(signal.yes_price)} {arrow} {signed_cents(signal.price_move)}",
        (f"Volume: {amount(signal.volume_delta)} vs {amount(signal.baseline)} baseline "
         f"({signal.volume_multiple:.1f}x)"),
        f"Score: {signal.score:.2f} ({signal.rule} rule)",
    ]
    if signal.vendor is not None:
        lines.insert(0, f"Vendor alert: {signal.vendor.alert_type} from {signal.source}")
    page = page_url(signal.market_id)
    if page:
        lines.append(f"Market page: {page}")
    url = market_url(signal)
    if url:
        lines.append(f"On the venue: {url}")
    return title, "\n".join([*lines, "", FOOTER])


def analyst_text(signal: SpikeSignal, read: AnalystRead,
                 page_url: PageUrl = _no_page) -> tuple[str, str]:
    label = read.noise_or_signal or "uncertain"
    title = f"Analyst read: {label} · {signal.title or signal.market_id}"
    lines = [f"Confidence: {read.confidence or '—'} · direction: {read.direction or '—'}",
             f"Market: {signal.market_id} · score {signal.score:.2f} · {signal.tier}"]
    if read.rationale:
        lines.append(read.rationale)
    page = page_url(signal.market_id)
    if page:
        lines.append(f"Market page: {page}")
    return title, "\n".join([*lines, "", FOOTER])


def incident_text(alert: Alert, page_url: PageUrl = _no_page) -> tuple[str, str]:
    inc = alert.incident
    assert inc is not None
    markets = len({i.market_id for i in inc.signals})
    title = f"{inc.key}: {inc.total} signals on {markets} markets" + \
        (f" (update {inc.update})" if inc.update else "")
    lines = []
    for i in inc.signals[:20]:
        page = page_url(i.market_id)
        lines.append(f"{i.tier} · {i.market_id}: {cents(i.yes_price)} "
                     f"{signed_cents(i.price_move)} · score {i.score:.2f}"
                     + (f" · {page}" if page else ""))
    return title, "\n".join([*lines, "", f"incident #{inc.id} · {FOOTER}"])


def alert_text(alert: Alert, page_url: PageUrl = _no_page) -> tuple[str, str]:
    if alert.incident is not None:
        title, body = incident_text(alert, page_url)
    elif alert.kind == "analyst" and alert.read is not None:
        title, body = analyst_text(alert.signal, alert.read, page_url)
    else:
        title, body = detector_text(alert.signal, page_url)
    if alert.signal.market_id == "TRADE-HUNTER-TEST":  # th-ctl notify-test: say so first
        title = f"{TEST_MARKER} {title}"
    return title[:250], body[:3500]
