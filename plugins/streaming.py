"""Helpers for a feed that keeps one streaming connection up (part of the plugin contract: a
third-party feed may use them; the built-in Kalshi and Polymarket feeds do).

* :class:`Reconnect` — raise it (with the reason) to end a session; :func:`closed_text` says
  why a WebSocket closed.
* :func:`backoff` — full-jitter exponential backoff.
* :class:`ConnectionLoop` — connects again and again: between two sessions it waits a backoff
  from 0.5 s doubling up to ``cap``, reset only after a session stayed up ``healthy_after``
  seconds (the feed sets ``up_at`` when its session is up), so a server that accepts and
  drops at once cannot make it spin. Each end is counted (``disconnects``) and recorded
  (``last_disconnect``) in the feed's health and logged, then handed to ``on_down``. Its
  :meth:`~ConnectionLoop.serve` is a feed's whole start: sessions begin once the feed's
  identifiers are resolved (or ``RESOLVE_WAIT`` passed), and start-up is released at the
  first session up or down (``STARTUP_WAIT`` at the latest).
* :func:`goodbye` — on cancellation (shutdown), close the WebSocket with code 1000, shielded
  and bounded: trio-websocket's own close would be cancelled before its frame went out.
* :func:`report_age` — the age of the last message in the health record, once a second.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, HandshakeError

log = logging.getLogger(__name__)

STARTUP_WAIT = 10.0   # longest the daemon's start-up waits for a feed's first session
RESOLVE_WAIT = 5.0    # connect after this even if some identifiers are still resolving


class Reconnect(Exception):
    """The session is over; the message says why (shown in the feed's health)."""


def closed_text(exc: ConnectionClosed) -> str:
    reason = exc.reason
    if reason is None:
        return "connection closed"
    text = f"connection closed ({reason.code} {reason.name}"
    return text + (f": {reason.reason})" if reason.reason else ")")


def backoff(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Full-jitter exponential backoff: uniform in [d/2, d], d = base·2^attempt capped."""
    delay = min(cap, base * 2 ** max(attempt, 0))
    return delay / 2 + random.random() * delay / 2


def cancelled(exc: BaseException) -> bool:
    """Whether ``exc`` is (only) trio's cancellation, also inside an exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return isinstance(exc, trio.Cancelled)


async def goodbye(ws: Any, exc: BaseException, timeout: float = 2.0) -> None:
    """Called from an ``except BaseException`` around a session: on cancellation, close
    ``ws`` with 1000 ("client shutting down"), shielded, for at most ``timeout`` seconds."""
    if cancelled(exc):
        with trio.CancelScope(shield=True), trio.move_on_after(timeout):
            await ws.aclose(1000, "client shutting down")


async def report_age(health: Any, last: Callable[[], float | None],
                     now: Callable[[], float]) -> NoReturn:
    """Keep ``last_message_age`` (seconds since ``last()``) current in ``health``."""
    while True:
        at = last()
        if at is not None:
            health.put("last_message_age", round(now() - at, 1))
        await trio.sleep(1.0)


class ConnectionLoop:
    def __init__(self, name: str, health: Any, *, cap: float, healthy_after: float = 30.0,
                 on_down: Callable[[str, float], None]) -> None:
        self.name, self.health, self.cap = name, health, cap
        self.healthy_after, self.on_down = healthy_after, on_down
        self.up_at: float | None = None
        """``trio.current_time()`` when the current session came up (:meth:`mark_up`)."""
        self.settled = trio.Event()
        """Set once the first session is up or has ended: the feed's start-up is over."""

    def mark_up(self) -> None:
        """The current session is up (subscribed): the backoff resets once it stays up
        ``healthy_after`` seconds, and start-up is over."""
        if self.up_at is None:
            self.up_at = trio.current_time()
        self.settled.set()

    async def serve(self, connect_once: Callable[[], Awaitable[None]],
                    last_reason: Callable[[], str] = str, *, resolved: trio.Event,
                    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """:meth:`run` once ``resolved`` is set (``RESOLVE_WAIT`` at the latest), reporting
        started (``nursery.start``) when the first session is up or down, ``STARTUP_WAIT`` at
        the latest: the daemon never waits long for a venue that is down."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._after, resolved, connect_once, last_reason)
            with trio.move_on_after(STARTUP_WAIT):
                await self.settled.wait()
            task_status.started()

    async def _after(self, resolved: trio.Event, connect_once: Callable[[], Awaitable[None]],
                     last_reason: Callable[[], str]) -> NoReturn:
        with trio.move_on_after(RESOLVE_WAIT):
            await resolved.wait()
        await self.run(connect_once, last_reason)

    async def run(self, connect_once: Callable[[], Awaitable[None]],
                  last_reason: Callable[[], str] = str) -> NoReturn:
        """Run sessions forever. ``last_reason()`` is the session's own account of why it
        ended, preferred to a bare transport error."""
        failures = 0
        while True:
            self.up_at = None
            reason = "session ended"
            try:
                await connect_once()
            except Reconnect as exc:
                reason = str(exc)
            except ConnectionRejected as exc:
                reason = f"handshake rejected (HTTP {exc.status_code})"
            except (HandshakeError, ConnectionClosed, OSError, trio.BrokenResourceError) as exc:
                reason = last_reason() or f"{type(exc).__name__}: {exc}"
            healthy = self.up_at is not None and \
                trio.current_time() - self.up_at >= self.healthy_after
            failures = 1 if healthy else failures + 1
            delay = backoff(failures - 1, base=0.5, cap=self.cap)
            self.health.count("disconnects")
            self.health.put("last_disconnect", reason)
            log.warning("%s: %s; reconnecting in %.1fs", self.name, reason, delay)
            self.on_down(reason, delay)
            self.settled.set()
            await trio.sleep(delay)
