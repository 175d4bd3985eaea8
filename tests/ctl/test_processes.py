"""One instance per home, with real processes: replacement, --no-replace, kill -9, a foreign
program on the port, two homes side by side, and the launcher's path."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from trade_hunter.daemon.instance import REPLACE_DEADLINE

pytestmark = pytest.mark.slow


def db_rows(home: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{home / 'trade-hunter.db'}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def test_second_start_replaces_the_first_and_keeps_the_data(procs):
    a = procs.start()
    assert procs.ctl(a.home, "add-ticker", "KXBTC15M").returncode == 0
    spike = procs.ctl(a.home, "demo-spike", "--json")
    assert spike.returncode == 0, spike.stderr
    signal_id = json.loads(spike.stdout)["signals"][0]

    b = procs.start(a.home, a.port)  # same home, same port: replaces a
    assert a.proc.wait(30) == 0, a.stderr()
    assert f"replacing the instance running on {a.home} (pid {a.proc.pid}" in b.stderr()
    status = json.loads(procs.ctl(b.home, "status", "--json").stdout)
    assert status["pid"] == b.proc.pid != a.proc.pid
    assert status["dashboard"] == f"http://127.0.0.1:{a.port}"
    assert httpx.get(f"{b.url}/api/health", timeout=10).status_code == 200

    tickers = json.loads(procs.ctl(b.home, "tickers", "--json").stdout)
    assert [t["ticker"] for t in tickers["tickers"]] == ["KXBTC15M"]
    assert db_rows(b.home, f"SELECT market_id FROM signals WHERE id={int(signal_id)}")

    # --no-replace: exits 3 naming the running instance, which keeps running.
    c = procs.start(b.home, b.port, "--no-replace", wait=False)
    assert c.proc.wait(30) == 3
    assert f"pid {b.proc.pid}" in c.stderr() and b.url in c.stderr()
    assert "--no-replace" in c.stderr()
    assert b.proc.poll() is None and b.status()["pid"] == b.proc.pid


def test_a_stale_lock_after_kill_9_never_blocks(procs):
    a = procs.start()
    a.proc.kill()  # SIGKILL: no clean-up at all
    a.proc.wait(10)
    endpoint = json.loads((a.home / "control" / "endpoint.json").read_text())
    assert endpoint["pid"] == a.proc.pid and Path(endpoint["path"]).exists()  # left behind

    gone = procs.ctl(a.home, "status")
    assert gone.returncode == 3
    assert "not running" in gone.stderr and "./trade-hunter" in gone.stderr

    began = time.monotonic()
    b = procs.start(a.home, a.port)
    assert time.monotonic() - began < REPLACE_DEADLINE / 2  # no waiting on a dead lock
    assert "replacing" not in b.stderr()
    assert procs.ctl(b.home, "status").returncode == 0


def test_a_foreign_program_on_the_port_is_a_clear_error(procs):
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = foreign.getsockname()[1]
        d = procs.start(port=port, wait=False)
        assert d.proc.wait(30) == 4
        lines = d.stderr().strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in d.stderr()
        assert f"port {port} on 127.0.0.1 is already in use by another program" in lines[0]
        # The foreign program is untouched and still serving.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            conn, _ = foreign.accept()
            conn.close()
    assert not (d.home / "control" / "endpoint.json").exists()


def test_two_homes_run_side_by_side_and_stop_cleanly(procs):
    a = procs.start()
    b = procs.start()
    assert a.home != b.home and a.port != b.port
    sa, sb = a.status(), b.status()
    assert (sa["pid"], sb["pid"]) == (a.proc.pid, b.proc.pid)
    assert a.proc.poll() is None

    for d in (a, b):
        sock = Path(json.loads((d.home / "control" / "endpoint.json").read_text())["path"])
        stop = procs.ctl(d.home, "stop")
        assert stop.returncode == 0, stop.stderr
        assert f"pid {d.proc.pid}" in stop.stdout and "stopped" in stop.stdout
        assert d.proc.wait(30) == 0
        assert not sock.exists() and not (d.home / "control" / "endpoint.json").exists()
        assert procs.ctl(d.home, "status").returncode == 3


def test_the_launcher_replaces_a_running_instance(procs, tmp_path):
    launcher = procs.launcher_checkout(tmp_path / "checkout")
    home, port = tmp_path / "launcher-home", procs.free_port()
    a = procs.start(home, port, command=[str(launcher)])
    b = procs.start(home, port, command=[str(launcher)])
    assert a.proc.wait(30) == 0
    assert b.status()["pid"] == b.proc.pid
    assert "replacing the instance" in b.stderr()
    assert "installing" not in b.stderr()  # the launcher found its venv up to date
