"""Fakes for plugin authors' tests (and ours): a feed that plays a script, a feed that watches
its tracked identifiers, a notifier that records what it receives. They are registered through
the real hooks with :class:`FakesPlugin`, the same way a real plugin is, so a test exercises
the daemon's actual plumbing::

    from trade_hunter.plugins.testing import FakesPlugin, RecordingNotifier, ScriptedFeed

    notifier = RecordingNotifier()
    plugin = FakesPlugin(feed=ScriptedFeed([quiet_events, 0.5, spike_event]),
                         notifier=notifier)
    settings, host, registries = build(raw_settings, extra_plugins=[("fakes", plugin)])
    ...
    alerts = await notifier.wait_for(1)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import trio

from . import ComponentRegistry, hookimpl
from .errors import NotifyError
from .models import Alert, MarketEvent
from .registry import IdentifierSpec

ScriptItem = MarketEvent | list[MarketEvent] | float


class ScriptedFeed:
    """Sends its script in order: an event, a list of events (one batch), or a number (seconds
    to sleep). Then idles until cancelled, or returns when ``then="return"``."""

    def __init__(self, script: Iterable[ScriptItem], *, then: str = "idle") -> None:
        self.script = list(script)
        self.then = then
        self.sent = 0

    async def run(self, send_channel: trio.MemorySendChannel[Any], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        for item in self.script:
            if isinstance(item, int | float):
                await trio.sleep(item)
                continue
            await send_channel.send(item)
            self.sent += 1 if isinstance(item, MarketEvent) else len(item)
        if self.then != "return":
            await trio.sleep_forever()


class RecordingNotifier:
    """Records every alert it is given. ``fail_first=n`` raises :class:`NotifyError` on the
    first ``n`` calls (to exercise retries); ``kinds`` limits what it accepts."""

    def __init__(self, *, fail_first: int = 0, retry_after: float | None = None) -> None:
        self.alerts: list[Alert] = []
        self.calls = 0
        self.fail_first = fail_first
        self.retry_after = retry_after
        self._changed = trio.Event()

    async def notify(self, alert: Alert) -> None:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise NotifyError(f"scripted failure {self.calls}", retry_after=self.retry_after)
        self.alerts.append(alert)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, count: int, kind: str | None = None) -> list[Alert]:
        """Wait until ``count`` alerts (of ``kind``, if given) have arrived; returns them."""
        while True:
            matching = [a for a in self.alerts if kind is None or a.kind == kind]
            if len(matching) >= count:
                return matching
            await self._changed.wait()


class WatchingFeed:
    """A feed that watches its tracked identifiers (``ctx.tickers``): each one is reported
    ``active``, resolved to a market of the same name, as soon as it is added. Register it
    with ``FakesPlugin(feed=WatchingFeed(), identifiers=IdentifierSpec(...))``."""

    def __init__(self) -> None:
        self.book: Any = None
        self.watched: list[str] = []
        """The identifiers seen on the last pass over the list."""
        self._changed = trio.Event()

    def attach(self, ctx: Any) -> None:
        self.book = ctx.tickers

    async def run(self, send_channel: trio.MemorySendChannel[Any], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            items = self.book.list()
            for t in items:
                if t.status != "active":
                    self.book.set_status(t.ticker, "active", "watched", [t.ticker])
            self.watched = [t.ticker for t in items]
            self._changed.set()
            self._changed = trio.Event()
            await self.book.wait_changed()

    async def wait_watching(self, expected: Iterable[str]) -> None:
        """Wait until the feed's last pass saw exactly ``expected`` (in any order)."""
        while sorted(self.watched) != sorted(expected):
            await self._changed.wait()


class FakesPlugin:
    """A plugin object registering the given fakes through the real hooks. ``identifiers``:
    the feed accepts tracked identifiers (an :class:`~trade_hunter.plugins.IdentifierSpec`);
    a feed with an ``attach(ctx)`` method receives its context before it runs."""

    def __init__(self, *, feed: Any = None, notifier: Any = None, name: str = "fakes",
                 identifiers: IdentifierSpec | None = None) -> None:
        self.feed, self.notifier, self.name = feed, notifier, name
        self.identifiers = identifiers

    def _feed(self, ctx: Any) -> Any:
        if hasattr(self.feed, "attach"):
            self.feed.attach(ctx)
        return self.feed

    @hookimpl
    def th_register_feeds(self, registry: ComponentRegistry) -> None:
        if self.feed is not None:
            registry.add(self.name, self._feed, identifiers=self.identifiers)

    @hookimpl
    def th_register_notifiers(self, registry: ComponentRegistry) -> None:
        if self.notifier is not None:
            registry.add(self.name, lambda ctx: self.notifier)
