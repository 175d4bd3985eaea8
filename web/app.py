"""The quart-trio app: JSON API and the dashboard."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from quart import jsonify
from quart_trio import QuartTrio

from trade_hunter.plugins.models import to_builtins

from .ingest import register_ingest_routes

if TYPE_CHECKING:
    from trade_hunter.daemon.app import Daemon


def state_payload(d: Daemon) -> dict[str, Any]:
    live = d.live
    s = d.settings
    since = time.time() - s.FRESHNESS_WINDOW_SECONDS if s.active_mode == "live" else None
    signals = [
        {**to_builtins(sig), "read": to_builtins(live.reads[sig.id])
         if sig.id in live.reads else None}
        for sig in live.recent_signals(limit=60)
    ]
    tape = [{**to_builtins(e.event), "spark": list(e.spark), "events": e.events,
             "signals": e.signals} for _, e in live.fresh_tape(since=since, limit=150)]
    flow = [to_builtins(e) for e in list(live.flow)[-80:]]
    return {
        "mode": s.active_mode,
        "generated_at": time.time(),
        "signals": signals,
        "flow": flow,
        "tape": tape,
        "feeds": [h for h in d.health.as_list() if h["kind"] == "feed"],
        "counters": live.summary(),
    }


def create_app(d: Daemon) -> QuartTrio:
    app = QuartTrio(__name__)

    @app.get("/api/health")
    async def health() -> Any:
        items = d.health.as_list()
        return jsonify({
            "mode": d.settings.active_mode,
            "feeds": [h for h in items if h["kind"] == "feed"],
            "components": [h for h in items if h["kind"] != "feed"],
            "retention": d.retention.status,
            "last_event_at": d.live.last_event_at,
        })

    @app.get("/api/state")
    async def state() -> Any:
        return jsonify(state_payload(d))

    register_ingest_routes(app, d)

    @app.get("/")
    async def index() -> Any:
        return "<!doctype html><title>Trade Hunter</title><p>Trade Hunter is running. " \
               "See <a href=/api/state>/api/state</a>.</p>"

    return app
