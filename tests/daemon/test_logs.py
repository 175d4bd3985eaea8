"""Logging: LOG_LEVEL/LOG_FORMAT/LOG_FILE through dictConfig, secrets redacted, the lines a
person reads (start-up, one per signal and per ticker change), QUIET_MODE.

Each test runs a real process: logging is process-wide and pytest's own must stay intact."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from trade_hunter.daemon.cli import build
from trade_hunter.daemon.logs import logging_config
from trade_hunter.plugins.models import TIERS

SECRET_KEY = "sk-ant-PLANTED-0123456789abcdef"
SECRET_HOOK = "PLANTEDwebhookTOKEN-987654321"
SECRET_ENV = {"ANTHROPIC_API_KEY": SECRET_KEY, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
              "DISCORD_WEBHOOK_ROUTES": f"crypto=http://127.0.0.1:9/api/webhooks/1/{SECRET_HOOK}"}

# Logs a secret every way a line can carry one, through our loggers and a library's.
EMITTER = """
import logging, sys
from trade_hunter.daemon.cli import build
from trade_hunter.daemon.config import read_sources
from trade_hunter.daemon.logs import configure_logging
settings, _, _ = build(read_sources())
configure_logging(settings)
key, hook = sys.argv[1], sys.argv[2]
log = logging.getLogger("trade_hunter.daemon.analyst_queue")
log.info("calling with key %s", key)
log.warning("webhook https://discord.test/api/webhooks/1/" + hook + " answered 404")
logging.getLogger("some.library").error("auth failed", extra={"header": "Bearer " + key})
try:
    raise RuntimeError("request to /hooks/" + hook + " failed")
except RuntimeError:
    log.exception("delivery crashed")
logging.getLogger("trade_hunter.daemon.app").debug("debug line %s", key)
"""


def env_for(tmp_path: Path, **env: str) -> dict[str, str]:
    return {**os.environ, "TRADE_HUNTER_HOME": str(tmp_path / "home"), "APP_PORT": "0",
            "ENABLE_SIMULATION": "false", "THIRD_PARTY_PLUGINS": "false",
            "DISABLED_PLUGINS": "kalshi", **SECRET_ENV, **env}


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line must be one JSON object."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_logs_redact_planted_secrets_everywhere(tmp_path):
    log_file = tmp_path / "logs" / "th.log"
    env = env_for(tmp_path, LOG_FORMAT="json", LOG_FILE=str(log_file), LOG_LEVEL="info")
    done = subprocess.run([sys.executable, "-c", EMITTER, SECRET_KEY, SECRET_HOOK], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for text in (done.stderr, log_file.read_text(encoding="utf-8")):
        assert SECRET_KEY not in text and SECRET_HOOK not in text
        records = json_lines(text)
        assert [r["level"] for r in records] == ["INFO", "WARNING", "ERROR", "ERROR"]
        assert all({"timestamp", "level", "logger", "message"} <= set(r) for r in records)
        assert records[0]["message"] == "calling with key [redacted]"
        assert "/api/webhooks/1/[redacted]" in records[1]["message"]
        assert records[2]["header"] == "Bearer [redacted]" and records[2]["logger"] == "some.library"
        assert "RuntimeError: request to /hooks/[redacted] failed" in records[3]["exc_info"]


def test_text_format_level_and_rotation_settings(tmp_path):
    s, _, _ = build({"TRADE_HUNTER_HOME": str(tmp_path), "LOG_LEVEL": "debug",
                     "LOG_FILE": str(tmp_path / "a.log"), "LOG_FILE_MAX_BYTES": "2048",
                     "LOG_FILE_BACKUPS": "2", "THIRD_PARTY_PLUGINS": "false"})
    config = logging_config(s)
    assert config["root"]["level"] == "DEBUG" and config["root"]["handlers"] == ["stderr", "file"]
    assert config["handlers"]["file"]["maxBytes"] == 2048
    assert config["handlers"]["file"]["backupCount"] == 2
    assert config["handlers"]["stderr"]["formatter"] == "text"
    quiet, _, _ = build({"TRADE_HUNTER_HOME": str(tmp_path), "QUIET_MODE": "true",
                         "THIRD_PARTY_PLUGINS": "false"})
    config = logging_config(quiet)
    assert config["root"]["level"] == "WARNING" and "file" not in config["handlers"]
    assert config["loggers"]["trade_hunter.startup"]["level"] == "INFO"


class Daemon:
    """``trade-hunter`` in a subprocess; its stderr read line by line on a thread."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "trade_hunter.daemon.cli"],
                                     env=env_for(tmp_path, **env), cwd=tmp_path,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)  # end of output

    def wait_for(self, text: str, deadline: float = 30) -> str:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no log line with {text!r}; got:\n{''.join(self.seen)}")

    def stop(self) -> str:
        """SIGTERM, then everything it wrote until it exited."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0
        while (line := self.lines.get(timeout=30)) is not None:
            self.seen.append(line)
        return "".join(self.seen)


def post(url: str, body: Any) -> Any:
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.mark.slow
def test_a_daemon_logs_one_json_line_per_signal_and_ticker_change(tmp_path):
    # The Kalshi plugin loaded (its feed is off outside live mode) so its tickers can be added.
    d = Daemon(tmp_path, LOG_FORMAT="json", DISABLED_PLUGINS="")
    try:
        ready = json.loads(d.wait_for("ready at"))
        url = ready["message"].split(" ready at ")[1].split(" ")[0].rstrip("/")
        assert ready["logger"] == "trade_hunter.startup"
        post(f"{url}/api/kalshi/markets", {"ticker": "KXBTC15M"})
        d.wait_for("KXBTC15M")
        demo = post(f"{url}/api/demo/spike", {})
        signal_line = json.loads(d.wait_for(f"signal #{demo['signals'][0]} "))
    finally:
        text = d.stop() if d.proc.poll() is None else "".join(d.seen)
        d.proc.kill()
    assert signal_line["level"] == "INFO" and signal_line["logger"] == "trade_hunter.signals"
    assert signal_line["market"] == demo["market_id"] and signal_line["source"] == "demo"
    assert signal_line["tier"] in TIERS and signal_line["score"] > 0
    records = json_lines(text)  # every line of the run is JSON
    tickers = [r for r in records if r.get("ticker") == "KXBTC15M"]
    assert [r["change"] for r in tickers] == ["added"]
    assert SECRET_KEY not in text and SECRET_HOOK not in text


@pytest.mark.slow
def test_quiet_mode_keeps_only_the_start_up_line(tmp_path):
    d = Daemon(tmp_path, QUIET_MODE="true")
    try:
        line = d.wait_for("ready at")
        url = line.split(" ready at ")[1].split(" ")[0].rstrip("/")
        post(f"{url}/api/demo/spike", {})
    finally:
        text = d.stop() if d.proc.poll() is None else "".join(d.seen)
        d.proc.kill()
    assert "http://127.0.0.1:" in line and " INFO trade_hunter.startup: " in line
    assert "signal #" not in text and " INFO " not in text.replace(line, "")
