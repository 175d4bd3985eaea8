"""The hooks Trade Hunter calls on its plugins.

Every hook is synchronous and only *registers* things: a hook runs once, at start-up, for each
plugin that implements it. Anything long-running or async is a method of a registered
component, which the daemon creates through the registered factory and runs under its
nursery and supervisor (a crashing component is restarted with backoff and reported).

Implement a hook with the same name and argument names in your plugin module::

    from trade_hunter.plugins import hookimpl

    @hookimpl
    def th_register_notifiers(registry):
        registry.add("jsonl", lambda ctx: JsonlNotifier(ctx.settings.JSONL_PATH))

Argument names must match the spec exactly (pluggy passes them by name); you may accept a
subset of them. An unknown ``th_*`` function in a plugin is a start-up error naming the plugin.
The same list, with examples, is in ``docs/plugins.md`` (a test keeps the two in step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .registry import ComponentRegistry, RelayRegistry, RpcRegistry, SettingsRegistry

PROJECT = "trade_hunter"
hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def th_add_settings(settings: SettingsRegistry) -> None:
    """Declare the plugin's own environment settings.

    :param settings: call ``settings.add(name, kind, default, help, secret=..., choices=...,
        minimum=..., maximum=...)`` with ``kind`` one of ``str``, ``int``, ``float``, ``bool``,
        ``choice``, ``path``, ``list``.

    Values are read from the environment and ``.env`` like the built-in ones, validated at
    start-up (a bad value stops it with one line naming the variable), and reach components as
    ``ctx.settings.NAME``. Mark keys, tokens and URLs with credentials ``secret=True``: they are
    then never logged, shown by an API or stored.
    """


@hookspec
def th_register_feeds(registry: ComponentRegistry) -> None:
    """Register feed types: sources of :class:`MarketEvent`.

    :param registry: call ``registry.add(name, factory, enabled=..., description=...,
        identifiers=...)``.

    ``factory(ctx)`` returns an object with ``async run(send_channel, *, task_status)`` (see
    :class:`~trade_hunter.plugins.Feed`), or ``None`` when not configured. ``enabled(settings)``
    decides whether the feed runs in this mode (the simulated feed runs only in simulation).

    ``identifiers=IdentifierSpec(validate, describe, seed_setting=None)`` makes the feed accept
    tracked identifiers: the daemon keeps a persisted watchlist per such feed, changed live by
    ``th-ctl add-ticker [--feed NAME] ID`` / ``remove-ticker``, ``tickers.add`` and
    ``POST /api/feeds/NAME/tracked`` (``--feed`` may be left out while only one loaded feed
    accepts identifiers). ``validate(raw)`` returns the normalised identifier or raises
    ``ValueError`` with a message (the caller gets it as a 4xx / ``invalid_params``). The
    component reads its own list as ``ctx.tickers``: ``list()``, ``await wait_changed()``, and
    reports how each resolved with ``set_status(id, status, detail, markets)``.
    """


@hookspec
def th_register_detectors(registry: ComponentRegistry) -> None:
    """Register detectors: ``process(event, state) -> SpikeSignal | None``.

    :param registry: call ``registry.add(name, factory)``; ``factory(ctx)`` returns a
        :class:`~trade_hunter.plugins.Detector`.

    ``process`` runs on the hot path for every event: it must be pure and fast (no I/O).
    Per-market ``state`` comes from ``new_state`` and is persisted by the daemon.
    """


@hookspec
def th_register_analysts(registry: ComponentRegistry) -> None:
    """Register analyst providers, tried in ``priority`` order (lowest first) with fallback.

    :param registry: call ``registry.add(name, factory, priority=...)``; ``factory(ctx)``
        returns an object with ``async analyze(signal) -> AnalystRead`` or ``None`` when not
        configured. Raise :class:`AnalystError` to hand the signal to the next provider.
    """


@hookspec
def th_register_notifiers(registry: ComponentRegistry) -> None:
    """Register notifiers: ``async notify(alert)``.

    :param registry: call ``registry.add(name, factory)``; ``factory(ctx)`` returns an object
        with ``async notify(alert)`` or ``None`` when not configured.

    Alerts reach a notifier through a durable outbox: raise :class:`NotifyError` to be retried
    later (with ``retry_after`` when known), :class:`PermanentNotifyError` to drop the alert.
    """


@hookspec
def th_register_relays(registry: RelayRegistry) -> None:
    """Register inbound ingest adapters served over HTTP.

    :param registry: call ``registry.add(Relay(name, path, parse, token_setting=...))``.

    ``parse(payload, headers)`` turns a decoded JSON body into a list of
    :class:`MarketEvent`, or raises :class:`PayloadError` (answered with 422 and its message).
    When ``token_setting`` names a non-empty setting, requests need ``Authorization: Bearer``.
    """


@hookspec
def th_register_rpc_methods(registry: RpcRegistry) -> None:
    """Register extra control methods, callable from ``th-ctl call`` and the JSON-RPC socket.

    :param registry: call ``registry.add("plugin.method", handler, params={...}, help=...)``.

    Names must be namespaced by the plugin (``kalshi.categories``). ``await handler(ctx,
    **params)`` returns JSON-able data; raise :class:`RpcError` to refuse a call.

    ``registry.route(verb, path, method, fixed={...}, help=...)`` serves an HTTP route under
    ``/api/`` with a control method (the plugin's own or a table one such as ``tickers.add``):
    ``GET`` parameters come from the query string, ``POST`` ones from a JSON object body,
    ``fixed`` ones from the route. It is validated, answered, documented in ``/openapi.json``
    and protected exactly like the built-in routes (an ``RpcError`` code maps to its status).
    """
