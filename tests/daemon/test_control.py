"""The JSON-RPC control server of a real in-process daemon: transports, permissions, and every
kind of bad request (none may crash or stall the daemon)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trade_hunter.ctl import client as ctl
from trade_hunter.daemon import control, protocol

ERR = protocol.ERRORS


@pytest.fixture
def short_home() -> Iterator[Path]:
    """A home short enough for the socket to live inside it (tmp_path can be too deep)."""
    path = Path(tempfile.mkdtemp(prefix="th-", dir="/tmp"))
    yield path / "home"
    shutil.rmtree(path, ignore_errors=True)


def endpoint(d: Any) -> dict[str, Any]:
    return json.loads(ctl.endpoint_path(d.settings.home).read_text())


async def connect(d: Any) -> trio.SocketStream:
    ep = endpoint(d)
    if ep["transport"] == "unix":
        return await trio.open_unix_socket(ep["path"])
    return await trio.open_tcp_stream(ep["host"], ep["port"])


class Conn:
    """A raw client connection that reads newline-delimited answers."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream, self.buffer = stream, b""

    async def send(self, data: bytes | dict[str, Any] | list[Any]) -> None:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode() + b"\n"
        await self.stream.send_all(raw)

    async def reply(self) -> Any:
        with trio.fail_after(10):
            while b"\n" not in self.buffer:
                chunk = await self.stream.receive_some(65536)
                if not chunk:
                    raise EOFError(self.buffer)
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    async def closed(self) -> bool:
        with trio.fail_after(10):
            while chunk := await self.stream.receive_some(65536):
                self.buffer += chunk
        return True


def req(method: str, params: Any = None, id: Any = 1, **extra: Any) -> dict[str, Any]:
    out = {"jsonrpc": "2.0", "id": id, "method": method, **extra}
    if params is not None:
        out["params"] = params
    return out


def assert_error(reply: dict[str, Any], name: str, id: Any = None) -> str:
    assert reply["jsonrpc"] == "2.0" and reply["id"] == id and "result" not in reply
    assert reply["error"]["code"] == ERR[name] and reply["error"]["data"]["name"] == name
    return reply["error"]["message"]


async def test_unix_socket_permissions_under_a_permissive_umask(start_daemon, short_home):
    old = os.umask(0)  # the server must not depend on the user's umask
    try:
        d = await start_daemon(short_home)
    finally:
        os.umask(old)
    ep = endpoint(d)
    sock = Path(ep["path"])
    assert ep["transport"] == "unix" and sock == short_home / "control" / "control.sock"
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE((short_home / "control").stat().st_mode) == 0o700
    assert stat.S_IMODE(ctl.endpoint_path(short_home).stat().st_mode) == 0o600
    assert "token" not in ep and ep["pid"] == os.getpid()
    status = await trio.to_thread.run_sync(lambda: ctl.Client(short_home).call("status"))
    assert status["pid"] == d.pid and status["home"] == str(short_home)


async def test_stale_socket_and_loose_folder_are_fixed_at_start(start_daemon, short_home):
    folder = short_home / "control"
    folder.mkdir(parents=True, mode=0o755)
    (folder / "control.sock").write_text("left over by a killed daemon")
    d = await start_daemon(short_home)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    conn = Conn(await connect(d))
    await conn.send(req("status"))
    assert (await conn.reply())["result"]["pid"] == d.pid


async def test_a_long_home_gets_a_short_private_socket_path(start_daemon, tmp_path):
    home = tmp_path / ("deep-" * 20) / "home"
    d = await start_daemon(home)
    sock = Path(endpoint(d)["path"])
    assert len(os.fsencode(sock)) <= control.SUN_PATH_MAX and home not in sock.parents
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    assert sock.parent.stat().st_uid == os.geteuid()
    status = await trio.to_thread.run_sync(lambda: ctl.Client(home).call("status"))
    assert status["pid"] == d.pid


async def test_malformed_requests_get_json_rpc_errors(start_daemon):
    d = await start_daemon()
    conn = Conn(await connect(d))
    await conn.send(b"this is not json\n")
    assert "not JSON" in assert_error(await conn.reply(), "parse_error")
    await conn.send(b"\xff\xfe{]\n")
    assert_error(await conn.reply(), "parse_error")
    await conn.send(b"[" * 60000 + b"\n")
    assert "too deeply" in assert_error(await conn.reply(), "parse_error")
    await conn.send({"jsonrpc": "2.0", "id": 5})
    assert_error(await conn.reply(), "invalid_request", 5)
    await conn.send(req("status", jsonrpc="1.0", id=6))
    assert_error(await conn.reply(), "invalid_request", 6)
    await conn.send(req("status", id={"an": "object"}))
    assert_error(await conn.reply(), "invalid_request")
    await conn.send(b"42\n")
    assert_error(await conn.reply(), "invalid_request")
    await conn.send(req("no.such", id=7))
    assert "no.such" in assert_error(await conn.reply(), "method_not_found", 7)
    await conn.send(req("signals.list", {"limit": "lots"}, id=8))
    assert "integer" in assert_error(await conn.reply(), "invalid_params", 8)
    await conn.send(req("signals.list", {"bogus": 1}, id=9))
    assert "bogus" in assert_error(await conn.reply(), "invalid_params", 9)
    await conn.send(req("signals.list", [20], id=10))
    assert "named" in assert_error(await conn.reply(), "invalid_params", 10)
    await conn.send(req("tickers.remove", {"ticker": "NOT-TRACKED"}, id="s"))
    assert "not tracked" in assert_error(await conn.reply(), "invalid_params", "s")
    # The same connection still works, and so does the daemon.
    await conn.send(b"\n")  # blank lines are ignored
    await conn.send(req("status", id=11))
    reply = await conn.reply()
    assert reply["id"] == 11 and reply["result"]["pid"] == d.pid


