"""Kalshi REST: an httpx client paced by a token bucket, with backoff on 429, 5xx and
transport errors, cursor pagination, and the three error-body shapes the exchange uses.

A host that cannot be reached at all (its name does not resolve, or the connection is
refused) fails at once with :class:`Unreachable`: retrying within the call only makes an
offline user wait; callers that keep going (the resolver, the feed) retry on their own
schedule."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from typing import Any, Self

import httpx
import trio

from .auth import SignedAuth, Signer

log = logging.getLogger(__name__)
RETRIES = 6
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
MAX_PAGES = 200          # a runaway cursor must not page forever
TIMEOUT = 15.0


class RestError(Exception):
    """A request failed for good (after retries, or a 4xx that retrying cannot fix)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(RestError):
    """404: no such market, event or series (or one created a moment ago)."""


class Unreachable(RestError):
    """The host cannot be reached: name resolution failed or the connection was refused."""


def backoff(attempt: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Full-jitter exponential backoff: uniform in [d/2, d], d = base·2^attempt capped."""
    delay = min(cap, base * 2 ** max(attempt, 0))
    return delay / 2 + random.random() * delay / 2


class TokenBucket:
    """Paces requests at ``rate`` per second with bursts of ``burst`` (FIFO, trio time).

    A 429 empties the bucket and holds it for a backoff, so every concurrent caller waits,
    not only the one that was refused (the exchange sends no Retry-After header).
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self.tokens = self.burst
        self.updated: float | None = None
        self.held_until = 0.0
        self._lock = trio.Lock()

    def _refill(self, now: float) -> None:
        if self.updated is None:
            self.updated = now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = trio.current_time()
                if now < self.held_until:
                    await trio.sleep(self.held_until - now)
                    continue
                self._refill(now)
                if self.tokens >= 1 - 1e-9:  # float dust must not stall the bucket
                    self.tokens = max(0.0, self.tokens - 1)
                    return
                await trio.sleep(max(1e-3, (1 - self.tokens) / self.rate))

    def hold(self, seconds: float) -> None:
        now = trio.current_time()
        self._refill(now)
        self.tokens = 0.0
        self.held_until = max(self.held_until, now + seconds)


def error_text(response: httpx.Response) -> str:
    """``{"code","message"}``, ``{"error": {"code","message"}}`` or ``{"error": "text"}``."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, str):
            return err
        if isinstance(err, dict):
            parts = [str(err.get(k)) for k in ("code", "message", "details") if err.get(k)]
            if parts:
                return ": ".join(parts)
    return str(body)[:200]


class Rest:
    """``async with Rest(base, signer=..., rate=...) as rest: await rest.get("/markets")``."""

    def __init__(self, base: str, *, signer: Signer | None = None, rate: float = 10.0,
                 health: Any = None, retries: int = RETRIES, timeout: float = TIMEOUT) -> None:
        self.base = base.rstrip("/")
        self.signer = signer
        self.bucket = TokenBucket(rate)
        self.health = health
        self.retries = retries
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    @property
    def is_open(self) -> bool:
        return self._client is not None

    async def __aenter__(self) -> Self:
        self._client = httpx.AsyncClient(
            base_url=self.base + "/", timeout=self.timeout, follow_redirects=False,
            auth=SignedAuth(self.signer) if self.signer is not None else None,
            headers={"Accept": "application/json", "User-Agent": "trade-hunter"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        client, self._client = self._client, None
        if client is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                await client.aclose()

    def _count(self, name: str) -> None:
        if self.health is not None:
            self.health.count(name)

    async def get(self, path: str, params: dict[str, Any] | None = None, *,
                  retries: int | None = None) -> dict[str, Any]:
        """GET ``path`` (relative to the base, e.g. ``/markets/KXBTC``) and return the JSON.

        429 and 5xx are retried with backoff (``retries`` times, default the client's); other
        4xx and an unreachable host raise at once."""
        if self._client is None:
            raise RuntimeError("Rest is not open: use 'async with'")
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        last = ""
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            await self.bucket.take()
            self._count("rest_requests")
            try:
                response = await self._client.get(path.lstrip("/"), params=clean)
            except httpx.ConnectError as exc:  # DNS failure or connection refused
                self._count("rest_errors")
                raise Unreachable(f"GET {path}: cannot reach {self.base} ({exc})") from None
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                self._count("rest_errors")
            else:
                status = response.status_code
                if status == 200:
                    try:
                        body = response.json()
                    except ValueError:
                        raise RestError(f"GET {path}: invalid JSON", status) from None
                    if not isinstance(body, dict):
                        raise RestError(f"GET {path}: expected a JSON object", status)
                    return body
                if status == 404:
                    raise NotFound(f"GET {path}: not found", status)
                last = f"HTTP {status}: {error_text(response)}"
                if status == 429:
                    self._count("rest_429")
                    delay = backoff(attempt)
                    self.bucket.hold(delay)  # everyone waits: the limit is per key
                    continue
                self._count("rest_errors")
                if status < 500:
                    raise RestError(f"GET {path}: {last}", status)
            if attempt < retries:
                await trio.sleep(backoff(attempt))
        raise RestError(f"GET {path}: gave up after {retries + 1} attempts ({last})")

    async def pages(self, path: str, key: str, params: dict[str, Any] | None = None,
                    *, max_pages: int = MAX_PAGES, retries: int | None = None
                    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a cursor-paginated list, following ``cursor`` to the end."""
        query = dict(params or {})
        seen: set[str] = set()
        for _ in range(max_pages):
            body = await self.get(path, query, retries=retries)
            for item in body.get(key) or ():
                if isinstance(item, dict):
                    yield item
            cursor = body.get("cursor")
            if not cursor or cursor in seen:  # empty/null ends; a repeat would loop forever
                return
            seen.add(cursor)
            query["cursor"] = cursor
        log.warning("GET %s: stopped after %d pages", path, max_pages)
