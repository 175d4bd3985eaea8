"""Bounded connections (web/http_server.py): idle keep-alive connections close, ``Connection:
close`` and HTTP/1.0 are honoured, a connection stays usable after an early refusal (413) and
after a 422, and connections beyond ``HTTP_MAX_CONNECTIONS`` get a clear 503. Sockets are
counted on the server's side (/proc/net/tcp)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
import trio

from trade_hunter.web import http_server

ESTABLISHED = "01"


def server_sockets(port: int) -> int:
    """Established TCP connections whose local port is the dashboard's (its side)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == ESTABLISHED:
                count += 1
    return count


def port_of(d) -> int:
    return int(d.dashboard_url.rstrip("/").rsplit(":", 1)[1])


def exchange(port: int, request: bytes) -> tuple[bytes, bool]:
    """Send ``request`` on a new connection; read until the server closes it (True) or a
    bound for a hung test passes (False)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(30)
        sock.sendall(request)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            return data, False
        return data, True


@pytest.mark.parametrize("request_bytes", [
    b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"GET /api/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
], ids=["connection-close", "http-1.0"])
async def test_the_server_closes_when_asked(start_daemon, request_bytes):
    d = await start_daemon(DISABLED_PLUGINS="kalshi")
    data, closed = await trio.to_thread.run_sync(exchange, port_of(d), request_bytes)
    assert data.startswith(b"HTTP/1.1 200") and closed


async def test_an_idle_keep_alive_connection_is_closed(start_daemon, monkeypatch):
    monkeypatch.setattr(http_server, "KEEP_ALIVE_SECONDS", 0.5)
    d = await start_daemon(DISABLED_PLUGINS="kalshi")
    data, closed = await trio.to_thread.run_sync(
        exchange, port_of(d), b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200") and closed  # kept alive, then closed when idle
    assert server_sockets(port_of(d)) == 0


async def test_one_pooled_connection_survives_a_413_and_a_422(start_daemon):
    d = await start_daemon(DISABLED_PLUGINS="kalshi", HTTP_MAX_BODY_BYTES="4096")
    port = port_of(d)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=d.dashboard_url, limits=limits, timeout=30) as c:
        assert (await c.get("/api/health")).status_code == 200
        big = await c.post("/api/events", content=b"[" + b" " * 100_000 + b"]",
                           headers={"Content-Type": "application/json"})
        assert big.status_code == 413
        assert (await c.get("/api/health")).status_code == 200
        bad = await c.post("/api/events", json={"title": 1})
        assert bad.status_code == 422
        assert (await c.get("/api/health")).status_code == 200
        huge = await c.post("/api/demo/spike", content=b"{" + b" " * 100_000 + b"}",
                            headers={"Content-Type": "application/json"})
        assert huge.status_code == 413
        assert (await c.get("/api/health")).status_code == 200
        assert server_sockets(port) == 1  # the refused bodies were drained: one connection


async def test_connections_beyond_the_cap_get_a_clear_503(start_daemon, monkeypatch):
    monkeypatch.setattr(http_server, "KEEP_ALIVE_SECONDS", 600.0)  # the held ones stay open
    d = await start_daemon(DISABLED_PLUGINS="kalshi", HTTP_MAX_CONNECTIONS="3")
    port = port_of(d)
    held = []
    for _ in range(3):
        client = httpx.AsyncClient(base_url=d.dashboard_url, timeout=30)
        assert (await client.get("/api/health")).status_code == 200
        held.append(client)
    try:
        data, closed = await trio.to_thread.run_sync(
            exchange, port, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in data and closed
        assert b"HTTP_MAX_CONNECTIONS" in data
        await held.pop().aclose()  # a slot frees once the server has seen the close
        with trio.fail_after(30):
            while True:
                async with httpx.AsyncClient(base_url=d.dashboard_url, timeout=30) as again:
                    answer = await again.get("/api/health")
                if answer.status_code == 200:
                    break
                assert answer.status_code == 503
                await trio.sleep(0.02)
    finally:
        for client in held:
            await client.aclose()
