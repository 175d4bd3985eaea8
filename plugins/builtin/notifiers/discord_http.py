"""A small trio-friendly Discord webhook client (httpx), modelled on discord.py's webhook
adapter: sends are serialised per webhook, the rate-limit headers are honoured *before* the
next send, and every answer maps to what the outbox should do next.

==========================  ===============================================================
answer                      outcome
==========================  ===============================================================
200 / 204                   delivered; ``X-RateLimit-Remaining: 0`` pauses the webhook for
                            ``X-RateLimit-Reset-After`` seconds before its next send
429 with ``Via``            Discord's rate limit: ``NotifyError(retry_after=…)`` from the
                            body's ``retry_after`` (seconds on /api/v10); ``global`` pauses
                            every webhook
429 without ``Via``         a Cloudflare ban (too many invalid requests): pause ≥ 60 s
401 / 404                   the webhook was deleted or its token is wrong: it is disabled for
                            the life of the process (``PermanentNotifyError``), reported in
                            health, never tried again (Discord restricts clients that retry)
400                         the message was refused: dropped, with Discord's reason
403                         blocked (Cloudflare or permissions): retried after ≥ 5 minutes
5xx, timeouts, I/O errors   ``NotifyError``: the outbox backs off exponentially
==========================  ===============================================================
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import trio

from trade_hunter.plugins.errors import ConfigError, NotifyError, PermanentNotifyError

API_VERSION = 10
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_INLINE_WAIT = 10.0     # a pause longer than this is handed back to the outbox
MIN_RETRY = 0.05
BAN_PAUSE = 60.0
FORBIDDEN_PAUSE = 300.0
_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(\d{1,25})/([A-Za-z0-9_.-]{1,200})/?$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass(eq=False)
class Webhook:
    """One webhook: its canonical /api/v10 URL (a secret), and its delivery state."""

    id: str
    token: str
    url: str
    routes: list[str] = field(default_factory=list)
    """The route names using it: ``default`` and/or topics."""
    lock: trio.Lock = field(default_factory=trio.Lock)
    paused_until: float = 0.0          # trio clock
    disabled: str = ""                 # why it is no longer used

    @property
    def label(self) -> str:
        return "+".join(self.routes) or "default"

    def __repr__(self) -> str:  # never show the token
        return f"Webhook({self.label}, id={self.id})"


def parse_webhook(variable: str, raw: str) -> Webhook:
    """Validate a webhook URL and rewrite it to ``/api/v10/webhooks/{id}/{token}?wait=true``
    (unversioned URLs reach the deprecated v6 API, whose ``retry_after`` is in ms)."""
    parts = urlsplit(raw.strip())
    match = _PATH.match(parts.path)
    host = (parts.hostname or "").lower()
    port = _port(parts)
    # Enough to recognise the entry, never the token (nor any user:password@).
    shown = f"{parts.scheme}://{host}{f':{port}' if port and port > 0 else ''}/…" \
        if host else "<not a URL>"
    if not match or parts.scheme not in ("http", "https") or not host or port == -1:
        raise ConfigError(variable, shown, "a Discord webhook URL "
                          "(https://discord.com/api/webhooks/<id>/<token>)")
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise ConfigError(variable, shown, "an https:// webhook URL (plain http only on "
                          "loopback)")
    query = {"wait": "true"}  # 200 + the message: a 2xx means Discord stored it
    thread = parse_qs(parts.query).get("thread_id")
    if thread and thread[0].isdigit():
        query["thread_id"] = thread[0]
    wid, token = match.groups()
    url = (f"{parts.scheme}://{parts.netloc}/api/v{API_VERSION}/webhooks/{wid}/{token}"
           f"?{urlencode(query)}")
    return Webhook(wid, token, url)


def _port(parts: Any) -> int | None:
    """The URL's port, ``None`` when absent, ``-1`` when malformed."""
    try:
        return parts.port  # type: ignore[no-any-return]
    except ValueError:
        return -1


