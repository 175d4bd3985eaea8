"""th-ctl's standard-library pieces: the default home (must match the daemon's platformdirs
path), key=value parsing, rendering, and answers from peers that are not a daemon."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import platformdirs
import pytest
from platformdirs.macos import MacOS

from trade_hunter.ctl import cli, render
from trade_hunter.ctl import client as ctl


@pytest.mark.parametrize("env", [
    {},
    {"XDG_DATA_HOME": "/srv/data"},
    {"XDG_DATA_HOME": "relative/data"},  # not absolute: ignored, as platformdirs does
    {"HOME": "/home/someone/"},
    {"HOME": "/"},
])
def test_default_home_matches_platformdirs(env):
    """The daemon's default (platformdirs) and th-ctl's stdlib copy, in a fresh process."""
    full = {k: v for k, v in os.environ.items() if k not in ("XDG_DATA_HOME",)} | env
    code = ("import platformdirs\n"
            "from trade_hunter.ctl.client import default_home\n"
            "print(platformdirs.user_data_dir('trade-hunter', False))\n"
            "print(default_home())\n")
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                         text=True, check=True, timeout=60).stdout.splitlines()
    assert out[0] == out[1]
    assert out[0].endswith("trade-hunter")


def test_default_home_on_macos_and_windows():
    env = {"HOME": "/Users/ann"}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("XDG_DATA_HOME", raising=False)
        mp.setenv("HOME", "/Users/ann")
        expected = MacOS("trade-hunter", False).user_data_dir
    assert str(ctl.default_home(env, "darwin")) == expected \
        == "/Users/ann/Library/Application Support/trade-hunter"
    assert str(ctl.default_home(env | {"XDG_DATA_HOME": "/x"}, "darwin")) == "/x/trade-hunter"
    win = {"LOCALAPPDATA": r"C:\Users\ann\AppData\Local", "APPDATA": r"C:\other"}
    assert str(ctl.default_home(win, "win32")) == r"C:\Users\ann\AppData\Local\trade-hunter"
    override = win | {"WIN_PD_OVERRIDE_LOCAL_APPDATA": r"D:\data"}
    assert str(ctl.default_home(override, "win32")) == r"D:\data\trade-hunter"
    assert platformdirs.user_data_dir("trade-hunter", False) == str(ctl.default_home())


def test_resolve_home_prefers_explicit_then_environment(tmp_path):
    assert ctl.resolve_home(tmp_path, {}) == tmp_path
    assert ctl.resolve_home(None, {"TRADE_HUNTER_HOME": str(tmp_path)}) == tmp_path
    assert ctl.resolve_home(None, {"TRADE_HUNTER_HOME": "", "HOME": "/h"}) == \
        ctl.default_home({"HOME": "/h"}) == Path("/h/.local/share/trade-hunter")


def test_parse_pairs():
    assert cli.parse_pairs(["q=Crypto", "a=b=c", "n:=3", "flag:=true", "x="]) == \
        {"q": "Crypto", "a": "b=c", "n": 3, "flag": True, "x": ""}
    assert cli.parse_pairs(["url=http://h/?a:=1"]) == {"url": "http://h/?a:=1"}
    for bad in (["novalue"], ["=x"], ["n:=nope"]):
        with pytest.raises(cli.UsageError):
            cli.parse_pairs(bad)


def test_generic_render_makes_tables_of_lists():
    text = render.render("plugin.thing", {"count": 2, "items": [{"a": 1, "b": "x"},
                                                                {"a": 2, "c": None}]})
    lines = text.splitlines()
    assert lines[0] == "count: 2" and lines[1] == "items:"
    assert lines[2].split() == ["A", "B", "C"] and lines[3].split() == ["1", "x", "-"]
    assert render.render("status", {"unexpected": "shape"}).startswith("Trade Hunter ?")
    assert render.render("x.y", [1, 2]) == "1\n2"
    assert render.duration(3725) == "1h 02m" and render.duration(59) == "59s"


def test_no_endpoint_or_a_stale_one_means_not_running(tmp_path, capsys):
    assert cli.main(["--home", str(tmp_path), "status"]) == 3
    assert "not running" in capsys.readouterr().err
    control = tmp_path / "control"
    control.mkdir()
    (control / "endpoint.json").write_text(json.dumps(
        {"transport": "unix", "path": str(control / "gone.sock"), "pid": 999999}))
    with pytest.raises(ctl.NotRunning, match="stale control endpoint of pid 999999"):
        ctl.Client(tmp_path).call("status")
    (control / "endpoint.json").write_text("{not json")
    assert cli.main(["--home", str(tmp_path), "plugins"]) == 3


def _serve_once(answer: bytes) -> tuple[socket.socket, threading.Thread]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def run() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            if answer:
                conn.sendall(answer)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return server, thread


@pytest.mark.parametrize("answer, message", [
    (b"", "closed the connection without answering"),
    (b"hello\n", "not JSON"),
    (b'{"result": 1}\n', "not a JSON-RPC 2.0 response"),
    (b'{"jsonrpc": "2.0", "id": 12345678, "result": 1}\n', "does not match the request id"),
])
def test_a_peer_that_is_not_a_daemon_is_a_protocol_error(tmp_path, capsys, answer, message):
    server, thread = _serve_once(answer)
    control = tmp_path / "control"
    control.mkdir()
    (control / "endpoint.json").write_text(json.dumps(
        {"transport": "tcp", "host": "127.0.0.1", "port": server.getsockname()[1],
         "token": "t", "pid": 1}))
    try:
        assert cli.main(["--home", str(tmp_path), "--timeout", "5", "status"]) == 1
    finally:
        thread.join(5)
        server.close()
    assert message in capsys.readouterr().err
