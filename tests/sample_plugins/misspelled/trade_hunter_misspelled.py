"""A third-party plugin with a misspelled hook name: a start-up error naming the plugin."""

from trade_hunter.plugins import hookimpl


@hookimpl
def th_register_feedz(registry):
    pass