async def test_batches_and_notifications(start_daemon):
    d = await start_daemon()
    conn = Conn(await connect(d))
    await conn.send({"jsonrpc": "2.0", "method": "status"})  # a notification: no answer
    await conn.send([req("status", id=1), {"jsonrpc": "2.0", "method": "status"},
                     req("nope.nope", id=2)])
    batch = await conn.reply()
    assert [r["id"] for r in batch] == [1, 2]
    assert batch[0]["result"]["pid"] == d.pid
    assert_error(batch[1], "method_not_found", 2)
    await conn.send([])
    assert_error(await conn.reply(), "invalid_request")


async def test_an_oversized_line_is_refused_without_stalling_others(start_daemon):
    d = await start_daemon()
    big = Conn(await connect(d))
    await big.send(b"x" * (protocol.MAX_LINE + 10))  # no newline yet
    assert "longer than" in assert_error(await big.reply(), "line_too_long")
    assert await big.closed()
    # A line at the cap is still a line.
    conn = Conn(await connect(d))
    pad = protocol.MAX_LINE - len(json.dumps(req("status")))
    await conn.send(json.dumps(req("status")).encode() + b" " * pad + b"\n")
    assert (await conn.reply())["result"]["pid"] == d.pid


async def test_a_slow_client_does_not_block_another(start_daemon):
    d = await start_daemon()
    slow = Conn(await connect(d))
    await slow.send(b'{"jsonrpc": "2.0", "id": 1, "meth')  # and then nothing
    fast = Conn(await connect(d))
    await fast.send(req("status"))
    with trio.fail_after(2):
        assert (await fast.reply())["result"]["pid"] == d.pid
    await slow.send(b'od": "status"}\n')  # ... and it can still finish its request
    assert (await slow.reply())["result"]["pid"] == d.pid


async def test_tcp_transport_requires_the_token(start_daemon, tmp_path):
    d = await start_daemon(CONTROL_TRANSPORT="tcp")
    ep = endpoint(d)
    home = d.settings.home
    assert ep["transport"] == "tcp" and ep["host"] == "127.0.0.1" and ep["port"] > 0
    assert len(ep["token"]) >= 40 and stat.S_IMODE(ctl.endpoint_path(home).stat().st_mode) \
        == 0o600
    assert not (home / "control" / "control.sock").exists()
    status = await trio.to_thread.run_sync(lambda: ctl.Client(home).call("status"))
    assert status["pid"] == d.pid
    assert "token" not in json.dumps(status)

    for auth in ({}, {"auth": "wrong"}, {"auth": 1}):
        conn = Conn(await connect(d))
        await conn.send(req("status", **auth))
        assert_error(await conn.reply(), "unauthorized", 1)
        assert await conn.closed()
    conn = Conn(await connect(d))
    await conn.send(req("status", auth=ep["token"]))
    assert (await conn.reply())["result"]["pid"] == d.pid


async def test_mutations_are_refused_while_stopping(start_daemon):
    d = await start_daemon()
    conn = Conn(await connect(d))
    d.stop_reason = "pretend"  # as between the stop request and the servers closing
    await conn.send(req("tickers.add", {"ticker": "KXBTC15M"}))
    assert "stopping" in assert_error(await conn.reply(), "shutting_down", 1)
    await conn.send(req("status", id=2))
    assert (await conn.reply())["result"]["pid"] == d.pid
    d.stop_reason = ""


async def test_scoped_shutdown_and_cleanup(start_daemon):
    d = await start_daemon()
    sock, ep_file = Path(endpoint(d)["path"]), ctl.endpoint_path(d.settings.home)
    conn = Conn(await connect(d))
    await conn.send(req("shutdown", {"pid": d.pid + 1}))
    assert "not" in assert_error(await conn.reply(), "invalid_params", 1)
    assert not d.stop_reason
    await conn.send(req("shutdown", {"pid": d.pid}, id=2))
    assert (await conn.reply())["result"] == {"stopping": True, "pid": d.pid}
    with trio.fail_after(15):
        while sock.exists() or ep_file.exists():
            await trio.sleep(0.05)
    assert d.stop_reason == "control request"


# ---------------------------------------------------------------------- timeouts
async def _echo(name: str, params: dict[str, Any]) -> Any:
    return {"echo": name}


async def test_a_silent_or_stuck_client_is_dropped_after_the_read_timeout(autojump_clock):
    server = control.ControlServer(_echo, lambda: "")
    client, stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.handle, stream)
        await client.send_all(json.dumps(req("x.y")).encode() + b"\n")
        assert json.loads(await client.receive_some())["result"] == {"echo": "x.y"}
        await client.send_all(b'{"half a line')
        started = trio.current_time()
        assert await client.receive_some() == b""  # closed by the server
        assert trio.current_time() - started == pytest.approx(control.READ_TIMEOUT)
    assert server.connections == 0
