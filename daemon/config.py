"""Settings: declared (core here, plugins through ``th_add_settings``: a feed's, an analyst's
or a notifier's keys belong to its plugin), read from the environment and ``.env`` (the
environment wins), validated once, then frozen."""

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
    ("DASHBOARD_PUBLIC_URL", "str", "", "The dashboard's address in notifications' market-page links, e.g. https://hunter.example.com behind a proxy (empty: the address it is bound to)", {}),
    ("ALLOWED_HOSTS", "list", "", "Extra Host names the dashboard answers to (loopback names and APP_HOST always are), comma-separated", {}),
    ("HTTP_MAX_BODY_BYTES", "int", 1048576, "Largest accepted HTTP request body (bytes); larger gets 413", {"minimum": 1024}),
    ("HTTP_MAX_CONNECTIONS", "int", 256, "Dashboard/API connections served at once; one more gets 503 and is closed (idle keep-alive connections close after 15 s)", {"minimum": 1, "maximum": 100000}),
    ("ENABLE_SIMULATION", "bool", True, "Run the simulated feed (ignored in live mode)", {}),
    ("POLYALERTHUB_TOKEN", "str", "", "Bearer token PolyAlertHub must send (unset: open)", {"secret": True}),
    ("INGEST_API_TOKEN", "str", "", "Bearer token for POST /api/events (unset: open)", {"secret": True}),
    ("ALERT_GROUP_WINDOW_SECONDS", "float", 600.0, "Signals on markets of one event within this many seconds of each other form one incident (0: no grouping)", {"minimum": 0, "maximum": 86400}),
    ("ALERT_GROUP_WAIT_SECONDS", "float", 10.0, "An incident's first notification waits this long for more signals to join", {"minimum": 0, "maximum": 3600}),
    ("ALERT_REPEAT_SECONDS", "float", 300.0, "An incident that grows is re-notified at most this often", {"minimum": 0, "maximum": 86400}),
    ("DIGEST_AT", "str", "", "Send a daily digest at this local time, HH:MM (empty: no digest)", {}),
    ("DIGEST_TIMEZONE", "str", "", "Time zone of DIGEST_AT, e.g. Europe/Paris (empty: the system's)", {}),
    ("SPIKE_MIN_VOLUME_DELTA", "float", 120.0, "Hard trigger: minimum volume of one event", {"minimum": 0}),
    ("SPIKE_MIN_PRICE_MOVE", "float", 0.03, "Hard trigger: minimum price move (dollars)", {"minimum": 0, "maximum": 1}),
    ("SPIKE_SCORE_THRESHOLD", "float", 3.0, "Outlier trigger: minimum score", {"minimum": 0}),
    ("SPIKE_BASELINE_POINTS", "int", 24, "Volume deltas in the baseline window", {"minimum": 1, "maximum": 10000}),
    ("SPIKE_COOLDOWN_SECONDS", "float", 300.0, "Per-market quiet time after a signal (event time)", {"minimum": 0}),
    ("DIVERGENCE_MIN_GAP", "float", 0.05, "Cross-venue pairs: a divergence signal needs the mapped YES prices this far apart (dollars)", {"minimum": 0.001, "maximum": 1}),
    ("DIVERGENCE_MIN_SECONDS", "float", 60.0, "Cross-venue pairs: how long the gap must last before a divergence signal (event time)", {"minimum": 0}),
    ("OUTCOME_BASELINE_K", "int", 20, "Outcomes: random moved trades of the same market and day graded as each signal's baseline", {"minimum": 0, "maximum": 1000}),
    ("OUTCOME_FLAT_BAND", "float", 0.005, "Outcomes: a price change within this many dollars either way is flat", {"minimum": 0, "maximum": 0.5}),
    ("ADVISOR_INTERVAL_SECONDS", "float", 900.0, "How often the tuning advisor looks at recent reads", {"minimum": 10}),
    ("ADVISOR_WINDOW_HOURS", "float", 24.0, "How far back the tuning advisor looks (and replays)", {"minimum": 0.1, "maximum": 24 * 30}),
    ("TUNING_BACKLOG_PATH", "path", "", "Tuning backlog file (default: TUNING-BACKLOG.md in TRADE_HUNTER_HOME; docs/TUNING-BACKLOG.md when run in a Trade Hunter checkout); relative paths are from the working directory", {}),
    ("RETENTION_DAYS", "float", 7.0, "Rows older than this are deleted (start-up and hourly)", {"minimum": 0.01}),
    ("QUIET_MODE", "bool", False, "Log warnings and errors only (the start-up line with the dashboard address is kept)", {}),
    ("LOG_LEVEL", "choice", "info", "Least severe log level written", {"choices": ("debug", "info", "warning", "error")}),
    ("LOG_FORMAT", "choice", "text", "Log line format: text, or json (one JSON object per line)", {"choices": ("text", "json")}),
    ("LOG_FILE", "path", "", "Also log to this file, rotated by size (unset: stderr only)", {}),
    ("LOG_FILE_MAX_BYTES", "int", 10485760, "Size at which LOG_FILE is rotated (bytes)", {"minimum": 1024}),
    ("LOG_FILE_BACKUPS", "int", 5, "Rotated LOG_FILE copies kept (.1, .2, …)", {"minimum": 0, "maximum": 100}),
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
        """``live`` when a feed's live switch is on (a setting declared ``live=True``, e.g.
        ``ENABLE_KALSHI``), else ``simulation`` when simulation is on, else ingest-only."""
        if any(self._values.get(n) for n, s in self._declared.items() if s.live):
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


class ConfigErrors(ConfigError):
    """Several bad settings, reported together: one ``VARIABLE='value': expected …`` line
    each (``errors``)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        first = errors[0]
        super().__init__(first.variable, first.value, first.expected)
        self.errors = errors
        self.args = ("\n".join(str(e) for e in errors),)

    def __str__(self) -> str:
        return str(self.args[0])


def read_layers(environ: Mapping[str, str] | None = None, dotenv: Path | None = None
                ) -> tuple[dict[str, str], dict[str, str]]:
    """``(.env of the working directory, the environment)``, kept apart so that
    ``trade-hunter config`` can say where each value came from."""
    env = dict(os.environ if environ is None else environ)
    path = dotenv if dotenv is not None else Path.cwd() / ".env"
    file_values: dict[str, str] = {}
    if path.is_file():
        file_values = {k: v or "" for k, v in dotenv_values(path).items()}
    return file_values, env


def read_sources(environ: Mapping[str, str] | None = None,
                 dotenv: Path | None = None) -> dict[str, str]:
    """The raw values: ``.env`` of the working directory, overridden by the environment."""
    file_values, env = read_layers(environ, dotenv)
    return {**file_values, **env}


def load_settings(declared: Iterable[Setting], raw: Mapping[str, str]) -> Settings:
    """Validate every declared setting. Every bad one is reported at once: one bad value
    raises its ``ConfigError``, several raise ``ConfigErrors``."""
    values: dict[str, Any] = {}
    errors: list[ConfigError] = []
    table = {s.name: s for s in declared}
    for setting in table.values():
        try:
            if setting.name in raw:
                values[setting.name] = parse_value(setting, raw[setting.name])
            elif setting.kind == "list" and isinstance(setting.default, str):
                values[setting.name] = parse_value(setting, setting.default)
            else:
                values[setting.name] = setting.default
        except ConfigError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ConfigErrors(errors)
    if not values.get("TRADE_HUNTER_HOME"):
        values["TRADE_HUNTER_HOME"] = Path(platformdirs.user_data_dir("trade-hunter", False))
    return Settings(values, table)
