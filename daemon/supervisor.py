"""Supervision: restart a failed component with exponential backoff and jitter, trip a circuit
breaker after repeated failures, and keep a health record of each component."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio

log = logging.getLogger(__name__)

BASE_DELAY = 1.0
MAX_DELAY = 60.0
MAX_FAILURES = 5          # within FAILURE_WINDOW: the breaker trips
FAILURE_WINDOW = 600.0
HEALTHY_AFTER = 60.0      # a run this long resets the backoff


@dataclass
class ComponentHealth:
    """One component's health record (implements the plugins' ``Health`` protocol)."""

    name: str
    kind: str
    state: str = "starting"
    detail: str = ""
    restarts: int = 0
    last_error: str = ""
    last_error_at: float | None = None
    since: float = field(default_factory=time.time)
    counters: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def set(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.since = time.time()
            if self.kind == "feed":
                _log_feed_change(self.name, self.state, state, detail)
        self.state, self.detail = state, detail

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def put(self, name: str, value: Any) -> None:
        self.info[name] = value

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "state": self.state, "detail": self.detail,
            "restarts": self.restarts, "last_error": self.last_error,
            "last_error_at": self.last_error_at, "since": self.since,
            "counters": dict(self.counters), "info": dict(self.info),
        }


GOOD_FEED_STATES = frozenset({"connected", "running"})


def _log_feed_change(feed: str, old: str, new: str, detail: str) -> None:
    """A warning for each feed state change; only the first start (starting → up) is info."""
    level = logging.INFO if old == "starting" and new in GOOD_FEED_STATES else logging.WARNING
    log.log(level, "feed %s: %s → %s%s", feed, old, new, f" ({detail})" if detail else "",
            extra={"feed": feed, "state": new})


class HealthBook:
    def __init__(self) -> None:
        self.components: dict[str, ComponentHealth] = {}

    def get(self, name: str, kind: str = "component") -> ComponentHealth:
        record = self.components.get(name)
        if record is None:
            record = self.components[name] = ComponentHealth(name, kind)
        return record

    def as_list(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.components.values()]


def backoff(failures: int, *, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """Full-jitter exponential backoff: uniform in [delay/2, delay]."""
    delay = min(cap, base * 2 ** max(failures - 1, 0))
    return delay / 2 + random.random() * delay / 2


async def supervise(health: ComponentHealth, run: Callable[..., Awaitable[Any]], *,
                    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Run ``run(task_status=...)`` until it returns; restart it when it raises.

    ``task_status.started()`` is passed through on the first start, or called when the first
    attempt fails (so a broken component never blocks start-up of the rest).
    """
    failures: list[float] = []
    status = _Once(task_status, health)
    while True:
        began = trio.current_time()
        try:
            await run(task_status=status)
            status.started()
            health.set("stopped", "finished")
            return
        except Exception as exc:
            status.started()
            now = trio.current_time()
            if now - began >= HEALTHY_AFTER:
                failures.clear()
            failures = [t for t in failures if now - t < FAILURE_WINDOW] + [now]
            health.last_error = f"{type(exc).__name__}: {exc}"[:500]
            health.last_error_at = time.time()
            if len(failures) >= MAX_FAILURES:
                health.set("failed", f"gave up after {len(failures)} failures in "
                                     f"{FAILURE_WINDOW:.0f}s: {health.last_error}")
                log.error("%s failed %d times; circuit open", health.name, len(failures),
                          exc_info=exc)
                return
            delay = backoff(len(failures))
            health.restarts += 1
            health.set("restarting", f"{health.last_error}; retry in {delay:.1f}s")
            log.warning("%s crashed (%s); restarting in %.1fs", health.name,
                        health.last_error, delay, exc_info=exc)
            await trio.sleep(delay)


class _Once:
    """A task status that passes on only the first ``started()`` (restarts call it again)."""

    def __init__(self, inner: trio.TaskStatus[None], health: ComponentHealth) -> None:
        self.inner, self.health, self.done = inner, health, False

    def started(self, value: Any = None) -> None:
        if self.health.state in ("starting", "restarting"):
            self.health.set("running")
        if not self.done:
            self.done = True
            self.inner.started(value)
