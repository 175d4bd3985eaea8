"""The plugin contract of Trade Hunter — the only module a third-party plugin imports.

* ``hookimpl`` marks hook implementations (the hooks are documented in ``hookspecs``);
* the models: :class:`MarketEvent` in, :class:`SpikeSignal` out, :class:`AnalystRead` on a
  signal, :class:`Alert` to notifiers;
* the registries and component protocols: :class:`Feed`, :class:`Detector`,
  :class:`Analyst`, :class:`Notifier`, :class:`Relay`, and the :class:`PluginContext`
  their factories receive;
* the errors a plugin raises to tell the daemon what happened;
* ``trade_hunter.plugins.testing`` has fakes (``ScriptedFeed``, ``RecordingNotifier``) for
  plugin tests.

The contract never imports the daemon.
"""

from __future__ import annotations

if __name__ != "trade_hunter.plugins":
    raise ImportError(
        f"import this package as 'trade_hunter.plugins', not {__name__!r} (install the project)"
    )

import pluggy

from .errors import (
    AnalystError,
    ConfigError,
    NotifyError,
    PayloadError,
    PermanentNotifyError,
    PluginError,
    RpcError,
)
from .hookspecs import PROJECT
from .models import (
    Alert,
    AnalystRead,
    EventBrief,
    MarketEvent,
    SignalContext,
    SpikeSignal,
    from_json,
    to_builtins,
    to_json,
)
from .registry import (
    Analyst,
    ComponentRegistry,
    Detector,
    Feed,
    HttpRoute,
    IdentifierSpec,
    Notifier,
    PluginContext,
    Relay,
    RelayRegistry,
    RpcRegistry,
    Setting,
    SettingsRegistry,
    TrackedTicker,
)

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a function in a plugin module as the implementation of a ``th_*`` hook."""

__all__ = [
    "PROJECT",
    "Alert",
    "Analyst",
    "AnalystError",
    "AnalystRead",
    "ComponentRegistry",
    "ConfigError",
    "Detector",
    "EventBrief",
    "Feed",
    "HttpRoute",
    "IdentifierSpec",
    "MarketEvent",
    "Notifier",
    "NotifyError",
    "PayloadError",
    "PermanentNotifyError",
    "PluginContext",
    "PluginError",
    "Relay",
    "RelayRegistry",
    "RpcError",
    "RpcRegistry",
    "Setting",
    "SettingsRegistry",
    "SignalContext",
    "SpikeSignal",
    "TrackedTicker",
    "from_json",
    "hookimpl",
    "to_builtins",
    "to_json",
]
