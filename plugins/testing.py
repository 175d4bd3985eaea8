"""Fakes for plugin authors' tests (and ours): a feed that plays a script, a notifier that
records what it receives. They are registered through the real hooks with :class:`FakesPlugin`,
the same way a real plugin is, so a test exercises the daemon's actual plumbing::

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


class FakesPlugin:
    """A plugin object registering the given fakes through the real hooks."""

    def __init__(self, *, feed: Any = None, notifier: Any = None, name: str = "fakes") -> None:
        self.feed, self.notifier, self.name = feed, notifier, name

    @hookimpl
    def th_register_feeds(self, registry: ComponentRegistry) -> None:
        if self.feed is not None:
            registry.add(self.name, lambda ctx: self.feed)

    @hookimpl
    def th_register_notifiers(self, registry: ComponentRegistry) -> None:
        if self.notifier is not None:
            registry.add(self.name, lambda ctx: self.notifier)
