"""The security layer of a local dashboard, applied to every route (ingest routes included).

In order, for each request:

1. ``Host`` must be one the dashboard serves (DNS-rebinding protection, see ``bind.py``): 403.
2. A declared body larger than ``HTTP_MAX_BODY_BYTES``: 413 (bodies sent without a length are
   capped while read, through Quart's ``MAX_CONTENT_LENGTH``).
3. State-changing requests (POST, PUT, PATCH, DELETE) must be same-origin and JSON:
   an ``Origin`` header, when present, must equal the dashboard's own origin; a
   ``Sec-Fetch-Site`` header, when present, must be ``same-origin`` or ``none``; the body must
   be ``application/json`` (415 otherwise), which a cross-site page cannot send without a CORS
   preflight that this server never grants. Browsers always send ``Origin`` on cross-origin
   requests, so a request *without* one is not a browser acting for another site; requiring
   it would add no protection (any other program can forge it) and would break curl — so the
   same rule serves the dashboard and the machine-to-machine ingest routes.
4. With ``DASHBOARD_TOKEN`` set, every route except the login page, ``/api/login`` and static
   assets needs it: ``Authorization: Bearer <token>``, or the session cookie the login form
   sets (HttpOnly, SameSite=Strict, ``Secure`` over HTTPS — also behind a proxy that says
   ``X-Forwarded-Proto: https``; a random server-side session id, see ``sessions.py``).
   Ingest routes are exempt: relays check their own bearer tokens (``Relay.token_setting``).

5. A JSON response that would contain a secret setting's value (a webhook URL quoted in a
   component's last error, say) has it replaced by ``[redacted]``, and the leak is logged.

Ingest paths are the relays' paths (the registered relays) plus any path added to
``app.config["TH_INGEST_PATHS"]``.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import trio
from quart import Quart, Response, redirect, request

from trade_hunter.daemon.logs import secret_strings

from .bind import allowed_hosts, host_ok
from .errors import json_error, wants_json
from .sessions import SESSION_MAX_AGE, LoginThrottle, Sessions

if TYPE_CHECKING:
    from trade_hunter.plugins.registry import Relay

log = logging.getLogger("trade_hunter.web")
SESSION_COOKIE = "th_session"
REDACTED = b"[redacted]"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOGIN_PATHS = frozenset({"/login", "/api/login", "/favicon.ico"})
WRONG_TOKEN_DELAY = 1.0  # seconds: slows guessing down

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def secret_values(settings: Any) -> list[tuple[str, bytes]]:
    """Each secret setting's value, and its parts for list-like ones (``topic=url;…``), as
    they would appear in JSON (the same list the log filter redacts)."""
    return [(name, json.dumps(text)[1:-1].encode()) for name, text in secret_strings(settings)]


def https() -> bool:
    """Served over HTTPS, directly or behind a proxy that says so."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.scheme == "https" or forwarded == "https"


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Guard:
    def __init__(self, app: Quart, settings: Any, relays: Mapping[str, Relay]) -> None:
        s = settings
        self.app, self.relays = app, relays
        self.allowed = allowed_hosts(str(s.APP_HOST), s.ALLOWED_HOSTS)
        self.token: str = s.DASHBOARD_TOKEN
        self.sessions = Sessions()
        self.throttle = LoginThrottle()
        self.cap: int = s.HTTP_MAX_BODY_BYTES
        self.secrets = secret_values(s)

    # ------------------------------------------------------------------ predicates
    def is_ingest(self, path: str) -> bool:
        if path in self.app.config["TH_INGEST_PATHS"]:
            return True
        return any(r.path == path for r in self.relays.values())

    def authenticated(self) -> bool:
        if not self.token:
            return True
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer " and _same(auth[7:].strip(), self.token):
            return True
        return self.sessions.valid(request.cookies.get(SESSION_COOKIE, ""))

    def _public(self, path: str) -> bool:
        return path in LOGIN_PATHS or path.startswith("/static/")

    # ------------------------------------------------------------------ hooks
    async def before(self) -> Response | None:
        scope: dict[str, Any] = getattr(request, "scope", None) or {}
        server = scope.get("server")
        local_ip = server[0] if server else None
        if not host_ok(request.headers.get("Host", ""), self.allowed, local_ip):
            return json_error(403, "forbidden host",
                              f"Host {request.headers.get('Host', '')!r} is not an address "
                              "this dashboard serves (add it to ALLOWED_HOSTS)", "forbidden_host")
        length = request.content_length
        if length is not None and length > self.cap:
            return json_error(413, "request body too large",
                              f"at most {self.cap} bytes (HTTP_MAX_BODY_BYTES)",
                              "body_too_large")
        path = request.path
        if request.method in STATE_CHANGING:
            refused = self._cross_origin() or self._not_json()
            if refused is not None:
                return refused
        if self.is_ingest(path) or self._public(path) or self.authenticated():
            return None
        if request.method == "GET" and not wants_json():  # a page: the login form
            return redirect("/login", 303)  # type: ignore[return-value]
        return json_error(401, "authentication required",
                          "send Authorization: Bearer <DASHBOARD_TOKEN> or log in at /login",
                          "unauthorized", {"WWW-Authenticate": "Bearer"})

    def _cross_origin(self) -> Response | None:
        origin = request.headers.get("Origin")
        own = f"{request.scheme}://{request.headers.get('Host', '')}".lower()
        behind_tls = f"https://{request.headers.get('Host', '')}".lower() if https() else own
        if origin is not None and origin.lower() not in (own, behind_tls):
            return json_error(403, "cross-origin request refused",
                              f"Origin {origin!r} is not this dashboard ({own})",
                              "cross_origin")
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            return json_error(403, "cross-origin request refused",
                              f"Sec-Fetch-Site is {site!r}", "cross_origin")
        return None

    def _not_json(self) -> Response | None:
        mimetype = request.mimetype
        if mimetype == "application/json" or mimetype.endswith("+json"):
            return None
        return json_error(415, "JSON required",
                          "state-changing requests must send Content-Type: application/json "
                          f"(got {mimetype or 'none'!r})", "unsupported_media_type")

    async def after(self, response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Content-Security-Policy", CSP)
        if request.path.startswith("/api/") or request.path == "/openapi.json":
            headers.setdefault("Cache-Control", "no-store")
        if self.secrets and response.mimetype == "application/json":
            await self._redact(response)
        return response

    async def _redact(self, response: Response) -> None:
        """The last line of "never echo a secret": an error text that quotes a webhook URL
        (say, in a component's health) must not carry it to the browser."""
        body = await response.get_data(as_text=False)
        found = [(name, value) for name, value in self.secrets if value in body]
        if not found:
            return
        for name, value in found:
            body = body.replace(value, REDACTED)
            log.error("a %s response on %s contained %s: redacted", response.status_code,
                      request.path, name)
        response.set_data(body)

    # ------------------------------------------------------------------ login
    async def login(self, token: str) -> Response:
        if not self.token:
            return json_error(409, "no login needed", "DASHBOARD_TOKEN is not set",
                              "no_token_configured")
        wait = self.throttle.wait()
        if wait:  # refused before comparing: parallel guessing learns nothing
            return json_error(429, "too many wrong logins", f"try again in {wait:.0f} s",
                              "too_many_attempts", {"Retry-After": f"{max(1, round(wait))}"})
        if not _same(token, self.token):
            self.throttle.failed()
            await trio.sleep(WRONG_TOKEN_DELAY)
            return json_error(401, "wrong token", None, "unauthorized")
        response = Response(b'{"ok": true}', content_type="application/json")
        response.set_cookie(SESSION_COOKIE, self.sessions.create(), max_age=SESSION_MAX_AGE,
                            httponly=True, samesite="Strict", path="/", secure=https())
        return response

    def logout(self) -> Response:
        """Revoke this browser's session (server-side) and clear its cookie."""
        self.sessions.revoke(request.cookies.get(SESSION_COOKIE, ""))
        response = Response(b'{"ok": true}', content_type="application/json")
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict",
                               secure=https())
        return response


def install_security(app: Quart, settings: Any, relays: Mapping[str, Relay]) -> Guard:
    app.config.setdefault("TH_INGEST_PATHS", set())
    app.config["MAX_CONTENT_LENGTH"] = settings.HTTP_MAX_BODY_BYTES
    guard = Guard(app, settings, relays)
    app.before_request(guard.before)
    app.after_request(guard.after)
    return guard
