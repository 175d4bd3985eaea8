"""Helpers for the analyst and advisor daemon tests: a real daemon whose plugins are the
built-ins plus a recording notifier registered through the real hook, with its API keys and
endpoints pointed at the local fakes."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.config import core_registry, load_settings
from trade_hunter.daemon.host import BUILTINS, PluginHost, Registries
from trade_hunter.plugins import hookimpl
from trade_hunter.plugins.models import Alert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import base_env
from fake_analysts import FakeAnthropic, FakePerplexity

PLUGIN = "th_test_analysis_recorder"


class Recorder:
    """A notifier that keeps what it is sent (registered through the real hook)."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def notify(self, alert: Alert) -> None:
        self.alerts.append(alert)


def build(home: Path, recorder: Recorder | None = None, *, disabled: tuple[str, ...] = (),
          **env: str) -> Daemon:
    plugin = types.ModuleType(PLUGIN)

    @hookimpl
    def th_register_notifiers(registry: Any) -> None:
        if recorder is not None:
            registry.add("recorder", lambda ctx: recorder)

    plugin.th_register_notifiers = th_register_notifiers  # type: ignore[attr-defined]
    sys.modules[PLUGIN] = plugin
    host = PluginHost()
    host.load(third_party=False, builtins=(*BUILTINS, PLUGIN), disabled=set(disabled))
    registries = Registries(settings=core_registry())
    host.collect(registries)
    env.setdefault("TUNING_BACKLOG_PATH", str(home / "TUNING-BACKLOG.md"))
    settings = load_settings(registries.settings.items.values(), base_env(home, **env))
    return Daemon(settings, host, registries)


def keys(anthropic: FakeAnthropic | None = None,
         perplexity: FakePerplexity | None = None) -> dict[str, str]:
    env = {}
    if anthropic is not None:
        env |= {"ANTHROPIC_API_KEY": anthropic.api_key, "ANTHROPIC_BASE_URL": anthropic.url}
    if perplexity is not None:
        env |= {"PERPLEXITY_API_KEY": perplexity.api_key, "PERPLEXITY_BASE_URL": perplexity.url}
    return env


