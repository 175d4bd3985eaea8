"""trade_hunter.web — see docs/architecture.md."""

from __future__ import annotations

# The repository root is not an import root: importing this folder as plain `web` would load
# a second copy of the code (and collide with other distributions' top-level `web`).
if __name__ != "trade_hunter.web":
    raise ImportError(
        f"import this package as 'trade_hunter.web', not {__name__!r} (install the project)"
    )
