"""The Discord notifier plugin: signals and analyst follow-ups as embeds on webhooks.

Settings (declared here through ``th_add_settings``, listed in the README): ``DISCORD_WEBHOOK_URL`` (default
webhook), ``DISCORD_WEBHOOK_ROUTES`` (``topic=url`` pairs separated by ``;`` or ``,``: a signal
goes to its topic's route, else to the default), ``DISCORD_ALERT_MODE``
(``all`` | ``detector-only`` | ``analyst-signals-only``), ``DISCORD_ANALYST_FOLLOWUP`` and
``DISCORD_ANALYST_MIN_CONFIDENCE``.

Delivery reliability is the outbox's (durable rows, one lane per webhook, retries); this
module decides *which* alerts go *where* (``wants``, ``lane``) and how they look.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import Any

from trade_hunter.plugins import ComponentRegistry, SettingsRegistry, hookimpl
from trade_hunter.plugins.errors import ConfigError, PermanentNotifyError
from trade_hunter.plugins.models import CONFIDENCE_ORDER, TOPICS, Alert

from .discord_embeds import NO_PINGS, USERNAME, build_payload, fit
from .discord_http import Webhook, WebhookClient, parse_webhook
from .discord_incidents import incident_payload
from .discord_messages import MessageBook
from .modes import MODES, mode_wants


def user_agent() -> str:
    try:
        version = metadata.version("trade-hunter")
    except metadata.PackageNotFoundError:
        version = "0"
    # Discord asks for a descriptive agent; Cloudflare blocks default library agents.
    return f"TradeHunter/{version} (local prediction-market monitor; informational only)"


def parse_routes(raw: str) -> list[tuple[str, str]]:
    """``crypto=https://…;sports=https://…`` → ``[(topic, url)]`` (``;`` or ``,`` separate)."""
    pairs: list[tuple[str, str]] = []
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        topic, sep, url = part.partition("=")
        topic = topic.strip().lower()
        if not sep or not url.strip():
            raise ConfigError("DISCORD_WEBHOOK_ROUTES", _redact(part),
                              "topic=url pairs separated by ; or ,")
        if topic not in TOPICS:
            raise ConfigError("DISCORD_WEBHOOK_ROUTES", f"{_redact(topic)}=…",
                              "topics among " + ", ".join(TOPICS))
        if topic in (t for t, _ in pairs):
            raise ConfigError("DISCORD_WEBHOOK_ROUTES", f"{topic}=…",
                              "each topic routed once")
        pairs.append((topic, url.strip()))
    return pairs


def _redact(text: str) -> str:
    """Enough of a bad entry to find it, never a webhook token."""
    scheme, sep, rest = text.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/…" if sep else text[:24]


