"""trade-hunter-jsonl: an example Trade Hunter plugin.

It imports only from ``trade_hunter.plugins`` (the plugin contract), implements three hooks,
and registers two components:

* ``jsonl`` (notifier): appends each alert as one JSON line to ``JSONL_NOTIFY_PATH``;
* ``jsonl-replay`` (feed): replays the events of ``JSONL_REPLAY_PATH``.

Both are off (their factories return ``None``) until their path is set.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import msgspec
import trio

from trade_hunter.plugins import (
    Alert,
    MarketEvent,
    NotifyError,
    hookimpl,
    to_builtins,
)

log = logging.getLogger(__name__)
SOURCE = "jsonl"


# --------------------------------------------------------------------------- notifier
class JsonlNotifier:
    """Appends ``{"kind", "signal", "read"}`` per alert. A write error is retried later by
    the daemon's outbox (``NotifyError``); nothing is lost while the disk is full."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def notify(self, alert: Alert) -> None:
        line = json.dumps({"kind": alert.kind, "signal": to_builtins(alert.signal),
                           "read": to_builtins(alert.read) if alert.read else None,
                           "written_at": time.time()})
        try:
            await trio.to_thread.run_sync(self._append, line)
        except OSError as exc:
            raise NotifyError(f"cannot write {self.path}: {exc.strerror}") from exc

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


# --------------------------------------------------------------------------- feed
class JsonlReplayFeed:
    """Reads the file once, then sends its events in order (``interval`` seconds apart),
    re-timed so the first one happens now when ``restamp`` is on."""

    def __init__(self, path: Path, *, interval: float = 0.0, restamp: bool = True,
                 health: Any = None) -> None:
        self.path, self.interval, self.restamp, self.health = path, interval, restamp, health
        self._decoder = msgspec.json.Decoder(MarketEvent)

    def load(self) -> list[MarketEvent]:
        events, bad = [], 0
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                event = self._decoder.decode(line)
            except msgspec.DecodeError as exc:
                bad += 1
                log.warning("%s:%d: skipped: %s", self.path, number, exc)
                continue
            event.source = event.source or SOURCE
            events.append(event)
        if self.health is not None and bad:
            self.health.count("bad_lines", bad)
        return events

    async def run(self, send_channel: trio.MemorySendChannel[Any], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        events = await trio.to_thread.run_sync(self.load)
        if self.health is not None:
            self.health.set("connected", f"replaying {len(events)} events from "
                                         f"{self.path.name}")
        task_status.started()
        shift = time.time() - events[0].timestamp if events and self.restamp else 0.0
        for event in events:
            event.timestamp += shift
            event.received_at = time.time()
            await send_channel.send(event)
            if self.health is not None:
                self.health.count("events")
            if self.interval:
                await trio.sleep(self.interval)
        if self.health is not None:
            self.health.set("connected", f"replayed {len(events)} events; idle")
        await trio.sleep_forever()  # done: stay up (returning would read as "stopped")


# --------------------------------------------------------------------------- hooks
@hookimpl
def th_add_settings(settings: Any) -> None:
    settings.add("JSONL_NOTIFY_PATH", "path", "", "jsonl plugin: append alerts to this file")
    settings.add("JSONL_REPLAY_PATH", "path", "", "jsonl plugin: replay events from this file")
    settings.add("JSONL_REPLAY_INTERVAL", "float", 0.0,
                 "jsonl plugin: seconds between replayed events", minimum=0)
    settings.add("JSONL_REPLAY_RESTAMP", "bool", True,
                 "jsonl plugin: re-time replayed events to start now")


@hookimpl
def th_register_notifiers(registry: Any) -> None:
    registry.add("jsonl", lambda ctx: JsonlNotifier(ctx.settings.JSONL_NOTIFY_PATH)
                 if ctx.settings.JSONL_NOTIFY_PATH else None,
                 description="append alerts as JSON lines to JSONL_NOTIFY_PATH")


@hookimpl
def th_register_feeds(registry: Any) -> None:
    def make(ctx: Any) -> JsonlReplayFeed | None:
        s = ctx.settings
        if not s.JSONL_REPLAY_PATH:
            return None
        return JsonlReplayFeed(s.JSONL_REPLAY_PATH, interval=s.JSONL_REPLAY_INTERVAL,
                               restamp=s.JSONL_REPLAY_RESTAMP, health=ctx.health)
    registry.add("jsonl-replay", make, description="replay a JSONL file of events")
