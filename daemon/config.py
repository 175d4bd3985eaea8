"""Settings: declared (core here, plugins through ``th_add_settings``), read from the
environment and ``.env`` (the environment wins), validated once, then frozen."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs
from dotenv import dotenv_values

from trade_hunter.plugins.errors import ConfigError
from trade_hunter.plugins.registry import Setting, SettingsRegistry

CORE: tuple[tuple[Any, ...], ...] = (
    # name, kind, default, help, options
    ("APP_HOST", "str", "127.0.0.1", "Dashboard bind address (loopback unless DASHBOARD_TOKEN is set)", {}),
    ("APP_PORT", "int", 8765, "Dashboard port (0 picks a free one)", {"minimum": 0, "maximum": 65535}),
    ("DASHBOARD_TOKEN", "str", "", "Token every API call needs when APP_HOST is not loopback", {"secret": True}),
    ("ALLOWED_HOSTS", "list", "", "Extra Host names the dashboard answers to (loopback names and APP_HOST always are), comma-separated", {}),
    ("HTTP_MAX_BODY_BYTES", "int", 1048576, "Largest accepted HTTP request body (bytes); larger gets 413", {"minimum": 1024}),
    ("HTTP_MAX_CONNECTIONS", "int", 256, "Dashboard/API connections served at once; one more gets 503 and is closed (idle keep-alive connections close after 15 s)", {"minimum": 1, "maximum": 100000}),
    ("ENABLE_SIMULATION", "bool", True, "Run the simulated feed (ignored in live mode)", {}),
    ("ENABLE_KALSHI", "bool", False, "Live mode: stream Kalshi (suppresses simulation)", {}),
    ("KALSHI_API_KEY_ID", "str", "", "Kalshi API key id", {"secret": True}),
    ("KALSHI_PRIVATE_KEY_PATH", "path", "", "Kalshi RSA private key (PEM)", {}),
    ("KALSHI_MARKETS", "list", "", "Tickers to track on first start: series, event or market tickers, comma-separated", {}),
    ("POLYALERTHUB_TOKEN", "str", "", "Bearer token PolyAlertHub must send (unset: open)", {"secret": True}),
    ("INGEST_API_TOKEN", "str", "", "Bearer token for POST /api/events (unset: open)", {"secret": True}),
    ("ANTHROPIC_API_KEY", "str", "", "Anthropic key for the analyst", {"secret": True}),
    ("PERPLEXITY_API_KEY", "str", "", "Perplexity key (analyst fallback)", {"secret": True}),
    ("DISCORD_WEBHOOK_URL", "str", "", "Default Discord webhook", {"secret": True}),
    ("DISCORD_WEBHOOK_ROUTES", "str", "", "Topic-routed webhooks: topic=url pairs separated by ; or ,", {"secret": True}),
    ("DISCORD_ALERT_MODE", "choice", "all", "Which alerts reach Discord", {"choices": ("all", "detector-only", "analyst-signals-only")}),
    ("DISCORD_ANALYST_FOLLOWUP", "bool", True, "Send the analyst's read as a follow-up (mode all)", {}),
    ("DISCORD_ANALYST_MIN_CONFIDENCE", "choice", "medium", "Minimum confidence in analyst-signals-only mode", {"choices": ("low", "medium", "high")}),
    ("SPIKE_MIN_VOLUME_DELTA", "float", 120.0, "Hard trigger: minimum volume of one event", {"minimum": 0}),
    ("SPIKE_MIN_PRICE_MOVE", "float", 0.03, "Hard trigger: minimum price move (dollars)", {"minimum": 0, "maximum": 1}),
    ("SPIKE_SCORE_THRESHOLD", "float", 3.0, "Outlier trigger: minimum score", {"minimum": 0}),
    ("SPIKE_BASELINE_POINTS", "int", 24, "Volume deltas in the baseline window", {"minimum": 1, "maximum": 10000}),
    ("SPIKE_COOLDOWN_SECONDS", "float", 300.0, "Per-market quiet time after a signal (event time)", {"minimum": 0}),
    ("RETENTION_DAYS", "float", 7.0, "Rows older than this are deleted (start-up and hourly)", {"minimum": 0.01}),
    ("QUIET_MODE", "bool", False, "Log warnings only", {}),
    ("FRESHNESS_WINDOW_SECONDS", "float", 600.0, "Live mode: the tape shows events this recent", {"minimum": 1}),
    ("TRADE_HUNTER_HOME", "path", "", "State folder: database, lock, control socket (default: per-user data folder)", {}),
    ("CONTROL_TRANSPORT", "choice", "auto", "Control socket: unix (POSIX), tcp (loopback + token; the Windows default) or auto", {"choices": ("auto", "unix", "tcp")}),
    ("SIMULATION_SEED", "str", "", "Seed for a reproducible simulation (empty: random)", {}),
    ("DISABLED_PLUGINS", "list", "", "Plugin names not to load, comma-separated", {}),
    ("THIRD_PARTY_PLUGINS", "bool", True, "Load plugins installed through entry points", {}),
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def core_registry() -> SettingsRegistry:
    registry = SettingsRegistry()
    registry._plugin = "core"
    for name, kind, default, help_, options in CORE:
        registry.add(name, kind, default, help_, **options)
    return registry


def parse_value(setting: Setting, raw: str) -> Any:
    """Turn one raw string into the setting's type, or raise ``ConfigError``."""
    kind, name, text = setting.kind, setting.name, raw.strip()
    if kind in ("str", "path"):
        if kind == "path" and text:
            return Path(text).expanduser()
        return text
    if kind == "bool":
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ConfigError(name, raw, "true or false")
    if kind == "choice":
        if text in setting.choices:
            return text
        raise ConfigError(name, raw, "one of " + ", ".join(setting.choices))
    if kind == "list":
        return tuple(p.strip() for p in text.replace(";", ",").split(",") if p.strip())
    try:
        value: float = int(text) if kind == "int" else float(text)
    except ValueError:
        raise ConfigError(name, raw, _range_text(setting, "an integer" if kind == "int"
                                                 else "a number")) from None
    if math.isnan(value) or math.isinf(value) or (
            setting.minimum is not None and value < setting.minimum) or (
            setting.maximum is not None and value > setting.maximum):
        raise ConfigError(name, raw, _range_text(setting, "an integer" if kind == "int"
                                                 else "a number"))
    return value


