"""Errors as the API promises them: ``{"error": ..., "detail": ..., "code": ...}`` with the right
status for ``/api/*``, a short friendly page elsewhere, never a stack trace."""

from __future__ import annotations

import html
import logging
from typing import Any

import msgspec
from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException

from trade_hunter.plugins.errors import PayloadError, RpcError

log = logging.getLogger("trade_hunter.web")

# RpcError codes (daemon/protocol.py ERRORS) → HTTP status.
RPC_STATUS: dict[str, int] = {
    "invalid_params": 422,
    "invalid_request": 400,
    "parse_error": 400,
    "method_not_found": 404,
    "unauthorized": 401,
    "not_available": 503,
    "shutting_down": 503,
    "line_too_long": 413,
    "internal_error": 500,
}

_encoder = msgspec.json.Encoder()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    """Encode with msgspec (models, dicts, lists); much faster than the stdlib provider."""
    return Response(_encoder.encode(data), status=status, headers=headers,
                    content_type="application/json")


def json_error(status: int, error: str, detail: Any = None, code: str | None = None,
               headers: dict[str, str] | None = None) -> Response:
    """The one error shape of the API (ingest routes use it too)."""
    body: dict[str, Any] = {"error": error, "detail": detail}
    if code:
        body["code"] = code
    return json_response(body, status, headers)


def wants_json() -> bool:
    path = request.path
    return path.startswith("/api/") or path in ("/openapi.json", "/metrics") or \
        request.accept_mimetypes.best == "application/json"


def page_error(status: int, title: str, message: str) -> Response:
    body = (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)} · Trade Hunter"
            f"</title><link rel=stylesheet href=/static/app.css><main class=page-error>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
            f"<p><a href=/>Back to the dashboard</a></p></main>")
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def install_error_handlers(app: Quart) -> None:
    @app.errorhandler(RpcError)
    async def rpc_error(exc: RpcError) -> Response:
        return json_error(RPC_STATUS.get(exc.code, 400), str(exc), exc.data, exc.code)

    @app.errorhandler(PayloadError)
    async def payload_error(exc: PayloadError) -> Response:
        return json_error(422, exc.message, exc.detail, "invalid_payload")

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        name = (exc.name or "error").lower()
        if wants_json():
            return json_error(status, name, exc.description, name.replace(" ", "_"))
        return page_error(status, exc.name or "Error", exc.description or "")

    @app.errorhandler(Exception)
    async def crash(exc: Exception) -> Response:
        # A bug: the traceback goes to the log, the client gets a generic message.
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        if wants_json():
            return json_error(500, "internal error",
                              "an unexpected error occurred; the daemon log has the details",
                              "internal_error")
        return page_error(500, "Something went wrong",
                          "An unexpected error occurred; the daemon log has the details.")
