"""``GET /metrics``: the Prometheus exposition of ``daemon.metrics`` (its registry is one of
the web parts; text format, or
OpenMetrics when the scraper asks for it).

The route sits behind the same security layer as the API: with ``DASHBOARD_TOKEN`` set the
scraper sends ``Authorization: Bearer <token>`` (Prometheus: ``authorization`` in the scrape
config) and gets 401, not the login page, without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client.exposition import choose_encoder
from quart import Quart, Response, request
from quart_schema import hide

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

METRICS_PATH = "/metrics"


def register_metrics(app: Quart, registry: CollectorRegistry) -> None:

    @app.get(METRICS_PATH)
    @hide  # not JSON: described in the README, not in /openapi.json
    async def metrics() -> Response:
        """Prometheus metrics (text exposition format; OpenMetrics on request)"""
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encoder(registry), content_type=content_type)