def _range_text(setting: Setting, what: str) -> str:
    lo, hi = setting.minimum, setting.maximum
    if lo is not None and hi is not None:
        return f"{what} from {lo:g} to {hi:g}"
    if lo is not None:
        return f"{what} of at least {lo:g}"
    return what


class Settings:
    """Frozen, typed settings: ``settings.APP_PORT`` or ``settings["APP_PORT"]``."""

    __slots__ = ("_declared", "_values")

    def __init__(self, values: Mapping[str, Any], declared: Mapping[str, Setting]) -> None:
        object.__setattr__(self, "_values", MappingProxyType(dict(values)))
        object.__setattr__(self, "_declared", MappingProxyType(dict(declared)))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no setting {name}") from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are frozen")

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    @property
    def declared(self) -> Mapping[str, Setting]:
        return self._declared

    @property
    def active_mode(self) -> str:
        """``live`` when Kalshi is on, else ``simulation`` when simulation is on, else ingest-only."""
        if self._values["ENABLE_KALSHI"]:
            return "live"
        if self._values["ENABLE_SIMULATION"]:
            return "simulation"
        return "ingest-only"

    @property
    def home(self) -> Path:
        return Path(self._values["TRADE_HUNTER_HOME"])

    def public(self) -> dict[str, Any]:
        """Values safe to show: secrets reduced to whether they are set."""
        out: dict[str, Any] = {}
        for name, value in self._values.items():
            setting = self._declared.get(name)
            if setting is not None and setting.secret:
                out[name] = "set" if value else ""
            else:
                out[name] = str(value) if isinstance(value, Path) else value
        return out

    def replace(self, **changes: Any) -> Settings:
        return Settings({**self._values, **changes}, self._declared)


def read_sources(environ: Mapping[str, str] | None = None,
                 dotenv: Path | None = None) -> dict[str, str]:
    """The raw values: ``.env`` of the working directory, overridden by the environment."""
    env = dict(os.environ if environ is None else environ)
    path = dotenv if dotenv is not None else Path.cwd() / ".env"
    raw: dict[str, str] = {}
    if path.is_file():
        raw.update({k: v or "" for k, v in dotenv_values(path).items()})
    raw.update(env)
    return raw


def load_settings(declared: Iterable[Setting], raw: Mapping[str, str]) -> Settings:
    """Validate every declared setting; the first bad one raises ``ConfigError``."""
    values: dict[str, Any] = {}
    table = {s.name: s for s in declared}
    for setting in table.values():
        if setting.name in raw:
            values[setting.name] = parse_value(setting, raw[setting.name])
        elif setting.kind == "list" and isinstance(setting.default, str):
            values[setting.name] = parse_value(setting, setting.default)
        else:
            values[setting.name] = setting.default
    if not values.get("TRADE_HUNTER_HOME"):
        values["TRADE_HUNTER_HOME"] = Path(platformdirs.user_data_dir("trade-hunter", False))
    return Settings(values, table)
