"""``trade-hunter --smoke-test --config``: check the user's own configuration as far as can be
done without contacting anything.

Every setting is validated (all bad values at once), then every component that configuration
enables is *created* by its own factory (the Kalshi feed reads and parses its key file and
checks its endpoints, Discord parses its webhook URLs and routes, analysts check their
endpoints), exactly as at start-up but without running any of them: no connection is opened,
no state folder touched (the components see a temporary one).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from trade_hunter.plugins.errors import ConfigError

from .config_report import unknown_variables
from .host import PluginLoadError

KINDS = ("feed", "detector", "analyst", "notifier")


def check_config(dotenv: Mapping[str, str], environ: Mapping[str, str],
                 say: Callable[[str], None] = print) -> int:
    """0: usable (warnings aside); 2: something is wrong, each problem on its own line."""
    from trade_hunter.web.bind import check_bind

    from .app import Daemon
    from .cli import build

    try:
        settings, host, registries = build({**dotenv, **environ})
        check_bind(settings)
    except (ConfigError, PluginLoadError) as exc:
        for line in str(exc).splitlines():
            say(f"config check FAILED: {line}")
        return 2
    problems: list[str] = []
    made: dict[str, list[str]] = {kind: [] for kind in KINDS}
    idle: list[str] = []
    with tempfile.TemporaryDirectory(prefix="trade-hunter-check-") as tmp:
        daemon = Daemon(settings.replace(TRADE_HUNTER_HOME=Path(tmp)), host, registries)
        for kind in KINDS:
            for reg in getattr(registries, f"{kind}s").ordered():
                if reg.enabled is not None and not reg.enabled(settings):
                    continue
                before = len(problems)
                component = _create(reg, daemon.plugin_context(reg.name, kind), problems,
                                    kind)
                if component is not None:
                    made[kind].append(reg.name)
                elif len(problems) == before:  # the factory's None: "not configured"
                    idle.append(reg.name)
    for warning in unknown_variables(settings.declared, dotenv, environ):
        say(f"config check warning: {warning}")
    if problems:
        for problem in problems:
            say(f"config check FAILED: {problem}")
        return 2
    summary = "; ".join(f"{kind}s: {', '.join(names) or 'none'}" for kind, names in
                        made.items())
    say(f"config ok: {settings.active_mode} mode; {summary}"
        + (f" (not configured: {', '.join(idle)})" if idle else ""))
    return 0


def _create(reg: Any, ctx: Any, problems: list[str], kind: str) -> Any:
    try:
        return reg.factory(ctx)
    except ConfigError as exc:
        problems.append(f"{kind} {reg.name}: {exc}")
    except Exception as exc:  # noqa: BLE001 - reported like a failed start
        problems.append(f"{kind} {reg.name}: could not be created: {type(exc).__name__}: {exc}")
    return None
