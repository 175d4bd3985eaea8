"""A local fake of Discord's Execute Webhook endpoint, speaking the real wire format.

It runs in the test's own Trio loop (hypercorn), so it follows ``autojump_clock``:

* ``PATCH /api/v10/webhooks/{id}/{token}/messages/{message_id}`` edits a message the
  webhook sent (200 with the message; 404 ``Unknown Message`` 10008 once deleted);
* ``POST /api/v10/webhooks/{id}/{token}[?wait=true]`` (and the unversioned v6 path, recorded
  as such): 404 ``Unknown Webhook`` (10015) for an unknown id, 401 ``Invalid Webhook Token``
  (50027) for a wrong token, 204 or 200 with a message object;
* the documented limits (content 2000, 10 embeds, title 256, description 4096, 25 fields,
  name 256, value 1024, footer 2048, 6000 in total, username rules) → 400 ``Invalid Form
  Body`` (50035) with the nested ``_errors`` format;
* a per-webhook bucket (5 requests per 2 s by default; failed requests count too) with the
  ``X-RateLimit-*`` headers on every answer; a 429 carries a float ``retry_after``, a rounded
  up ``Retry-After``, ``X-RateLimit-Scope`` and ``Via: 1.1 google``;
* Cloudflare in front: 403 "error code: 1010" for default library User-Agents; ``ban``
  answers a 429 HTML page without ``Via``;
* scripted faults per webhook: ``fail(id, "500", "502", ("429", 3.5), "ban", ("slow", 30),
  "404", "401", "403")``, consumed one per request.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import Response, request
from quart_trio import QuartTrio

BLOCKED_AGENTS = ("python-requests/", "python-urllib/", "python-httpx/", "aiohttp/",
                  "httpx2/", "curl/")


@dataclass
class Hook:
    id: str
    token: str
    channel: str
    window_start: float = -1e9
    used: int = 0
    script: deque[Any] = field(default_factory=deque)


@dataclass
class Seen:
    webhook_id: str
    version: str            # "v10" or "v6"
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int
    at: float               # trio clock


class FakeDiscord:
    def __init__(self, *, limit: int = 5, per: float = 2.0) -> None:
        self.limit, self.per = limit, per
        self.hooks: dict[str, Hook] = {}
        self.requests: list[Seen] = []
        self.messages: list[dict[str, Any]] = []
        self.base = ""
        self._ids = itertools.count(1311111111111111111)
        self.app = self._make_app()

    # ------------------------------------------------------------------ set-up
    def add_webhook(self, channel: str, *, unversioned: bool = False) -> str:
        wid = str(1200000000000000000 + len(self.hooks) + 1)
        token = hashlib.sha256(wid.encode()).hexdigest()[:68]
        self.hooks[wid] = Hook(wid, token, channel)
        version = "" if unversioned else "/v10"
        return f"{self.base}/api{version}/webhooks/{wid}/{token}"

    def fail(self, url_or_id: str, *answers: Any) -> None:
        self.hooks[self._id(url_or_id)].script.extend(answers)

    def delivered(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel"] == channel]

    @staticmethod
    def _id(url_or_id: str) -> str:
        return url_or_id.split("/webhooks/")[1].split("/")[0] if "/" in url_or_id \
            else url_or_id

    async def serve(self, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.graceful_timeout = 0.1

        fake = self

        class _Started:  # hypercorn reports its binds; keep the base URL
            def started(self, binds: Any = None) -> None:
                fake.base = binds[0].rstrip("/")
                task_status.started(fake.base)

        await serve(self.app, config, task_status=_Started())  # type: ignore[arg-type]

    # ------------------------------------------------------------------ the endpoint
    def _make_app(self) -> QuartTrio:
        app = QuartTrio("fake_discord")

        @app.post("/api/v10/webhooks/<wid>/<token>")
        async def execute_v10(wid: str, token: str) -> Response:
            return await self._execute(wid, token, "v10")

        @app.post("/api/webhooks/<wid>/<token>")
        async def execute_v6(wid: str, token: str) -> Response:
            return await self._execute(wid, token, "v6")

        @app.patch("/api/v10/webhooks/<wid>/<token>/messages/<mid>")
        async def edit_v10(wid: str, token: str, mid: str) -> Response:
            return await self._edit(wid, token, mid)

        return app

    async def _execute(self, wid: str, token: str, version: str) -> Response:
        raw = await request.get_data()
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.args)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        response = await self._answer(wid, token, headers, body, raw, query)
        self.requests.append(Seen(wid, version, query, headers, body, response.status_code,
                                  trio.current_time()))
        return response

    async def _edit(self, wid: str, token: str, mid: str) -> Response:
        """``PATCH …/messages/{id}``: edit a message this webhook sent (404 ``Unknown
        Message``, 10008, for one it did not send or that was deleted)."""
        hook = self.hooks.get(wid)
        if hook is None or token != hook.token:
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        body = json.loads(await request.get_data() or b"null")
        self.requests.append(Seen(wid, "v10-edit", {"message_id": mid}, {}, body, 0,
                                  trio.current_time()))
        for stored in self.messages:
            if stored["message"]["id"] == mid and stored["channel"] == hook.channel:
                if not isinstance(body, dict) or validate(body):
                    return _json({"code": 50035, "message": "Invalid Form Body"}, 400)
                stored["body"] = body
                stored["edits"] = stored.get("edits", 0) + 1
                return _json(stored["message"] | {"embeds": body.get("embeds", [])}, 200)
        return _json({"message": "Unknown Message", "code": 10008}, 404)

    def delete_message(self, message_id: str) -> None:
        """A user deletes a message in the channel: later edits of it answer 404."""
        self.messages = [m for m in self.messages if m["message"]["id"] != message_id]

    async def _answer(self, wid: str, token: str, headers: dict[str, str], body: Any,
                      raw: bytes, query: dict[str, str]) -> Response:
        agent = headers.get("user-agent", "")
        if not agent or agent.lower().startswith(BLOCKED_AGENTS):
            return Response("<!DOCTYPE html><title>Access denied | discord.com used "
                            "Cloudflare</title><p>error code: 1010</p>", 403,
                            {"Content-Type": "text/html", "Server": "cloudflare"})
        hook = self.hooks.get(wid)
        if hook is None:
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        if token != hook.token:
            return _json({"message": "Invalid Webhook Token", "code": 50027}, 401)
        limit_headers, limited = self._take(hook)
        if hook.script:
            forced = hook.script.popleft()
            name, arg = forced if isinstance(forced, tuple) else (forced, None)
            if name == "slow":
                await trio.sleep(arg)
            elif name == "429":
                return self._limited(arg or 1.5, limit_headers, scope="user")
            elif name == "global":
                return self._limited(arg or 2.0, limit_headers, scope="global")
            elif name == "ban":
                return Response("<html><title>You are being rate limited</title></html>", 429,
                                {"Content-Type": "text/html", "Retry-After": str(arg or 120)})
            elif name == "404":
                return _json({"message": "Unknown Webhook", "code": 10015}, 404, limit_headers)
            elif name == "401":
                return _json({"message": "Invalid Webhook Token", "code": 50027}, 401)
            elif name == "403":
                return Response("<p>error code: 1020</p>", 403, {"Content-Type": "text/html"})
            else:
                return _json({"message": f"{name}: Internal Server Error", "code": 0},
                             int(name), limit_headers)
        if limited is not None:
            return self._limited(limited, limit_headers, scope="user")
        if body is None or not isinstance(body, dict):
            return _json({"code": 50109, "message": "The request body contains invalid JSON."},
                         400, limit_headers)
        errors = validate(body)
        if errors == "empty":
            return _json({"code": 50006, "message": "Cannot send an empty message"}, 400,
                         limit_headers)
        if errors:
            return _json({"code": 50035, "message": "Invalid Form Body", "errors": errors},
                         400, limit_headers)
        message = {
            "id": str(next(self._ids)), "type": 0, "channel_id": hook.channel,
            "content": body.get("content", ""), "embeds": body.get("embeds", []),
            "author": {"id": hook.id, "username": body.get("username", "hook"), "bot": True},
            "webhook_id": hook.id, "mentions": [], "mention_roles": [], "pinned": False,
            "timestamp": "2026-11-27T03:15:01.123000+00:00", "flags": 0,
        }
        self.messages.append({"channel": hook.channel, "body": body, "message": message})
        if query.get("wait", "").lower() in ("true", "1"):
            return _json(message, 200, limit_headers)
        return Response("", 204, limit_headers)

    def _take(self, hook: Hook) -> tuple[dict[str, str], float | None]:
        now = trio.current_time()
        if now - hook.window_start >= self.per - 1e-6:
            hook.window_start, hook.used = now, 0
        reset_after = math.ceil((hook.window_start + self.per - now) * 1000) / 1000
        limited = reset_after if hook.used >= self.limit else None
        hook.used = min(hook.used + 1, self.limit)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - hook.used),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.md5(hook.id.encode()).hexdigest(),
            "Via": "1.1 google",
        }
        return headers, limited

    @staticmethod
    def _limited(retry_after: float, headers: dict[str, str], *, scope: str) -> Response:
        body = {"message": "You are being rate limited.", "retry_after": retry_after,
                "global": scope == "global"}
        extra = {**headers, "Retry-After": str(math.ceil(retry_after)),
                 "X-RateLimit-Scope": scope, "Via": "1.1 google"}
        if scope == "global":
            extra["X-RateLimit-Global"] = "true"
        return _json(body, 429, extra)


def _json(data: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status, {"Content-Type": "application/json",
                                               **(headers or {})})


def validate(body: dict[str, Any]) -> Any:
    """Discord's documented limits, as a 50035 ``errors`` tree (or ``"empty"``)."""
    errors: dict[str, Any] = {}

    def err(path: list[str], message: str, code: str = "BASE_TYPE_MAX_LENGTH") -> None:
        node = errors
        for key in path:
            node = node.setdefault(key, {})
        node["_errors"] = [{"code": code, "message": message}]

    embeds = body.get("embeds") or []
    if not body.get("content") and not embeds:
        return "empty"
    if len(body.get("content") or "") > 2000:
        err(["content"], "Must be 2000 or fewer in length.")
    name = body.get("username")
    if name is not None and (not 1 <= len(name) <= 80 or "discord" in name.lower()
                             or "clyde" in name.lower()):
        err(["username"], "Username is invalid", "USERNAME_INVALID")
    if len(embeds) > 10:
        err(["embeds"], "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds[:10]):
        at = ["embeds", str(i)]
        for key, limit in (("title", 256), ("description", 4096)):
            text = (embed.get(key) or "").strip()
            total += len(text)
            if len(text) > limit:
                err([*at, key], f"Must be {limit} or fewer in length.")
        url = embed.get("url")
        if url is not None and not str(url).startswith(("http://", "https://")):
            err([*at, "url"], "Scheme must be one of ('http', 'https').", "URL_TYPE_INVALID_URL")
        footer = ((embed.get("footer") or {}).get("text") or "").strip()
        total += len(footer)
        if len(footer) > 2048:
            err([*at, "footer", "text"], "Must be 2048 or fewer in length.")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            err([*at, "fields"], "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                text = (f.get(key) or "").strip()
                total += len(text)
                if not text:
                    err([*at, "fields", str(j), key], "This field is required",
                        "BASE_TYPE_REQUIRED")
                elif len(text) > limit:
                    err([*at, "fields", str(j), key], f"Must be {limit} or fewer in length.")
    if total > 6000:
        err(["embeds"], "Embed size exceeds maximum size of 6000")
    return errors
