"""SIGTERM/SIGINT: feeds stop first, the pipeline drains, everything processed is committed."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_graceful_shutdown_commits_everything(tmp_path, signum):
    env = {**os.environ, "TRADE_HUNTER_HOME": str(tmp_path), "APP_PORT": "0",
           "SIMULATION_SEED": "9", "THIRD_PARTY_PLUGINS": "false", "QUIET_MODE": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "trade_hunter.daemon.cli"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        db = tmp_path / "trade-hunter.db"
        while time.monotonic() < deadline:
            if db.exists():
                with sqlite3.connect(db) as conn:
                    try:
                        if conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] > 20:
                            break
                    except sqlite3.OperationalError:
                        pass
            time.sleep(0.1)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    order = [line for line in stderr.splitlines() if "stopping:" in line or "stopped:" in line]
    assert signal.Signals(signum).name in order[0] and "stopped:" in order[1]
    processed = int(re.search(r"stopped: (\d+) events", stderr).group(1))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == processed
    assert "Traceback" not in stderr
