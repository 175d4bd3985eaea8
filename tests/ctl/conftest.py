"""Real daemon processes for the control-plane tests: ``.venv/bin/trade-hunter`` with its own
home and a free port, driven by the real ``th-ctl`` console script."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from trade_hunter.ctl import client as ctl

BIN = Path(sys.executable).parent
TRADE_HUNTER = str(BIN / "trade-hunter")
TH_CTL = str(BIN / "th-ctl")
REPO = Path(__file__).resolve().parents[2]
READY_DEADLINE = 30.0  # two shared cores: a cold start of the web stack can be slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def daemon_env(home: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TRADE_HUNTER_", "APP_", "ENABLE_", "KALSHI_"))}
    env.update(TRADE_HUNTER_HOME=str(home), APP_PORT=str(port), ENABLE_SIMULATION="true",
               ENABLE_KALSHI="false", THIRD_PARTY_PLUGINS="false", QUIET_MODE="true",
               SIMULATION_SEED="7", **extra)
    return env


@dataclass
class DaemonProc:
    home: Path
    port: int
    proc: subprocess.Popen[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status(self) -> dict[str, Any]:
        return ctl.Client(self.home, timeout=5).call("status")

    def wait_ready(self, deadline: float = READY_DEADLINE) -> dict[str, Any]:
        """Wait until *this* process answers ``status`` on its home."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.stderr()}")
            try:
                status = self.status()
                if status["pid"] == self.proc.pid:
                    return status
            except (ctl.NotRunning, ctl.ProtocolError, ctl.CallError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"daemon not ready after {deadline}s: {self.stderr()}")

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


class Procs:
    """Starts real daemon processes (``start``), runs the real ``th-ctl`` (``ctl``)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[DaemonProc] = []

    free_port = staticmethod(free_port)

    def start(self, home: Path | None = None, port: int | None = None, *args: str,
              wait: bool = True, command: list[str] | None = None, **env: str) -> DaemonProc:
        home = home or self.tmp_path / f"home{len(self.started)}"
        port = port or free_port()
        full_env = daemon_env(home, port, **env)
        log = self.tmp_path / f"daemon{len(self.started)}.log"
        with log.open("w") as err:  # a file, not a pipe: a full pipe would block the daemon
            proc = subprocess.Popen([*(command or [TRADE_HUNTER]), *args], env=full_env,
                                    cwd=self.tmp_path, stdout=err, stderr=subprocess.STDOUT,
                                    text=True)
        d = DaemonProc(home, port, proc, log, full_env)
        self.started.append(d)
        if wait:
            d.wait_ready()
        return d

    def ctl(self, home: Path, *args: str, timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
        """Run ``th-ctl ARGS`` with ``TRADE_HUNTER_HOME=home``."""
        env = {k: v for k, v in os.environ.items() if k != "TRADE_HUNTER_HOME"}
        env["TRADE_HUNTER_HOME"] = str(home)
        return subprocess.run([TH_CTL, *args], check=False, env=env, capture_output=True,
                              text=True, timeout=timeout, cwd=self.tmp_path)

    def launcher_checkout(self, target: Path) -> Path:
        """A checkout in ``target`` whose ``.venv`` points at the test venv, with an
        up-to-date stamp: the real launcher runs its real checks and execs the console
        script, without reinstalling anything. Returns the launcher's path."""
        target.mkdir(parents=True)
        for name in ("trade-hunter", "pyproject.toml"):
            shutil.copy2(REPO / name, target / name)
        bin_dir = target / ".venv" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "python").symlink_to(sys.executable)
        (bin_dir / "trade-hunter").symlink_to(TRADE_HUNTER)
        want = subprocess.run(["cksum", "pyproject.toml"], cwd=target, capture_output=True,
                              text=True, check=True).stdout.split()[0]
        (target / ".venv" / ".th-stamp").write_text(f"{want} \n")
        return target / "trade-hunter"

    def stop_all(self) -> None:
        for d in self.started:
            d.stop()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    helper = Procs(tmp_path)
    yield helper
    helper.stop_all()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[Procs, DaemonProc]]:
    """One real daemon for a whole test module (commands that do not stop it)."""
    helper = Procs(tmp_path_factory.mktemp("ctl"))
    d = helper.start()
    yield helper, d
    helper.stop_all()
