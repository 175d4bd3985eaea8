"""Read access to the store, as the store-owned read modules take it.

``Store.query`` runs a query on the calling worker thread's own connection (WAL: readers
never wait for the writer). The read modules (``market_reads``, ``market_rollup``,
``signal_history``) need nothing else, so they accept anything that has it: the web layer
hands them the store it was given without naming the store's class.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol


class Reader(Protocol):
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]: ...
