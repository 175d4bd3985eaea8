"""Which alerts a notifier sends, by its alert mode (shared by the Discord and apprise notifiers).

* ``all``: every detector alert, and the analyst's follow-up when ``followup`` is on;
* ``detector-only``: detector alerts only;
* ``analyst-signals-only``: only the follow-ups the analyst read as ``signal`` with at least the
  given confidence rank (``CONFIDENCE_ORDER``; -1 takes any).
"""

from __future__ import annotations

from trade_hunter.plugins.models import CONFIDENCE_ORDER, Alert

MODES = ("all", "detector-only", "analyst-signals-only")


def mode_wants(alert: Alert, mode: str, *, followup: bool, min_rank: int = -1) -> bool:
    if alert.kind == "detector":
        return mode in ("all", "detector-only")
    read = alert.read
    if read is None or read.status != "done" or mode == "detector-only":
        return False
    if mode == "all":
        return followup
    return read.noise_or_signal == "signal" and \
        CONFIDENCE_ORDER.get(read.confidence or "", -1) >= min_rank
