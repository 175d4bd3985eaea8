"""Ingest routes: every relay registered through ``th_register_relays`` is served here.

For each ``POST <relay.path>``:

1. **Auth**: the relay's own ``verify(body, headers)`` when it has one (an HMAC signature
   of a ``RELAYS_FILE`` route, checked after the body is read), else its token setting (``INGEST_API_TOKEN``, ``POLYALERTHUB_TOKEN``) when set,
   else — only when the dashboard listens beyond loopback — ``DASHBOARD_TOKEN``; sent as
   ``Authorization: Bearer <token>``, compared in constant time; 401 otherwise. Unset on a
   loopback dashboard: open. (The security layer exempts these routes from the dashboard's
   own token and, having no ``Origin`` header, from the same-origin rule; a browser's
   cross-site request still carries ``Origin`` and is refused there.)
2. **Body**: JSON (415 otherwise, from the security layer), at most ``HTTP_MAX_BODY_BYTES``
   (413), valid JSON (400). ``NaN``/``Infinity`` literals are let through so the relay
   names the field they are in (422).
3. **Parse**: ``relay.parse(payload, headers)``; ``PayloadError`` → 422 with its message and
   detail (every problem, and what is accepted).
4. **Idempotency**: an event's ``ext_id`` (the ``id`` field), else the ``Idempotency-Key``
   header (``key`` for one event, ``key#i`` for the i-th of an array). A key already seen —
   in this request, in memory (the last ``RECENT_KEYS``), or in the store (unique index on
   ``(source, ext_id)``, looked up by ``daemon/event_keys.py``) — is a duplicate: answered,
   not processed again.
5. **Text**: every string is valid Unicode (no lone surrogates) within its length limit
   (``daemon/limits.py``): 422 naming the field otherwise.
6. **Hand-off**: ``WebParts.ingest(events)`` — the same pipeline as the feeds — then the answer
   waits until the batch holding the events has committed: **200 means stored**
   ``{"accepted": n, "duplicates": m}``. A degraded store (disk full, read-only, ...) or a
   full buffer answers 503 with ``Retry-After`` instead; nothing is acknowledged that is not
   stored. ``Prefer: respond-async`` (RFC 7240) opts into the old 202 "queued, not yet
   stored" answer without the wait.

Mounted: the relays plugins registered, then the routes of ``RELAYS_FILE``
(``extras["relay_routes"]``). Every answer is counted per route in the
:class:`RelayBook` (``extras["relay_book"]``), which ``th-ctl relays`` reads.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import trio
from quart import Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from trade_hunter.daemon.event_keys import Key, StoredKeys
from trade_hunter.daemon.limits import event_problems
from trade_hunter.plugins.errors import PayloadError
from trade_hunter.plugins.models import MarketEvent
from trade_hunter.plugins.registry import Relay

from .relay_book import RelayBook, RouteStats

if TYPE_CHECKING:
    from .parts import WebParts

log = logging.getLogger("trade_hunter.web.ingest")
RECENT_KEYS = 100_000
MAX_KEY = 200
RETRY_AFTER = "1"
DEGRADED_RETRY_AFTER = "5"
STORE_WAIT = 10.0  # longest an answer waits for its commit; then 503 (the events stay queued)


def _error(status: int, error: str, detail: Any = None, code: str | None = None,
           headers: dict[str, str] | None = None) -> Response:
    """The API's error shape: ``{"error", "detail", "code"}``."""
    body: dict[str, Any] = {"error": error, "detail": detail}
    if code:
        body["code"] = code
    return Response(json.dumps(body), status, headers, content_type="application/json")


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RecentKeys:
    """The last ``size`` idempotency keys accepted (LRU), reserved before the first await so
    two concurrent deliveries of one event cannot both get through."""

    def __init__(self, size: int = RECENT_KEYS) -> None:
        self.size = size
        self._keys: OrderedDict[Key, None] = OrderedDict()

    def __contains__(self, key: Key) -> bool:
        return key in self._keys

    def add(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._keys[key] = None
            self._keys.move_to_end(key)
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)

    def discard(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._keys.pop(key, None)


class RelayEndpoint:
    def __init__(self, relay: Relay, parts: WebParts, recent: RecentKeys,
                 book: RelayBook, stored_keys: StoredKeys) -> None:
        self.relay, self.recent = relay, recent
        self.settings, self.store, self.ingest = parts.settings, parts.store, parts.ingest
        self.stored_keys = stored_keys
        self.stats: RouteStats = book.route(relay.name, relay.path, self.auth_label(),
                                            relay.plugin or "built-in")

    def auth_label(self) -> str:
        if self.relay.verify is not None:
            return self.relay.auth or "custom"
        token, which = self.token()
        return f"bearer {which}" if token else "open"

    def token(self) -> tuple[str, str]:
        """The bearer token this relay requires now, and the setting it comes from."""
        s = self.settings
        if self.relay.token_setting:
            token = str(s.get(self.relay.token_setting, "") or "")
            if token:
                return token, self.relay.token_setting
        if not _is_loopback(str(s.APP_HOST)):
            return str(s.get("DASHBOARD_TOKEN", "") or ""), "DASHBOARD_TOKEN"
        return "", ""

    async def __call__(self) -> Response:
        response = await self.handle()
        if response.status_code in (200, 202):  # stored, or queued (Prefer: respond-async)
            answer = json.loads(await response.get_data())
            self.stats.delivered(answer["accepted"], answer["duplicates"])
        else:
            error = json.loads(await response.get_data())
            self.stats.refused(error.get("code", str(response.status_code)), error["error"])
        return response

    async def handle(self) -> Response:
        token, which = self.token() if self.relay.verify is None else ("", "")
        if token:
            auth = request.headers.get("Authorization", "")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _error(401, "authentication required",
                              f"send Authorization: Bearer <{which}>", "unauthorized",
                              {"WWW-Authenticate": 'Bearer realm="trade-hunter ingest"'})
        try:
            body = await request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _error(413, "request body too large",
                          f"at most {request.max_content_length} bytes", "body_too_large")
        headers = {k.lower(): v for k, v in request.headers.items()}
        if self.relay.verify is not None:
            raw = body if isinstance(body, bytes) else body.encode()
            refused = self.relay.verify(raw, headers)
            if refused is not None:
                return _error(401, "authentication required", refused, "unauthorized")
        try:
            payload = json.loads(body, parse_constant=float)  # NaN reaches the relay, named
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            return _error(400, "body is not valid JSON", str(exc)[:200], "parse_error")
        try:
            events = self.relay.parse(payload, headers)
        except PayloadError as exc:
            return _error(422, exc.message, exc.detail, "invalid_payload")
        except RecursionError:
            return _error(422, "payload nested too deeply", None, "invalid_payload")
        if not isinstance(events, list) or \
                not all(isinstance(e, MarketEvent) for e in events):
            log.error("relay %s returned %r instead of a list of MarketEvent",
                      self.relay.name, type(events).__name__)
            return _error(500, f"relay {self.relay.name} failed", None, "internal_error")
        problems = event_problems(events)
        if problems:
            return _error(422, problems[0], problems[:20], "invalid_payload")
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > MAX_KEY or not key.isprintable():
            return _error(422, f"Idempotency-Key: expected at most {MAX_KEY} printable "
                               "characters", None, "invalid_payload")
        if self.store.degraded:
            return self._degraded()
        wait = "respond-async" not in request.headers.get("Prefer", "").lower()
        return await self.accept(events, key, wait=wait)

    def _degraded(self) -> Response:
        return _error(503, "the store cannot write now, nothing was accepted",
                      f"{self.store.degraded}; retry later", "store_degraded",
                      {"Retry-After": DEGRADED_RETRY_AFTER})

    async def accept(self, events: list[MarketEvent], key: str, *, wait: bool = True
                     ) -> Response:
        now = time.time()
        for i, e in enumerate(events):
            e.source = e.source or self.relay.name
            e.received_at = now
            if e.ext_id is None and key:
                e.ext_id = key if len(events) == 1 else f"{key}#{i}"
        fresh, reserved, duplicates = [], set(), 0
        for e in events:  # in memory first, reserving before any await
            if e.ext_id is None:
                fresh.append(e)
                continue
            k = (e.source, e.ext_id)
            if k in reserved or k in self.recent:
                duplicates += 1
                continue
            reserved.add(k)
            fresh.append(e)
        self.recent.add(reserved)
        stored: set[Key] = set()
        handoff = None
        try:
            stored = await self._stored(reserved)
            if stored:
                fresh = [e for e in fresh if e.ext_id is None or
                         (e.source, e.ext_id) not in stored]
                duplicates += len(stored)
            if fresh:
                handoff = self.ingest(fresh)
        except trio.WouldBlock:
            self.recent.discard(reserved - stored)
            if self.store.degraded:
                return self._degraded()
            return _error(503, "ingest buffer full", "retry shortly", "busy",
                          {"Retry-After": RETRY_AFTER})
        except BaseException:
            self.recent.discard(reserved)
            raise
        body = json.dumps({"accepted": len(fresh), "duplicates": duplicates})
        if not wait:
            return Response(body, 202, content_type="application/json")
        if handoff is not None:
            with trio.move_on_after(STORE_WAIT):
                await handoff.stored.wait()
            if not handoff.stored.is_set():
                # Queued and kept (a retry with the same ids is recognised), but not stored.
                return _error(503, "accepted but not stored yet",
                              f"{self.store.degraded or 'the store is slow'}; the events "
                              "stay queued; a retry with the same ids is not stored twice",
                              "not_stored_yet", {"Retry-After": DEGRADED_RETRY_AFTER})
            if handoff.failed:
                return _error(500, f"{handoff.failed} of {len(fresh)} events could not be "
                                   "stored", "the daemon log names the rows; the others are "
                                   "stored", "store_error")
        return Response(body, 200, content_type="application/json")

    async def _stored(self, keys: set[Key]) -> set[Key]:
        """The keys already in the store (delivered before a restart)."""
        if not keys:
            return set()
        return await trio.to_thread.run_sync(self.stored_keys.find, keys)


def register_ingest_routes(app: Any, parts: WebParts) -> None:
    """Mount each registered relay, then each route of ``RELAYS_FILE``, at its path
    (``POST``, JSON)."""
    recent = RecentKeys()
    stored_keys = StoredKeys(parts.store)
    book = parts.extras.setdefault("relay_book", RelayBook())
    relays = list(parts.relays.values())
    taken = {r.path for r in relays}
    for relay in parts.extras.get("relay_routes", ()):
        if relay.path in taken or any(r.name == relay.name for r in relays):
            log.error("RELAYS_FILE route %s (%s) is already served by a relay plugin; "
                      "not mounted", relay.name, relay.path)
            continue
        relays.append(relay)
        app.config["TH_INGEST_PATHS"].add(relay.path)
    for relay in relays:
        endpoint = RelayEndpoint(relay, parts, recent, book, stored_keys)

        async def view(endpoint: RelayEndpoint = endpoint) -> Response:
            return await endpoint()

        view.__name__ = f"ingest_{relay.name}"
        view.__doc__ = f"{relay.description or relay.name}\n\nAnswers 200 once stored " \
            "{\"accepted\": n, \"duplicates\": m} (202 without waiting with Prefer: " \
            "respond-async); 401, 413, 400, 422, 503 on errors."
        app.add_url_rule(relay.path, f"ingest_{relay.name}", view, methods=["POST"])
