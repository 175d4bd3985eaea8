"""``trade-hunter``: parse arguments, load plugins and settings, take the lock, run."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from trade_hunter.plugins.errors import ConfigError

from .config import core_registry, load_settings, read_layers
from .config_report import render, unknown_variables
from .host import PluginHost, PluginLoadError, Registries
from .logs import configure_logging

EXIT_CONFIG = 2
log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="trade-hunter",
        description="Local monitor for unusual prediction-market activity (informational "
                    "only: it never trades). Settings come from the environment and .env.")
    parser.add_argument("--smoke-test", action="store_true",
                        help="run the real pipeline in a temporary home, check that a spike "
                             "becomes a stored signal, print one line and exit")
    parser.add_argument("--no-replace", action="store_true",
                        help="if an instance already runs on this home, exit instead of "
                             "replacing it")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     help="without one, run the daemon")
    config = commands.add_parser(
        "config", help="print the effective configuration: every setting, its value "
                       "(secrets masked) and where it came from (default, .env, environment)")
    config.add_argument("--json", action="store_true", help="as JSON")
    return parser.parse_args(argv)


def build(raw: dict[str, str], extra_plugins: Sequence[tuple[str, object]] = ()
          ) -> tuple[object, PluginHost, Registries]:
    """Load plugins and settings from raw values; raises ConfigError / PluginLoadError.

    ``extra_plugins``: ``(name, plugin)`` pairs registered like built-ins (tests use it to
    bring in ``trade_hunter.plugins.testing`` fakes through the real hooks)."""
    core = core_registry()
    deciding = [core.items[n] for n in ("DISABLED_PLUGINS", "THIRD_PARTY_PLUGINS")]
    try:
        early = load_settings(deciding, raw)
    except ConfigError:  # reported below with every other bad value
        early = load_settings(deciding, {})
    host = PluginHost()
    host.load(disabled=early.DISABLED_PLUGINS, third_party=early.THIRD_PARTY_PLUGINS)
    for name, plugin in extra_plugins:
        host.add(name, plugin)
    registries = Registries(settings=core)
    host.collect(registries)
    settings = load_settings(registries.settings.items.values(), raw)
    return settings, host, registries


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.version:
        from .host import _version
        print(f"trade-hunter {_version('trade-hunter')}")
        return 0
    if args.smoke_test:
        from .smoke import smoke_test
        return smoke_test()
    dotenv_path = Path.cwd() / ".env"
    dotenv, environ = read_layers(dotenv=dotenv_path)
    try:
        settings, host, registries = build({**dotenv, **environ})
        from trade_hunter.web.bind import check_bind  # stdlib only: no web stack yet
        check_bind(settings)
    except (ConfigError, PluginLoadError) as exc:
        for line in str(exc).splitlines():  # every bad value at once, one line each
            print(f"trade-hunter: configuration error: {line}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "config":
        print(render(settings, dotenv, environ, dotenv_path, as_json=args.json))
        return 0
    configure_logging(settings)
    for warning in unknown_variables(settings.declared, dotenv, environ):
        log.warning(warning)
    from .lifecycle import run_daemon
    try:
        return run_daemon(settings, host, registries, replace=not args.no_replace)
    except ConfigError as exc:  # raised by a component factory (e.g. an unreadable key)
        print(f"trade-hunter: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
