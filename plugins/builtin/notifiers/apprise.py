"""The apprise notifier plugin: alerts to any of apprise's 100+ services (Telegram, Slack,
email, ntfy, Pushover, Matrix, generic JSON webhooks, …) through the same durable outbox.

Settings (declared here): ``APPRISE_URLS`` (secret; apprise URLs, comma or space separated),
``APPRISE_ROUTES`` (secret; ``topic=url [url…]`` pairs separated by ``;``: a signal goes to its
topic's route, else to ``APPRISE_URLS``), ``APPRISE_ALERT_MODE`` and
``APPRISE_ANALYST_FOLLOWUP`` (as Discord's), ``APPRISE_TIMEOUT``.

* apprise is synchronous (``requests`` underneath): each send runs in a worker thread under a
  timeout, never on the event loop. A thread that overruns is abandoned (it finishes or fails
  on its own); the row is retried.
* One delivery lane per route; a route's URLs are sent one by one and the ones that took a
  message are remembered for that alert, so a retry after a partial failure reaches only the
  services that missed it (within this process; after a restart, at-least-once).
* URLs are never logged or shown: a service is named by apprise's privacy form
  (``json://127.0.0.1:8080/…``: secrets masked).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import apprise
import trio

from trade_hunter.plugins import hookimpl
from trade_hunter.plugins.errors import ConfigError, NotifyError
from trade_hunter.plugins.models import TOPICS, Alert

from .modes import MODES, mode_wants
from .text import alert_text

SENT_MEMORY = 2000  # alerts whose per-service successes are remembered (partial failures)


@dataclass
class Service:
    label: str           # privacy form: no secrets
    server: Any          # an apprise plugin instance (one URL)


@dataclass
class Route:
    name: str
    services: list[Service] = field(default_factory=list)


def split_urls(raw: str) -> list[str]:
    return [u for u in re.split(r"[\s,]+", raw.strip()) if u]


def load_service(variable: str, url: str, problems: list[str]) -> Service | None:
    server = apprise.Apprise.instantiate(url)
    if server is None:
        scheme = url.partition("://")[0][:20] if "://" in url else url[:8] + "…"
        problems.append(f"{scheme}://… is not an apprise URL apprise can use")
        return None
    return Service(server.url(privacy=True).split("?", 1)[0], server)


def parse_routes(raw: str) -> list[tuple[str, list[str]]]:
    pairs: list[tuple[str, list[str]]] = []
    for part in raw.split(";"):
        if not part.strip():
            continue
        topic, sep, urls = part.partition("=")
        topic = topic.strip().lower()
        if not sep or not split_urls(urls):
            raise ConfigError("APPRISE_ROUTES", topic[:24] or "…",
                              "topic=url pairs separated by ;")
        if topic not in TOPICS:
            raise ConfigError("APPRISE_ROUTES", f"{topic[:24]}=…",
                              "topics among " + ", ".join(TOPICS))
        if topic in (t for t, _ in pairs):
            raise ConfigError("APPRISE_ROUTES", f"{topic}=…", "each topic routed once")
        pairs.append((topic, split_urls(urls)))
    return pairs


class AppriseNotifier:
    def __init__(self, default: Route | None, routes: dict[str, Route], *, mode: str = "all",
                 followup: bool = True, timeout: float = 30.0,
                 page_url: Callable[[str], str | None] | None = None) -> None:
        self.default, self.routes = default, routes
        self.page_url = page_url or (lambda market: None)
        """A market's page on the dashboard (the daemon's ``extras["market_page_url"]``)."""
        self.mode, self.followup, self.timeout = mode, followup, timeout
        self._sent: OrderedDict[tuple[str, int], set[int]] = OrderedDict()

    def route(self, alert: Alert) -> Route | None:
        return self.routes.get(alert.signal.topic) or self.default

    def wants(self, alert: Alert) -> bool:
        return self.route(alert) is not None and \
            mode_wants(alert, self.mode, followup=self.followup)

    def lane(self, alert: Alert) -> str:
        route = self.route(alert)
        return route.name if route is not None else "unrouted"

    async def notify(self, alert: Alert) -> None:
        route = self.route(alert)
        if route is None:
            raise NotifyError(f"no apprise route for topic {alert.signal.topic}")
        title, body = alert_text(alert, self.page_url)
        key = (alert.kind, alert.signal.id or 0)
        done = self._sent.setdefault(key, set())
        self._sent.move_to_end(key)
        while len(self._sent) > SENT_MEMORY:
            self._sent.popitem(last=False)
        failed = []
        for i, service in enumerate(route.services):
            if i in done:
                continue
            if await self.send(service, title, body):
                done.add(i)
            else:
                failed.append(service.label)
        if failed:
            raise NotifyError(f"apprise: not accepted by {', '.join(failed)}")
        self._sent.pop(key, None)

    async def notify_text(self, title: str, body: str) -> None:
        """A free-text message (the daily digest) through the default route, else the
        first route."""
        route = self.default or next(iter(self.routes.values()), None)
        if route is None:
            raise NotifyError("no apprise route")
        failed = [s.label for s in route.services if not await self.send(s, title, body)]
        if failed:
            raise NotifyError(f"apprise: not accepted by {', '.join(failed)}")

    async def send(self, service: Service, title: str, body: str) -> bool:
        """One service, in a worker thread; False when it refused or timed out."""
        call = partial(service.server.notify, body=body, title=title)
        with trio.move_on_after(self.timeout):
            return bool(await trio.to_thread.run_sync(call, abandon_on_cancel=True))
        return False

    def describe(self) -> list[dict[str, Any]]:
        routes = ([self.default] if self.default else []) + list(self.routes.values())
        return [{"route": r.name, "services": [s.label for s in r.services]} for r in routes]


def make_notifier(ctx: Any) -> AppriseNotifier | None:
    s = ctx.settings
    urls_raw, routes_raw = s.APPRISE_URLS.strip(), s.APPRISE_ROUTES.strip()
    if not urls_raw and not routes_raw:
        return None
    problems: list[str] = []

    def route(name: str, variable: str, urls: list[str]) -> Route:
        found = [load_service(variable, u, problems) for u in urls]
        return Route(name, [x for x in found if x is not None])

    default = route("default", "APPRISE_URLS", split_urls(urls_raw)) if urls_raw else None
    if problems:
        raise ConfigError("APPRISE_URLS", f"{len(problems)} bad URL(s)", "; ".join(problems))
    routes = {topic: route(topic, "APPRISE_ROUTES", urls)
              for topic, urls in parse_routes(routes_raw)}
    if problems:
        raise ConfigError("APPRISE_ROUTES", f"{len(problems)} bad URL(s)", "; ".join(problems))
    notifier = AppriseNotifier(default, routes, mode=s.APPRISE_ALERT_MODE,
                               followup=s.APPRISE_ANALYST_FOLLOWUP, timeout=s.APPRISE_TIMEOUT,
                               page_url=getattr(ctx, "extras", {}).get("market_page_url"))
    ctx.health.put("routes", notifier.describe())
    return notifier


@hookimpl
def th_add_settings(settings: Any) -> None:
    settings.add("APPRISE_URLS", "str", "", "apprise URLs for every alert (Telegram, Slack, "
                 "email, ntfy, json://…), comma-separated", secret=True)
    settings.add("APPRISE_ROUTES", "str", "", "Topic-routed apprise URLs: topic=url pairs "
                 "separated by ;", secret=True)
    settings.add("APPRISE_ALERT_MODE", "choice", "all", "Which alerts reach apprise",
                 choices=MODES)
    settings.add("APPRISE_ANALYST_FOLLOWUP", "bool", True,
                 "Send the analyst's read as a follow-up through apprise (mode all)")
    settings.add("APPRISE_TIMEOUT", "float", 30.0, "Seconds one apprise send may take",
                 minimum=1, maximum=110)


@hookimpl
def th_register_notifiers(registry: Any) -> None:
    registry.add("apprise", make_notifier,
                 description="apprise: Telegram, Slack, email, ntfy, webhooks, … (100+)")
