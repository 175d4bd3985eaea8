"""An acknowledgement means stored: a real daemon killed with -9 right after a 200 from the
ingest routes still has every acknowledged event after a restart (several rounds)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(home: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "TRADE_HUNTER_HOME": str(home), "APP_PORT": str(port),
           "ENABLE_SIMULATION": "false", "THIRD_PARTY_PLUGINS": "false",
           "DISABLED_PLUGINS": "kalshi", "QUIET_MODE": "true"}
    return subprocess.Popen([sys.executable, "-m", "trade_hunter.daemon.cli"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(client: httpx.Client, proc: subprocess.Popen) -> None:
    end = time.monotonic() + 60
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            if client.get("/api/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the daemon did not start")


def events(round_: int, request: int, n: int = 40) -> list[dict]:
    return [{"source": "acktest", "platform": "test", "market_id": f"M-{i % 7}",
             "title": "Will it hold?", "yes_price": 0.5, "volume": 1.0,
             "id": f"r{round_}-q{request}-e{i}"} for i in range(n)]


def stored_ids(db: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute(
            "SELECT ext_id FROM events WHERE source='acktest'")}
    finally:
        conn.close()


def test_kill_9_right_after_a_200_loses_no_acknowledged_event(tmp_path):
    home = tmp_path / "home"
    acknowledged: set[str] = set()
    for round_, last in enumerate((3, 7, 12)):
        port = free_port()
        proc = start(home, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                wait_ready(client, proc)
                for request in range(last + 1):
                    batch = events(round_, request)
                    response = client.post("/api/events", json=batch)
                    assert response.status_code == 200, response.text
                    acknowledged |= {e["id"] for e in batch}
                # the kill comes right after the last 200, before anything else happens
                proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(10)
        missing = acknowledged - stored_ids(home / "trade-hunter.db")
        assert not missing, f"round {round_}: {len(missing)} acknowledged events lost"
    assert len(acknowledged) == 40 * (4 + 8 + 13)
