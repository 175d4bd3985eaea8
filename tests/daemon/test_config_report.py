"""Configuration you can trust: every bad value at once, "did you mean" for look-alike
variables, and ``trade-hunter config`` (values, sources, secrets masked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trade_hunter.daemon.cli import build
from trade_hunter.daemon.config import ConfigErrors
from trade_hunter.daemon.config_report import own_prefixes, unknown_variables

SECRET = "sk-ant-config-report-SECRET-42"


def declared() -> list[str]:
    _, _, registries = build({"TRADE_HUNTER_HOME": "/tmp", "THIRD_PARTY_PLUGINS": "false"})
    return list(registries.settings.items)


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in declared()}
    return subprocess.run([sys.executable, "-m", "trade_hunter.daemon.cli", *args],
                          env={**clean, **env}, cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


def test_every_bad_value_is_reported_at_once(tmp_path):
    with pytest.raises(ConfigErrors) as info:
        build({"TRADE_HUNTER_HOME": str(tmp_path), "APP_PORT": "x", "QUIET_MODE": "maybe",
               "THIRD_PARTY_PLUGINS": "sometimes", "KALSHI_REST_RATE": "500"})
    assert [e.variable for e in info.value.errors] == [
        "APP_PORT", "QUIET_MODE", "THIRD_PARTY_PLUGINS", "KALSHI_REST_RATE"]  # plugins' too


def test_the_cli_prints_one_line_per_bad_value(tmp_path):
    (tmp_path / ".env").write_text("SPIKE_BASELINE_POINTS=many\n")
    result = cli(env={"TRADE_HUNTER_HOME": str(tmp_path / "home"), "APP_PORT": "70000",
                      "DISCORD_ALERT_MODE": "loud"}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("trade-hunter: configuration error: ")
                                   for line in lines)
    text = result.stderr
    assert "APP_PORT='70000'" in text and "DISCORD_ALERT_MODE='loud'" in text
    assert "SPIKE_BASELINE_POINTS='many'" in text and "Traceback" not in text
    assert not (tmp_path / "home").exists()


def test_look_alike_variables_get_did_you_mean():
    names = declared()
    environ = {"SPIKE_SCORE_THRESHHOLD": "4", "ENABLE_SIMULATON": "false", "app_port": "1",
               "KALSHI_MARKET": "X", "SPIKE_WINDOW": "3", "HOME": "/root", "PATH": "/bin",
               "HTTP_PROXY": "http://proxy", "LOG_DIR": "/x", "APP_ENV": "dev",
               "ANTHROPIC_LOG": "debug", "APP_PORT": "8000"}
    warnings = unknown_variables(names, {"DISCORD_WEBHOK_URL": "x", "MY_OWN": "1"}, environ)
    tail = " is not a Trade Hunter setting"
    assert warnings == [
        f"DISCORD_WEBHOK_URL (in .env){tail}; did you mean DISCORD_WEBHOOK_URL?",
        f"MY_OWN (in .env){tail}; it is ignored",
        f"ENABLE_SIMULATON (in the environment){tail}; did you mean ENABLE_SIMULATION?",
        f"KALSHI_MARKET (in the environment){tail}; did you mean KALSHI_MARKETS?",
        f"SPIKE_SCORE_THRESHHOLD (in the environment){tail}; did you mean SPIKE_SCORE_THRESHOLD?",
        f"SPIKE_WINDOW (in the environment){tail}; it is ignored",
        f"app_port (in the environment){tail}; did you mean APP_PORT?",
    ]
    assert {"SPIKE_", "KALSHI_", "DISCORD_", "TRADE_HUNTER_"} <= set(own_prefixes(names))
    assert not {"APP_", "HTTP_", "LOG_"} & set(own_prefixes(names))


def test_config_prints_values_sources_and_masks_secrets(tmp_path):
    (tmp_path / ".env").write_text(f"APP_PORT=9100\nANTHROPIC_API_KEY={SECRET}\n"
                                   "SPIKE_SCORE_THRESHHOLD=4\n")
    env = {"TRADE_HUNTER_HOME": str(tmp_path / "home"), "SPIKE_COOLDOWN_SECONDS": "60",
           "DISCORD_WEBHOOK_URL": f"https://discord.test/api/webhooks/1/{SECRET}"}
    result = cli("config", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    table = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()
             if line and not line.startswith(("#", "warning:", "VARIABLE"))}
    assert table["APP_PORT"][:2] == ["9100", ".env"]
    assert table["SPIKE_COOLDOWN_SECONDS"][:2] == ["60", "environment"]
    assert table["SPIKE_SCORE_THRESHOLD"][:2] == ["3", "default"]
    assert table["ANTHROPIC_API_KEY"][:2] == ["********", ".env"]
    assert table["DISCORD_WEBHOOK_URL"][:2] == ["********", "environment"]
    assert table["KALSHI_REST_RATE"][-1] == "kalshi"  # plugins' settings, with their plugin
    assert "did you mean SPIKE_SCORE_THRESHOLD?" in result.stdout
    as_json = json.loads(cli("config", "--json", env=env, cwd=tmp_path).stdout)
    by_name = {row["name"]: row for row in as_json["settings"]}
    assert by_name["ANTHROPIC_API_KEY"] == {"name": "ANTHROPIC_API_KEY", "value": "********",
                                            "source": ".env", "plugin": "anthropic"}
    assert SECRET not in json.dumps(as_json) and as_json["warnings"]
    assert not (tmp_path / "home").exists()  # config touches nothing


@pytest.mark.slow
def test_the_daemon_warns_about_look_alikes_at_start_up(tmp_path):
    env = {"TRADE_HUNTER_HOME": str(tmp_path / "home"), "APP_PORT": "0",
           "ENABLE_SIMULATON": "false", "THIRD_PARTY_PLUGINS": "false",
           "DISABLED_PLUGINS": "kalshi"}
    proc = subprocess.Popen([sys.executable, "-m", "trade_hunter.daemon.cli"],
                            env={**os.environ, **env}, cwd=tmp_path, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert "WARNING" in first and "did you mean ENABLE_SIMULATION?" in first
