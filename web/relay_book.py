"""What each mounted relay route has seen: deliveries, accepted events, duplicates and errors
by kind, with the time of the last delivery and of the last error. The web layer records
into it (the plugins' shared ``extras["relay_book"]``); ``th-ctl relays`` (``relays.list``) reads it.
Counters are in memory: they start at zero with the daemon."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RouteStats:
    name: str
    path: str
    auth: str
    """How a request proves itself: ``bearer SETTING``, ``hmac HEADER (SETTING)``, ``open``."""
    origin: str
    """``built-in``, ``RELAYS_FILE`` or the plugin that registered it."""
    deliveries: int = 0
    accepted: int = 0
    duplicates: int = 0
    last_delivery: float | None = None
    errors: dict[str, int] = field(default_factory=dict)
    """Refused requests by error code (``unauthorized``, ``invalid_payload``, ``busy`` …)."""
    last_error: str = ""
    last_error_at: float | None = None

    def delivered(self, accepted: int, duplicates: int) -> None:
        self.deliveries += 1
        self.accepted += accepted
        self.duplicates += duplicates
        self.last_delivery = time.time()

    def refused(self, code: str, message: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1
        self.last_error, self.last_error_at = f"{code}: {message}"[:200], time.time()


class RelayBook:
    def __init__(self) -> None:
        self.routes: dict[str, RouteStats] = {}

    def route(self, name: str, path: str, auth: str, origin: str) -> RouteStats:
        """The record of a route (kept when the app is built again for the same daemon)."""
        stats = self.routes.get(name)
        if stats is None or stats.path != path:
            stats = self.routes[name] = RouteStats(name, path, auth, origin)
        stats.auth, stats.origin = auth, origin
        return stats

    def as_list(self) -> list[dict[str, Any]]:
        return [asdict(s) | {"error_count": sum(s.errors.values())}
                for s in sorted(self.routes.values(), key=lambda s: s.path)]
