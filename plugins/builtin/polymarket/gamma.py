"""Polymarket's Gamma REST API (public): an httpx client with full-jitter backoff on 429, 5xx
and transport errors, and ``limit``/``offset`` paging (docs/polymarket-protocol.md)."""

from __future__ import annotations

import logging
from typing import Any, Self

import httpx
import trio

from trade_hunter.plugins.streaming import backoff

log = logging.getLogger(__name__)
RETRIES = 3
TIMEOUT = 15.0
PAGE = 100
MAX_PAGES = 50


__all__ = ["Gamma", "GammaError", "NotFound", "backoff"]


class GammaError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(GammaError):
    """404: no such event or market."""


class Gamma:
    def __init__(self, base: str, *, health: Any = None, page: int = PAGE) -> None:
        self.base, self.health, self.page = base.rstrip("/"), health, page
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        self._client = httpx.AsyncClient(base_url=self.base, timeout=TIMEOUT,
                                         headers={"accept": "application/json"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            with trio.CancelScope(shield=True):
                await self._client.aclose()
            self._client = None

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def _count(self, name: str) -> None:
        if self.health is not None:
            self.health.count(name)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        assert self._client is not None, "use Gamma as an async context manager"
        for attempt in range(RETRIES + 1):
            self._count("gamma_requests")
            try:
                r = await self._client.get(path, params=params)
            except httpx.TransportError as exc:
                reason, status = f"{type(exc).__name__}: {exc}", None
            else:
                if r.status_code == 404:
                    raise NotFound(f"{path}: not found", 404)
                if r.is_success:
                    try:
                        return r.json()
                    except ValueError:
                        raise GammaError(f"{path}: not JSON", r.status_code) from None
                if r.status_code != 429 and r.status_code < 500:
                    raise GammaError(f"{path}: HTTP {r.status_code}", r.status_code)
                reason, status = f"HTTP {r.status_code}", r.status_code
            self._count("gamma_errors")
            if attempt == RETRIES:
                raise GammaError(f"{path}: {reason}", status)
            await trio.sleep(backoff(attempt))
        raise AssertionError("unreachable")

    async def pages(self, path: str, params: dict[str, Any]) -> list[Any]:
        """Every item of a ``limit``/``offset`` list, page by page until a short page."""
        out: list[Any] = []
        for page in range(MAX_PAGES):
            items = await self.get(path, {**params, "limit": self.page,
                                          "offset": page * self.page})
            if not isinstance(items, list):
                raise GammaError(f"{path}: expected a list")
            out.extend(items)
            if len(items) < self.page:
                break
        return out
