"""Vendor signals: a relayed alert (``event_kind`` ``alert``, or any alert with an
``alert_type``) is stored as a signal of its own beside our detector's, so the dashboard,
the notifiers and the analyst treat it like ours and the outcomes can grade both.

It carries what the service said (:class:`VendorAlert`: type, trader, metadata), the market's
title and price when known, ``rule`` and ``detector`` ``vendor``, and ``source`` the relay.
Its score fields are zero: the service did not score it by our rules. The event itself still
goes through the detector (it may also fire a signal of ours when it carries volume)."""

from __future__ import annotations

from typing import Final

from trade_hunter.plugins.models import MarketEvent, SignalContext, SpikeSignal, VendorAlert

from .enrichment import signal_topic

VENDOR: Final = "vendor"
_OWN = ("alert_type", "trader", "event_kind")  # on the VendorAlert itself, not its metadata


def is_vendor_alert(event: MarketEvent) -> bool:
    meta = event.metadata
    return bool(meta) and (meta.get("event_kind") == "alert" or bool(meta.get("alert_type")))


def vendor_signal(event: MarketEvent) -> SpikeSignal | None:
    """The vendor signal of a relayed alert, or ``None`` for any other event."""
    if not is_vendor_alert(event):
        return None
    meta = event.metadata
    trader = meta.get("trader")
    volume = event.volume if event.volume is not None and event.volume_kind == "delta" else 0.0
    return SpikeSignal(
        market_id=event.market_id, platform=event.platform, title=event.title,
        topic=signal_topic(event),  # the pipeline completed the event (daemon/enrichment.py)
        source=event.source, tier="watch", score=0.0, rule=VENDOR, volume_delta=volume,
        baseline=0.0, volume_multiple=0.0, price_move=0.0, price_score=0.0, direction="flat",
        yes_price=event.yes_price, event=event, context=SignalContext(), detector=VENDOR,
        created_at=event.timestamp,
        vendor=VendorAlert(alert_type=str(meta.get("alert_type") or "alert"),
                           trader=str(trader) if trader is not None else None,
                           metadata={k: v for k, v in meta.items() if k not in _OWN}))
