from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trade_hunter.daemon.cli import build
from trade_hunter.daemon.config import CORE, core_registry, load_settings, read_sources
from trade_hunter.plugins.errors import ConfigError

SEED_DEFAULTS = {
    "APP_HOST": "127.0.0.1", "APP_PORT": 8765, "ENABLE_SIMULATION": True,
    "ENABLE_KALSHI": False, "KALSHI_API_KEY_ID": "", "KALSHI_MARKETS": (),
    "POLYALERTHUB_TOKEN": "", "INGEST_API_TOKEN": "", "ANTHROPIC_API_KEY": "",
    "PERPLEXITY_API_KEY": "", "DISCORD_WEBHOOK_URL": "", "DISCORD_WEBHOOK_ROUTES": "",
    "DISCORD_ALERT_MODE": "all", "DISCORD_ANALYST_FOLLOWUP": True,
    "DISCORD_ANALYST_MIN_CONFIDENCE": "medium", "SPIKE_MIN_VOLUME_DELTA": 120,
    "SPIKE_MIN_PRICE_MOVE": 0.03, "SPIKE_SCORE_THRESHOLD": 3.0, "SPIKE_BASELINE_POINTS": 24,
    "SPIKE_COOLDOWN_SECONDS": 300, "RETENTION_DAYS": 7, "QUIET_MODE": False,
}


def settings(**raw: str):
    """The core settings and the built-in plugins' (Kalshi's, Discord's, the analysts' keys
    are declared by their plugins)."""
    return build({"THIRD_PARTY_PLUGINS": "false", **raw})[0]


def test_core_settings_name_no_feed_or_service():
    core = {name for name, *_ in CORE}
    assert not {n for n in core if n.startswith(("KALSHI_", "DISCORD_", "ANTHROPIC_",
                                                 "PERPLEXITY_", "ENABLE_KALSHI"))}
    assert load_settings(core_registry().items.values(), {"ENABLE_KALSHI": "true"}
                         ).active_mode == "simulation"  # no live switch without its plugin


def test_seed_defaults():
    s = settings()
    for name, value in SEED_DEFAULTS.items():
        assert s[name] == value, name
    assert s.KALSHI_PRIVATE_KEY_PATH == ""
    assert s.active_mode == "simulation"
    assert s.home.name == "trade-hunter"


@pytest.mark.parametrize(("raw", "mode"), [
    ({}, "simulation"),
    ({"ENABLE_KALSHI": "true"}, "live"),
    ({"ENABLE_KALSHI": "1", "ENABLE_SIMULATION": "true"}, "live"),
    ({"ENABLE_SIMULATION": "false"}, "ingest-only"),
])
def test_active_mode(raw, mode):
    assert settings(**raw).active_mode == mode


def test_typed_values_and_frozen():
    s = settings(APP_PORT="9000", SPIKE_MIN_PRICE_MOVE="0.05", QUIET_MODE="yes",
                 KALSHI_MARKETS="KXBTC15M, kxfed ;KXCPI", TRADE_HUNTER_HOME="~/th")
    assert s.APP_PORT == 9000 and s.SPIKE_MIN_PRICE_MOVE == 0.05 and s.QUIET_MODE is True
    assert s.KALSHI_MARKETS == ("KXBTC15M", "kxfed", "KXCPI")
    assert s.home == Path("~/th").expanduser()
    with pytest.raises(AttributeError):
        s.APP_PORT = 1


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("SPIKE_SCORE_THRESHOLD", "abc", "SPIKE_SCORE_THRESHOLD='abc': expected a number of at least 0"),
    ("APP_PORT", "70000", "APP_PORT='70000': expected an integer from 0 to 65535"),
    ("DISCORD_ALERT_MODE", "loud",
     "DISCORD_ALERT_MODE='loud': expected one of all, detector-only, analyst-signals-only"),
    ("ENABLE_KALSHI", "maybe", "ENABLE_KALSHI='maybe': expected true or false"),
    ("SPIKE_MIN_PRICE_MOVE", "nan", "SPIKE_MIN_PRICE_MOVE='nan': expected a number from 0 to 1"),
])
def test_bad_values_name_variable_value_and_expectation(name, value, expected):
    with pytest.raises(ConfigError) as info:
        settings(**{name: value})
    assert str(info.value) == expected


def test_dotenv_is_read_and_environment_wins(tmp_path):
    (tmp_path / ".env").write_text("APP_PORT=9100\nQUIET_MODE=true\n# comment\n")
    raw = read_sources({"APP_PORT": "9200"}, tmp_path / ".env")
    s = settings(**raw)
    assert s.APP_PORT == 9200 and s.QUIET_MODE is True


def test_public_view_hides_secrets():
    s = settings(ANTHROPIC_API_KEY="sk-secret", DISCORD_WEBHOOK_URL="https://x/y")
    public = s.public()
    assert public["ANTHROPIC_API_KEY"] == "set" and public["DISCORD_WEBHOOK_URL"] == "set"
    assert "sk-secret" not in repr(public)


def test_plugin_settings_are_declared_through_the_hook(tmp_path):
    _, _, registries = build({"TRADE_HUNTER_HOME": str(tmp_path),
                              "THIRD_PARTY_PLUGINS": "false"})
    assert set(registries.settings.items) >= {name for name, *_ in CORE}


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trade_hunter.daemon.cli", *args],
                          env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize(("name", "value"), [
    ("SPIKE_SCORE_THRESHOLD", "abc"), ("APP_PORT", "70000"), ("DISCORD_ALERT_MODE", "loud")])
def test_cli_bad_value_exits_2_with_one_line(tmp_path, name, value):
    result = cli(env={name: value, "TRADE_HUNTER_HOME": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and value in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_bad_value_in_dotenv_exits_2(tmp_path):
    (tmp_path / ".env").write_text("SPIKE_BASELINE_POINTS=many\n")
    result = cli(env={"TRADE_HUNTER_HOME": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 2 and "SPIKE_BASELINE_POINTS='many'" in result.stderr


def test_cli_smoke_test_exits_0(tmp_path):
    result = cli("--smoke-test", env={"TRADE_HUNTER_HOME": str(tmp_path / "never-used")},
                 cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("smoke test ok:") and len(result.stdout.splitlines()) == 1
    assert not (tmp_path / "never-used").exists()  # an isolated temporary home
