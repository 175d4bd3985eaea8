"""The security layer against the real server (hypercorn on port 0) and the test client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import trio
from quart import jsonify

from trade_hunter.plugins.errors import ConfigError
from trade_hunter.web.app import create_app
from trade_hunter.web.bind import allowed_hosts, check_bind, host_ok, is_loopback, split_host
from trade_hunter.web.security import SESSION_COOKIE
from trade_hunter.web.sessions import MAX_FAILURES

JSON = {"Content-Type": "application/json"}
TOKEN = "s3cret-dashboard-token"


def port_of(d) -> int:
    return urlsplit(d.dashboard_url).port


# --------------------------------------------------------------------------- Host
@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1:{port}", True), ("localhost:{port}", True), ("[::1]:{port}", True),
    ("LOCALHOST", True), ("app.localhost:{port}", True),
    ("evil.example:{port}", False), ("evil.example", False), ("127.0.0.1.nip.io:{port}", False),
    ("", False),
])
async def test_only_the_dashboard_hosts_are_served(start_daemon, host, ok):
    d = await start_daemon()
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        for path in ("/api/state", "/", "/static/js/app.js"):
            response = await client.get(path, headers={"Host": host.format(port=port_of(d))})
            assert (response.status_code == 200) is ok, (path, response.text)
            if not ok:
                assert response.status_code == 403
                assert response.json()["error"] == "forbidden host"


async def test_allowed_hosts_extends_the_list(start_daemon):
    d = await start_daemon(ALLOWED_HOSTS="dash.lan, box.local:8765")
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        for host in ("dash.lan:80", "box.local", "dash.lan"):
            assert (await client.get("/api/health", headers={"Host": host})).status_code == 200
        assert (await client.get("/api/health", headers={"Host": "other.lan"})).status_code == 403


def test_host_rules():
    assert split_host("[::1]:8765") == "::1" and split_host("Example.COM:80") == "example.com"
    assert split_host("::1") == "::1"
    allowed = allowed_hosts("0.0.0.0", ["dash.lan"])
    assert "0.0.0.0" not in allowed and "dash.lan" in allowed
    assert host_ok("192.168.1.20:8765", allowed, "192.168.1.20")   # the socket's own IP
    assert not host_ok("192.168.1.21:8765", allowed, "192.168.1.20")
    assert not host_ok("rebind.example:8765", allowed, "192.168.1.20")
    assert host_ok("[fe80::1]:8765", allowed, "fe80::1%eth0")
    assert host_ok("192.168.1.20", allowed, "::ffff:192.168.1.20")  # dual-stack socket
    assert is_loopback("127.0.0.2") and is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1")


# --------------------------------------------------------------------------- CSRF
@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "http://127.0.0.1:1"},          # another local port: another origin
    {"Origin": "null"},                         # sandboxed frames, file:// pages
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
async def test_cross_origin_state_changes_are_refused(start_daemon, headers):
    d = await start_daemon()
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        response = await client.post("/api/kalshi/markets", json={"ticker": "EVIL"},
                                     headers=headers)
        assert response.status_code == 403
        assert response.json()["error"] == "cross-origin request refused"
        demo = await client.post("/api/demo/spike", json={}, headers=headers)
        assert demo.status_code == 403
    assert d.tickers.list() == [] and not d.live.signals


async def test_same_origin_and_non_browser_clients_may_change_state(start_daemon):
    d = await start_daemon()
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        origin = d.dashboard_url.rstrip("/")
        same = await client.post("/api/kalshi/markets", json={"ticker": "KXA"},
                                 headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})
        assert same.status_code == 200
        curl = await client.post("/api/kalshi/markets", json={"ticker": "KXB"})
        assert curl.status_code == 200
    assert [t.ticker for t in d.tickers.list()] == ["KXA", "KXB"]


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None,
])
async def test_state_changing_requests_must_be_json(start_daemon, content_type):
    d = await start_daemon()
    headers = {"Content-Type": content_type} if content_type else {}
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        response = await client.post("/api/kalshi/markets", content=b'{"ticker": "KXC"}',
                                     headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    assert d.tickers.list() == []


async def test_bodies_are_capped(start_daemon):
    d = await start_daemon(HTTP_MAX_BODY_BYTES="2048")
    big = json.dumps({"ticker": "K" * 4000}).encode()
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        declared = await client.post("/api/kalshi/markets", content=big, headers=JSON)
        assert declared.status_code == 413
        assert "HTTP_MAX_BODY_BYTES" in declared.json()["detail"]

        async def chunks():  # no Content-Length: capped while it is read
            for i in range(0, len(big), 512):
                yield big[i:i + 512]
        streamed = await client.post("/api/kalshi/markets", content=chunks(), headers=JSON)
        assert streamed.status_code == 413 and "error" in streamed.json()
        small = await client.post("/api/kalshi/markets", json={"ticker": "KXD"})
        assert small.status_code == 200


async def test_security_headers(start_daemon):
    d = await start_daemon()
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        page = await client.get("/")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "Access-Control-Allow-Origin" not in page.headers


# --------------------------------------------------------------------------- token
async def test_token_guards_every_api_call(start_daemon):
    d = await start_daemon(DASHBOARD_TOKEN=TOKEN)
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        for path in ("/api/state", "/api/health", "/api/signals", "/api/kalshi/markets",
                     "/openapi.json"):
            refused = await client.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["WWW-Authenticate"] == "Bearer"
            wrong = await client.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            ok = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert ok.status_code == 200, path
            assert TOKEN not in ok.text  # never echoed
        post = await client.post("/api/demo/spike", json={})
        assert post.status_code == 401 and not d.live.signals
        for page_path in ("/", "/some/page"):
            page = await client.get(page_path)
            assert page.status_code == 303 and page.headers["Location"] == "/login"
        login_page = await client.get("/login")
        assert login_page.status_code == 200 and "login.js" in login_page.text
        assert (await client.get("/static/app.css")).status_code == 200


async def test_login_sets_a_session_cookie_that_is_not_the_token(start_daemon):
    d = await start_daemon(DASHBOARD_TOKEN=TOKEN)
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        wrong = await client.post("/api/login", json={"token": "guess"})
        assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.cookies
        empty = await client.post("/api/login", json={})
        assert empty.status_code == 422
        ok = await client.post("/api/login", json={"token": TOKEN})
        assert ok.status_code == 200
        cookie = ok.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
        session = client.cookies[SESSION_COOKIE]
        assert len(session) >= 40 and "Secure" not in cookie  # random; plain HTTP here
        assert (await client.get("/api/state")).status_code == 200
        assert (await client.get("/")).status_code == 200
        spike = await client.post("/api/demo/spike", json={})
        assert spike.status_code == 200
        again = await client.post("/api/login", json={"token": TOKEN})
        assert again.cookies[SESSION_COOKIE] != session  # every login a new session
        out = await client.post("/api/logout", json={})
        assert out.status_code == 200
        assert (await client.get("/api/state")).status_code == 401
    async with httpx.AsyncClient(base_url=d.dashboard_url) as thief:  # the old cookie, kept
        thief.cookies.set(SESSION_COOKIE, session)
        assert (await thief.get("/api/state")).status_code == 200  # not logged out itself
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        client.cookies.set(SESSION_COOKIE, again.cookies[SESSION_COOKIE])
        assert (await client.get("/api/state")).status_code == 401  # revoked by the logout


async def test_the_cookie_is_secure_behind_an_https_proxy(start_daemon):
    d = await start_daemon(DASHBOARD_TOKEN=TOKEN)
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        ok = await client.post("/api/login", json={"token": TOKEN},
                               headers={"X-Forwarded-Proto": "https"})
        assert ok.status_code == 200 and "Secure" in ok.headers["Set-Cookie"]


async def test_wrong_logins_are_throttled_for_everyone(start_daemon):
    d = await start_daemon(DASHBOARD_TOKEN=TOKEN)
    answers: list[int] = []
    async with httpx.AsyncClient(base_url=d.dashboard_url, timeout=30) as client:
        async def guess(i: int) -> None:
            answer = await client.post("/api/login", json={"token": f"guess-{i}"})
            answers.append(answer.status_code)
        async with trio.open_nursery() as nursery:
            for i in range(MAX_FAILURES):
                nursery.start_soon(guess, i)
        assert answers == [401] * MAX_FAILURES
        async with trio.open_nursery() as nursery:  # 50 parallel guesses: none is checked
            for i in range(50):
                nursery.start_soon(guess, i)
        assert answers[MAX_FAILURES:] == [429] * 50
        locked = await client.post("/api/login", json={"token": TOKEN})
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1


async def test_without_a_token_login_is_not_needed(start_daemon):
    d = await start_daemon()
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        page = await client.get("/login")
        assert page.status_code == 303 and page.headers["Location"] == "/"
        assert (await client.post("/api/login", json={"token": "x"})).status_code == 409


async def test_ingest_routes_skip_the_dashboard_token_but_not_the_rest(start_daemon):
    d = await start_daemon(DASHBOARD_TOKEN=TOKEN)
    app = create_app(d.web_parts())
    app.config["TH_INGEST_PATHS"].add("/api/test-ingest")

    @app.post("/api/test-ingest")
    async def ingest():
        return jsonify({"accepted": 1})

    client = app.test_client()
    assert (await client.post("/api/test-ingest", json={})).status_code == 200
    foreign = await client.post("/api/test-ingest", json={},
                                headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    text = await client.post("/api/test-ingest", data=b"{}", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    rebinding = await client.post("/api/test-ingest", json={}, headers={"Host": "evil.example"})
    assert rebinding.status_code == 403
    assert (await client.post("/api/demo/spike", json={})).status_code == 401


# --------------------------------------------------------------------------- binding
class _Settings:
    def __init__(self, host: str, token: str = "") -> None:
        self.APP_HOST, self.DASHBOARD_TOKEN = host, token


def test_non_loopback_bind_needs_a_token():
    for host in ("127.0.0.1", "::1", "localhost"):
        check_bind(_Settings(host))
    check_bind(_Settings("0.0.0.0", TOKEN))
    with pytest.raises(ConfigError) as info:
        check_bind(_Settings("0.0.0.0"))
    assert "APP_HOST" in str(info.value) and "DASHBOARD_TOKEN" in str(info.value)


def test_the_cli_refuses_a_public_bind_without_token(tmp_path: Path):
    exe = Path(sys.executable).with_name("trade-hunter")
    env = {**os.environ, "TRADE_HUNTER_HOME": str(tmp_path), "APP_HOST": "0.0.0.0",
           "APP_PORT": "0", "THIRD_PARTY_PLUGINS": "false", "DASHBOARD_TOKEN": ""}
    done = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "APP_HOST" in lines[0] and "DASHBOARD_TOKEN" in lines[0]
    assert "Traceback" not in done.stderr


def _lan_ip() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent: picks the outgoing address
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


async def test_public_bind_with_token_serves_its_own_address(start_daemon):
    d = await start_daemon(APP_HOST="0.0.0.0", DASHBOARD_TOKEN=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    port = port_of(d)
    async with httpx.AsyncClient() as client:
        local = await client.get(f"http://127.0.0.1:{port}/api/health", headers=auth)
        assert local.status_code == 200
        assert (await client.get(f"http://127.0.0.1:{port}/api/health")).status_code == 401
        ip = _lan_ip()
        if ip is not None:  # the address the client used, as an IP literal: not a rebinding
            lan = await client.get(f"http://{ip}:{port}/api/health", headers=auth)
            assert lan.status_code == 200
            named = await client.get(f"http://{ip}:{port}/api/health",
                                     headers={**auth, "Host": f"rebind.example:{port}"})
            assert named.status_code == 403


async def test_responses_never_echo_secrets(start_daemon):
    hook = "https://discord.test/api/webhooks/123/hook-secret-token-value"
    routes = ("crypto=https://discord.test/api/webhooks/9/routed-secret-value;"
              "sports=https://discord.test/api/webhooks/8/other-secret-value")
    # The Discord plugin loaded: it declares these secrets (nothing is sent: no alert)
    d = await start_daemon(DASHBOARD_TOKEN=TOKEN, DISCORD_WEBHOOK_URL=hook,
                           DISCORD_WEBHOOK_ROUTES=routes)
    # A component quoting the URLs in its error, as an HTTP client's exception would.
    health = d.health.get("leaky", "notifier")
    health.last_error = f"404 Not Found for url {hook!r}; also {routes.split('=', 1)[1]}"
    health.set("failed", f"cannot post to {hook}")
    async with httpx.AsyncClient(base_url=d.dashboard_url,
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for path in ("/api/health", "/api/state"):
            text = (await client.get(path)).text
            assert "[redacted]" in text
            for secret in (hook, "hook-secret-token-value", "routed-secret-value", TOKEN):
                assert secret not in text
            assert "404 Not Found for url" in text  # the rest of the message stays useful
