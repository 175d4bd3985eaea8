"""The plugin host: one pluggy manager per daemon, built-ins registered like third parties."""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from trade_hunter.plugins import hookspecs
from trade_hunter.plugins.registry import (
    ComponentRegistry,
    RelayRegistry,
    RpcRegistry,
    SettingsRegistry,
)

log = logging.getLogger(__name__)

# Built-in plugins: module names registered with the same call as entry points.
BUILTINS: tuple[str, ...] = (
    "trade_hunter.plugins.builtin.spike",
    "trade_hunter.plugins.builtin.simulated",
    "trade_hunter.plugins.builtin.analysts",
    "trade_hunter.plugins.builtin.analysts.anthropic",
    "trade_hunter.plugins.builtin.analysts.perplexity",
    "trade_hunter.plugins.builtin.analysts.heuristic",
    "trade_hunter.plugins.builtin.notifiers.discord",
    "trade_hunter.plugins.builtin.notifiers.apprise",
    "trade_hunter.plugins.builtin.relays.ingest",
    "trade_hunter.plugins.builtin.relays.polyalerthub",
    "trade_hunter.plugins.builtin.relays.relays",
    "trade_hunter.plugins.builtin.kalshi",
    "trade_hunter.plugins.builtin.polymarket",
)
ENTRY_POINT_GROUP = "trade_hunter"


class PluginLoadError(Exception):
    """A plugin is unusable in a way that must stop start-up (a misspelled hook)."""


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str
    origin: str  # "builtin" or "entry point"
    status: str = "loaded"  # loaded | failed | disabled
    error: str = ""
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Registries:
    settings: SettingsRegistry
    feeds: ComponentRegistry = field(default_factory=lambda: ComponentRegistry("feed"))
    detectors: ComponentRegistry = field(default_factory=lambda: ComponentRegistry("detector"))
    analysts: ComponentRegistry = field(default_factory=lambda: ComponentRegistry("analyst"))
    notifiers: ComponentRegistry = field(default_factory=lambda: ComponentRegistry("notifier"))
    relays: RelayRegistry = field(default_factory=RelayRegistry)
    rpc: RpcRegistry = field(default_factory=RpcRegistry)


class PluginHost:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}

    # ------------------------------------------------------------------ loading
    def load(self, *, disabled: Iterable[str] = (), third_party: bool = True,
             builtins: Iterable[str] = BUILTINS) -> None:
        disabled = set(disabled)
        version = _version("trade-hunter")
        for module_name in builtins:
            name = module_name.rsplit(".", 1)[-1]
            info = PluginInfo(name, module_name, version, "builtin")
            self.plugins[name] = info
            if name in disabled:
                info.status = "disabled"
                continue
            self._register(info, lambda m=module_name: importlib.import_module(m))
        if third_party:
            for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
                dist = getattr(ep, "dist", None)
                info = PluginInfo(ep.name, ep.value, dist.version if dist else "?",
                                  "entry point")
                if ep.name in self.plugins:
                    info.status, info.error = "failed", "name already used by another plugin"
                    self.plugins[f"{ep.name} ({ep.value})"] = info
                    continue
                self.plugins[ep.name] = info
                if ep.name in disabled:
                    info.status = "disabled"
                    continue
                self._register(info, ep.load)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin) or repr(exc.plugin)
            raise PluginLoadError(f"plugin {name!r}: {_one_line(exc)}") from None

    def add(self, name: str, plugin: object) -> None:
        """Register an already-imported plugin object (tests, embedding)."""
        info = PluginInfo(name, type(plugin).__module__, _version("trade-hunter"), "builtin")
        self.plugins[name] = info
        self._register(info, lambda: plugin)
        self.pm.check_pending()

    def _register(self, info: PluginInfo, load: Any) -> None:
        # Each plugin in its own try: a broken third-party plugin is reported, not fatal.
        try:
            module = load()
            self.pm.register(module, name=info.name)
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"plugin {info.name!r}: {_one_line(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - a broken third-party plugin never stops us
            info.status, info.error = "failed", _one_line(exc)
            log.warning("plugin %s failed to load: %s", info.name, info.error)
            log.debug("%s", traceback.format_exc())
            return
        info.hooks = sorted(
            caller.name for caller in self.pm.get_hookcallers(module) or ())

    # ------------------------------------------------------------------ registration
    def collect(self, registries: Registries) -> None:
        """Run every registration hook, one plugin at a time so errors are attributed."""
        for hook_name, registry in (
            ("th_add_settings", registries.settings),
            ("th_register_feeds", registries.feeds),
            ("th_register_detectors", registries.detectors),
            ("th_register_analysts", registries.analysts),
            ("th_register_notifiers", registries.notifiers),
            ("th_register_relays", registries.relays),
            ("th_register_rpc_methods", registries.rpc),
        ):
            self.call_each(hook_name, registry)

    def call_each(self, hook_name: str, registry: Any) -> None:
        arg = "settings" if hook_name == "th_add_settings" else "registry"
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            info = self.plugins.get(impl.plugin_name)
            registry._plugin = impl.plugin_name
            try:
                impl.function(**{arg: registry} if impl.argnames else {})
            except Exception as exc:
                if info is None or info.origin == "builtin":
                    raise
                info.status, info.error = "failed", f"{hook_name}: {_one_line(exc)}"
                log.warning("plugin %s failed in %s: %s", impl.plugin_name, hook_name, exc)
                self.pm.unregister(name=impl.plugin_name)
            finally:
                registry._plugin = ""

    def report(self) -> list[dict[str, Any]]:
        return [info.as_dict() for info in self.plugins.values()]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0] if text else type(exc).__name__
