"""Ingest routes: every relay registered through ``th_register_relays`` is served here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trade_hunter.daemon.app import Daemon


def register_ingest_routes(app: Any, daemon: Daemon) -> None:
    """Mount each relay of ``daemon.registries.relays`` at its path (filled by the ingest work)."""
