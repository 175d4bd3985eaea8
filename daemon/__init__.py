"""trade_hunter.daemon — see docs/architecture.md."""

from __future__ import annotations

# The repository root is not an import root: importing this folder as plain `daemon` would load
# a second copy of the code (and collide with other distributions' top-level `daemon`).
if __name__ != "trade_hunter.daemon":
    raise ImportError(
        f"import this package as 'trade_hunter.daemon', not {__name__!r} (install the project)"
    )
