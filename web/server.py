"""Serve the web app with hypercorn inside the daemon's nursery."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio
from hypercorn.config import Config

from .app import create_app
from .bind import check_bind
from .http_server import serve

if TYPE_CHECKING:
    from .parts import WebParts


async def serve_web(parts: WebParts, host: str, port: int, *,
                    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve until cancelled; ``task_status.started(binds)`` once listening."""
    check_bind(parts.settings)  # the CLI checked already; in-process daemons too
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("trade_hunter.web")
    config.graceful_timeout = 2.0
    await serve(create_app(parts), config, parts.settings.HTTP_MAX_CONNECTIONS,
                task_status=task_status)
