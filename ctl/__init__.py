"""trade_hunter.ctl — see docs/architecture.md."""

from __future__ import annotations

# The repository root is not an import root: importing this folder as plain `ctl` would load
# a second copy of the code (and collide with other distributions' top-level `ctl`).
if __name__ != "trade_hunter.ctl":
    raise ImportError(
        f"import this package as 'trade_hunter.ctl', not {__name__!r} (install the project)"
    )