class WebhookClient:
    def __init__(self, user_agent: str, health: Any = None) -> None:
        self.headers = {"User-Agent": user_agent, "Content-Type": "application/json"}
        self.health = health
        self.global_until = 0.0
        # One TLS context for every request: building one loads the CA bundle (slow).
        self._ssl = httpx.create_ssl_context()
        self.webhooks: list[Webhook] = []

    def report(self) -> None:
        if self.health is not None:
            self.health.put("webhooks", {w.label: w.disabled or "ok" for w in self.webhooks})

    async def _wait_out_pause(self, webhook: Webhook) -> None:
        """Sleep out a short rate-limit pause (the webhook's or the global one); a long one
        raises, so the outbox tries again when it is over."""
        wait = max(webhook.paused_until, self.global_until) - trio.current_time()
        if wait > MAX_INLINE_WAIT:
            raise NotifyError(f"webhook {webhook.label} is paused by a rate limit",
                              retry_after=wait)
        if wait > 0:
            await trio.sleep(wait)

    async def execute(self, webhook: Webhook, payload: dict[str, Any]) -> dict[str, Any]:
        """Post one message; returns Discord's message object (``wait=true``)."""
        async with webhook.lock:  # one request at a time per webhook
            if webhook.disabled:
                raise PermanentNotifyError(f"webhook {webhook.label} is disabled: "
                                           f"{webhook.disabled}")
            await self._wait_out_pause(webhook)
            body = json.dumps(payload, ensure_ascii=False).encode()
            try:
                # A client per send: alerts are rare, and nothing is left to close under Trio.
                async with httpx.AsyncClient(timeout=TIMEOUT, verify=self._ssl,
                                             headers=self.headers) as http:
                    response = await http.post(webhook.url, content=body)
            except httpx.TimeoutException:
                raise NotifyError(f"webhook {webhook.label}: Discord timed out") from None
            except httpx.HTTPError as exc:
                text = str(exc).replace(webhook.token, "***")[:200]
                raise NotifyError(f"webhook {webhook.label}: {type(exc).__name__}: "
                                  f"{text}") from None
            return self._outcome(webhook, response)

    async def edit(self, webhook: Webhook, message_id: str, payload: dict[str, Any]
                   ) -> bool:
        """Edit a message this webhook sent (``PATCH …/messages/{id}``); False when Discord
        will not (the message was deleted, or any refusal): the caller posts anew. Rate
        limits raise like ``execute``'s, so the outbox waits and tries again."""
        base = webhook.url.split("?", 1)[0]
        async with webhook.lock:
            await self._wait_out_pause(webhook)
            try:
                async with httpx.AsyncClient(timeout=TIMEOUT, verify=self._ssl,
                                             headers=self.headers) as http:
                    response = await http.patch(f"{base}/messages/{message_id}",
                                                content=json.dumps(payload).encode())
            except httpx.HTTPError:
                return False
            if response.status_code == 429:
                self._outcome(webhook, response)  # raises with the retry_after
            return 200 <= response.status_code < 300

    def _outcome(self, webhook: Webhook, response: httpx.Response) -> dict[str, Any]:
        now, status, headers = trio.current_time(), response.status_code, response.headers
        data = _json(response)
        if headers.get("x-ratelimit-remaining") == "0":
            reset_after = _float(headers.get("x-ratelimit-reset-after"))
            if reset_after is not None:
                webhook.paused_until = max(webhook.paused_until, now + reset_after)
        if 200 <= status < 300:
            return data if isinstance(data, dict) else {}
        message = str(data.get("message", "")) if isinstance(data, dict) else ""
        code = data.get("code") if isinstance(data, dict) else None
        what = f"{status}{f' {code}' if code else ''}{f' {message}' if message else ''}"
        if status == 429:
            retry = _float(data.get("retry_after")) if isinstance(data, dict) else None
            retry = retry if retry is not None else _float(headers.get("retry-after"))
            # Never 0: a retry in the same instant would spin against the same window.
            retry = max(retry if retry is not None else 1.0, MIN_RETRY)
            if "via" not in headers:  # not from Discord's API: Cloudflare's ban page
                retry = max(retry, BAN_PAUSE)
                webhook.paused_until = now + retry
                raise NotifyError(f"webhook {webhook.label}: Cloudflare ban (429 without "
                                  f"Via); pausing {retry:.0f}s", retry_after=retry)
            is_global = (isinstance(data, dict) and data.get("global") is True) or \
                headers.get("x-ratelimit-global", "").lower() == "true"
            if is_global:
                self.global_until = now + retry
            webhook.paused_until = max(webhook.paused_until, now + retry)
            scope = headers.get("x-ratelimit-scope", "global" if is_global else "user")
            raise NotifyError(f"webhook {webhook.label}: rate limited ({scope}) for "
                              f"{retry:.2f}s", retry_after=retry)
        if status in (401, 404):
            webhook.disabled = f"Discord answered {what}; check the webhook URL"
            self.report()
            raise PermanentNotifyError(f"webhook {webhook.label} disabled: {what}")
        if status == 400:
            raise PermanentNotifyError(f"webhook {webhook.label}: Discord refused the "
                                       f"message: {what} {_errors(data)}".strip())
        if status == 403:
            retry = max(_float(headers.get("retry-after")) or 0.0, FORBIDDEN_PAUSE)
            webhook.paused_until = now + retry
            raise NotifyError(f"webhook {webhook.label}: forbidden ({what or 403}); "
                              f"pausing {retry:.0f}s", retry_after=retry)
        if status >= 500:
            raise NotifyError(f"webhook {webhook.label}: Discord error {what}")
        raise PermanentNotifyError(f"webhook {webhook.label}: unexpected answer {what}")


def _json(response: httpx.Response) -> Any:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _errors(data: Any) -> str:
    """The first field error of a 50035 "Invalid Form Body", e.g. ``embeds.0.title: …``."""
    if not isinstance(data, dict) or not isinstance(data.get("errors"), dict):
        return ""

    def walk(node: Any, path: list[str]) -> str:
        if isinstance(node, dict):
            if node.get("_errors"):
                first = node["_errors"][0]
                return f"({'.'.join(path)}: {first.get('message', '')})"
            for key, value in node.items():
                found = walk(value, [*path, str(key)])
                if found:
                    return found
        return ""
    return walk(data["errors"], [])[:300]
