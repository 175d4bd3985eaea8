"""The built-in analyst providers.

Each module is its own plugin, registered by the daemon like a third-party one:

* ``anthropic`` — Claude through the ``anthropic`` SDK (forced tool use), tried first;
* ``perplexity`` — Perplexity chat completions over ``httpx`` (JSON-schema output), the fallback;
* ``heuristic`` — a local, rule-based read that needs no network, tried last, so simulation
  mode shows reads without credentials;

This package module is the ``analysts`` plugin: it declares the settings of the analyst queue
the daemon runs in front of the providers. ``common`` holds what the providers share: the
prompt, the answer schema and its validation. The local stand-ins for the Anthropic and
Perplexity APIs are test code: ``tests/fake_analysts.py``.
"""

from __future__ import annotations

from trade_hunter.plugins import SettingsRegistry, hookimpl


@hookimpl
def th_add_settings(settings: SettingsRegistry) -> None:
    settings.add("ANALYST_MAX_CALLS_PER_HOUR", "int", 60,
                 "Budget of paid analyst calls per hour; beyond it a signal gets a "
                 "'skipped: budget' read (0: no paid calls)", minimum=0, maximum=100000)
    settings.add("ANALYST_TIMEOUT_SECONDS", "float", 30.0,
                 "Deadline of one analyst provider call (then the next provider is tried)",
                 minimum=1, maximum=600)
    settings.add("ANALYST_CONCURRENCY", "int", 2,
                 "Signals analysed at the same time", minimum=1, maximum=32)
