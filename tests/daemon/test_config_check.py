"""``trade-hunter --smoke-test --config``: the user's own configuration checked (every value,
the Kalshi key file, webhook and endpoint URLs) without contacting anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HOOK_TOKEN = "config-check-SECRET-token-0123456789"


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("KALSHI_", "DISCORD_", "ANTHROPIC_", "PERPLEXITY_",
                                  "ENABLE_", "APP_", "TRADE_HUNTER_"))}
    full = {**clean, "TRADE_HUNTER_HOME": str(tmp_path / "home"),
            "THIRD_PARTY_PLUGINS": "false", **env}
    return subprocess.run([sys.executable, "-m", "trade_hunter.daemon.cli", "--smoke-test",
                           "--config"], env=full, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)


def test_every_problem_is_reported_and_nothing_runs(tmp_path):
    done = run(tmp_path, ENABLE_KALSHI="true", KALSHI_API_KEY_ID="key-id",
               KALSHI_PRIVATE_KEY_PATH=str(tmp_path / "missing.pem"),
               DISCORD_WEBHOOK_URL=f"ftp://discord.test/{HOOK_TOKEN}",
               DISCORD_WEBHOOK_ROUTES="weather=https://discord.com/api/webhooks/1/x",
               SPIKE_SCORE_THRESHHOLD="4")
    assert done.returncode == 2, done.stdout + done.stderr
    failed = [line for line in done.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 2, done.stdout  # discord stops at its first bad variable
    assert "feed kalshi: KALSHI_PRIVATE_KEY_PATH=" in failed[0] and "no such file" in failed[0]
    assert failed[1].startswith("config check FAILED: notifier discord: DISCORD_WEBHOOK_URL")
    assert "did you mean SPIKE_SCORE_THRESHOLD?" in done.stdout
    assert HOOK_TOKEN not in done.stdout + done.stderr
    assert "smoke test" not in done.stdout  # the pipeline check does not run on a bad config
    assert not (tmp_path / "home").exists()


def test_a_good_configuration_passes_without_contacting_anything(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "kalshi.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    with socket.socket() as listener:  # every endpoint points here: nobody may connect
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        here = f"127.0.0.1:{listener.getsockname()[1]}"
        done = run(tmp_path, ENABLE_KALSHI="true", KALSHI_API_KEY_ID="key-id",
                   KALSHI_PRIVATE_KEY_PATH=str(pem),
                   KALSHI_API_BASE=f"http://{here}/trade-api/v2",
                   KALSHI_WS_URL=f"ws://{here}/trade-api/ws/v2",
                   ANTHROPIC_API_KEY="sk-ant-config-check", ANTHROPIC_BASE_URL=f"http://{here}",
                   DISCORD_WEBHOOK_URL=f"https://discord.com/api/webhooks/123/{HOOK_TOKEN}")
        try:
            listener.accept()
            contacted = True
        except BlockingIOError:
            contacted = False
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("config ok: live mode; feeds: kalshi; detectors: spike; "
                               "analysts: anthropic, heuristic; notifiers: discord")
    assert lines[1].startswith("smoke test ok:")
    assert not contacted
    assert HOOK_TOKEN not in done.stdout + done.stderr and "sk-ant" not in done.stdout