class DiscordNotifier:
    """``wants`` applies the alert mode and routing; ``lane`` keeps one delivery lane per
    webhook; ``notify`` sends one embed."""

    def __init__(self, client: WebhookClient, default: Webhook | None,
                 routes: dict[str, Webhook], *, mode: str = "all", followup: bool = True,
                 min_confidence: str = "medium", messages: MessageBook | None = None,
                 page_url: Callable[[str], str | None] | None = None) -> None:
        if mode not in MODES:
            raise ConfigError("DISCORD_ALERT_MODE", mode, "one of " + ", ".join(MODES))
        self.client, self.default, self.routes = client, default, routes
        self.mode, self.followup = mode, followup
        self.min_rank = CONFIDENCE_ORDER[min_confidence]
        self.messages = messages or MessageBook(None)
        """(incident id, webhook) → the message to edit."""
        self.page_url = page_url or (lambda market: None)
        """A market's page on the dashboard (the daemon's ``extras["market_page_url"]``)."""

    def route(self, alert: Alert) -> Webhook | None:
        return self.routes.get(alert.signal.topic) or self.default

    def wants(self, alert: Alert) -> bool:
        return self.route(alert) is not None and \
            mode_wants(alert, self.mode, followup=self.followup, min_rank=self.min_rank)

    def lane(self, alert: Alert) -> str:
        webhook = self.route(alert)
        return webhook.label if webhook is not None else "unrouted"

    async def notify(self, alert: Alert) -> None:
        webhook = self.route(alert)
        if webhook is None:  # routes changed since the row was queued
            raise PermanentNotifyError(f"no Discord webhook for topic {alert.signal.topic}")
        if alert.incident is not None:
            await self.notify_incident(webhook, alert)
            return
        await self.client.execute(webhook, build_payload(
            alert, self.page_url(alert.signal.market_id)))

    async def notify_text(self, title: str, body: str) -> None:
        """A free-text message (the daily digest) on the default webhook, else the first
        route's."""
        webhook = self.default or next(iter(self.routes.values()), None)
        if webhook is None:
            raise PermanentNotifyError("no Discord webhook")
        embed = fit({"title": title, "description": body, "color": 0x3498DB})
        await self.client.execute(webhook, {"username": USERNAME, "allowed_mentions": NO_PINGS,
                                            "embeds": [embed]})

    async def notify_incident(self, webhook: Webhook, alert: Alert) -> None:
        """Edit the incident's message; a failed edit never loses the update: it is posted
        as a new message naming the incident, which then becomes the one edited."""
        assert alert.incident is not None
        known = self.messages.get(alert.incident.id, webhook.label)
        if known and await self.client.edit(webhook, known,
                                            incident_payload(alert, page_url=self.page_url)):
            return
        answer = await self.client.execute(
            webhook, incident_payload(alert, fallback=alert.incident.update > 0,
                                      page_url=self.page_url))
        if isinstance(answer.get("id"), str):
            await self.messages.put(alert.incident.id, webhook.label, answer["id"])


def make_notifier(ctx: Any) -> DiscordNotifier | None:
    s = ctx.settings
    default_raw, routes_raw = s.DISCORD_WEBHOOK_URL.strip(), s.DISCORD_WEBHOOK_ROUTES.strip()
    if not default_raw and not routes_raw:
        return None
    client = WebhookClient(user_agent(), ctx.health)
    by_target: dict[tuple[str, str], Webhook] = {}

    def webhook(variable: str, raw: str, route: str) -> Webhook:
        parsed = parse_webhook(variable, raw)
        key = (parsed.id, parsed.token)
        found = by_target.setdefault(key, parsed)  # one lane and bucket per real webhook
        found.routes.append(route)
        return found

    default = webhook("DISCORD_WEBHOOK_URL", default_raw, "default") if default_raw else None
    routes = {topic: webhook("DISCORD_WEBHOOK_ROUTES", url, topic)
              for topic, url in parse_routes(routes_raw)}
    client.webhooks = list(by_target.values())
    client.report()
    return DiscordNotifier(client, default, routes, mode=s.DISCORD_ALERT_MODE,
                           followup=s.DISCORD_ANALYST_FOLLOWUP,
                           min_confidence=s.DISCORD_ANALYST_MIN_CONFIDENCE,
                           messages=MessageBook(_folder(ctx)),
                           page_url=getattr(ctx, "extras", {}).get("market_page_url"))


def _folder(ctx: Any) -> Any:
    home = getattr(ctx, "home", None)
    return home / "discord" if home is not None else None


@hookimpl
def th_add_settings(settings: SettingsRegistry) -> None:
    settings.add("DISCORD_WEBHOOK_URL", "str", "", "Default Discord webhook", secret=True)
    settings.add("DISCORD_WEBHOOK_ROUTES", "str", "",
                 "Topic-routed webhooks: topic=url pairs separated by ; or ,", secret=True)
    settings.add("DISCORD_ALERT_MODE", "choice", "all", "Which alerts reach Discord",
                 choices=MODES)
    settings.add("DISCORD_ANALYST_FOLLOWUP", "bool", True,
                 "Send the analyst's read as a follow-up (mode all)")
    settings.add("DISCORD_ANALYST_MIN_CONFIDENCE", "choice", "medium",
                 "Minimum confidence in analyst-signals-only mode",
                 choices=("low", "medium", "high"))


@hookimpl
def th_register_notifiers(registry: ComponentRegistry) -> None:
    registry.add("discord", make_notifier,
                 description="Discord webhooks: detector alerts and analyst follow-ups")
