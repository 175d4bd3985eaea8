"""``trade-hunter``: parse arguments, load plugins and settings, take the lock, run."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from dotenv import dotenv_values

from trade_hunter.plugins.errors import ConfigError

from .config import Settings, core_registry, load_settings, read_layers
from .config_report import render, unknown_variables
from .host import PluginHost, PluginLoadError, Registries
from .logs import configure_logging
from .system_service import service_conflict

EXIT_CONFIG, EXIT_RUNNING = 2, 3
log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="trade-hunter",
        description="Local monitor for unusual prediction-market activity (informational "
                    "only: it never trades). Settings come from the environment and .env.")
    parser.add_argument("--smoke-test", action="store_true",
                        help="run the real pipeline in a temporary home, check that a spike "
                             "becomes a stored signal, print one line and exit")
    parser.add_argument("--config", action="store_true",
                        help="with --smoke-test: first check your own configuration (every "
                             "value, key files, webhook and endpoint URLs) without contacting "
                             "anything")
    replacing = parser.add_mutually_exclusive_group()
    replacing.add_argument("--no-replace", action="store_true",
                        help="if an instance already runs on this home, exit instead of "
                             "replacing it")
    replacing.add_argument("--replace", action="store_true",
                        help="replace the instance running on this home even when the "
                             "service manager runs it (see `service`)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     help="without one, run the daemon")
    config = commands.add_parser(
        "config", help="print the effective configuration: every setting, its value "
                       "(secrets masked) and where it came from (default, .env, environment)")
    config.add_argument("--json", action="store_true", help="as JSON")
    service = commands.add_parser(
        "service", help="run as a service: a systemd user unit (Linux), a launchd agent "
                        "(macOS); prints the Task Scheduler steps on Windows")
    service.add_argument("action", choices=("install", "uninstall", "status"))
    # Listed for the help only: main() hands `backtest ...` to the backtest tool before parsing.
    commands.add_parser(
        "backtest", help="run the detector over recorded Kalshi trades and print how its "
                         "signals did against chance (trade-hunter backtest -h)")
    service.add_argument("--files-only", action="store_true",
                         help="write or remove the files only; do not ask systemd/launchd "
                              "to start or stop anything")
    return parser.parse_args(argv)


def build(raw: dict[str, str], extra_plugins: Sequence[tuple[str, object]] = ()
          ) -> tuple[Settings, PluginHost, Registries]:
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
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["backtest"]:
        from trade_hunter.outcomes.backtest.cli import main as backtest
        return backtest(argv[1:])
    args = parse_args(argv)
    if args.version:
        from .host import _version
        print(f"trade-hunter {_version('trade-hunter')}")
        return 0
    if args.config and not args.smoke_test:
        print("trade-hunter: --config goes with --smoke-test", file=sys.stderr)
        return EXIT_CONFIG
    if args.smoke_test:
        from .smoke import smoke_test
        if args.config:
            from .config_check import check_config
            dotenv, environ = read_layers()
            if check_config(dotenv, environ) != 0:
                return EXIT_CONFIG
        return smoke_test()
    if args.command == "service":
        return service_command(args.action, start=not args.files_only)
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
    if not args.replace and not args.no_replace:
        pid = service_conflict(settings.home)
        if pid is not None:
            print(f"trade-hunter: the service runs Trade Hunter on {settings.home} (pid {pid}, "
                  "see `trade-hunter service status`); not starting a second one. Stop the "
                  "service, or pass --replace to replace it anyway.", file=sys.stderr)
            return EXIT_RUNNING
    from .lifecycle import run_daemon
    try:
        return run_daemon(settings, host, registries, replace=not args.no_replace)
    except ConfigError as exc:  # raised by a component factory (e.g. an unreadable key)
        print(f"trade-hunter: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def service_command(action: str, *, start: bool) -> int:
    from . import system_service as svc

    paths = svc.Paths.for_user()
    say = print
    if action == "install":
        source = paths.env_file if paths.env_file.exists() else Path.cwd() / ".env"
        values = {k: v or "" for k, v in dotenv_values(source).items()} \
            if source.is_file() else {}
        try:  # the service would only fail at start: say so now
            build(values)
        except (ConfigError, PluginLoadError) as exc:
            for line in str(exc).splitlines():
                print(f"trade-hunter: configuration error in {source}: {line}",
                      file=sys.stderr)
            return EXIT_CONFIG
        return svc.install(sys.platform, paths, Path.cwd(), start=start, say=say)
    if action == "uninstall":
        return svc.uninstall(sys.platform, paths, stop=start, say=say)
    return svc.status(sys.platform, paths, say=say)


if __name__ == "__main__":
    sys.exit(main())
