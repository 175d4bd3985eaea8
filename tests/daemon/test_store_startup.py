"""Start-up over a bad home or database: one line and exit code 2, never a traceback or a
"ready" daemon that cannot write. And a new home is private: 0700, its files 0600."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from trade_hunter.daemon.schema import MIGRATIONS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import base_env, make_daemon

ROOT = os.name == "posix" and os.geteuid() == 0


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """``path`` (a file or folder) made unwritable for the daemon: root ignores modes, so it
    gets the immutable attribute instead (what the hostile test did: ``chattr +i``)."""
    if ROOT:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        os.chmod(path, 0o500 if path.is_dir() else 0o400)
    try:
        yield
    finally:
        if ROOT:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            os.chmod(path, stat.S_IMODE(mode))


def run_cli(home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **base_env(home, DISABLED_PLUGINS="kalshi")}
    return subprocess.run([sys.executable, "-m", "trade_hunter.daemon.cli", "--no-replace"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def one_line(result: subprocess.CompletedProcess) -> str:
    """The error line: exit 2, exactly one ``trade-hunter:`` line, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = [x for x in result.stderr.splitlines() if x.startswith("trade-hunter:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_corrupt_database_is_one_line(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "trade-hunter.db").write_bytes(b"this is not SQLite at all\n" * 200)
    line = one_line(run_cli(home))
    assert "is not a Trade Hunter database or is damaged; move it aside or restore a " \
           "backup" in line


def test_a_database_from_a_newer_version_is_one_line(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    conn = sqlite3.connect(home / "trade-hunter.db")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    line = one_line(run_cli(home))
    assert "newer Trade Hunter" in line and f"schema {len(MIGRATIONS) + 5}" in line


def test_a_read_only_database_stops_start_up_instead_of_saying_ready(tmp_path):
    home = tmp_path / "home"
    d = make_daemon(home)
    d.store.open()
    d.store.close()
    with unwritable(home / "trade-hunter.db"):
        line = one_line(run_cli(home))
    assert "cannot write the database" in line and "trade-hunter.db" in line, line


def test_an_unusable_home_is_one_line(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    with unwritable(home):
        line = one_line(run_cli(home))
    assert str(home) in line and "TRADE_HUNTER_HOME" in line, line


def test_a_new_home_is_private_and_a_wide_one_is_repaired(tmp_path, caplog):
    home = tmp_path / "home"
    d = make_daemon(home)
    d.store.open()
    d.store.close()
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)
    assert mode(home) == 0o700
    assert mode(home / "trade-hunter.db") == 0o600
    os.chmod(home, 0o755)
    os.chmod(home / "trade-hunter.db", 0o644)
    d = make_daemon(home)
    d.store.open()
    try:
        assert mode(home) == 0o700 and mode(home / "trade-hunter.db") == 0o600
        for wal in (home / "trade-hunter.db-wal", home / "trade-hunter.db-shm"):
            if wal.exists():
                assert mode(wal) == 0o600, wal
    finally:
        d.store.close()
    assert "readable by other users" in caplog.text


def test_the_lock_file_is_private(tmp_path):
    from trade_hunter.daemon.instance import InstanceLock
    home = tmp_path / "home"
    home.mkdir()
    (home / "trade-hunter.lock").touch(mode=0o644)
    os.chmod(home / "trade-hunter.lock", 0o644)
    lock = InstanceLock(home)
    assert lock.try_acquire()
    lock.release()
    assert stat.S_IMODE((home / "trade-hunter.lock").stat().st_mode) == 0o600
