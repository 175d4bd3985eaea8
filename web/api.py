"""The JSON API routes.

The control-method routes are generated from ``daemon/protocol.py`` (every ``Method`` with an
``http`` route), and call the very handler ``th-ctl`` calls, ``daemon.service.call``; so a new
method in the table appears here, validated and documented, without touching this module.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from quart import Quart, Response, request
from quart_schema import document_querystring, document_request, document_response

from trade_hunter.daemon import protocol
from trade_hunter.daemon.limits import text_problem

from . import schemas
from .errors import json_error, json_response
from .state import health_payload, state_payload

if TYPE_CHECKING:
    from trade_hunter.daemon.app import Daemon

Handler = Callable[..., Awaitable[Response]]
KALSHI_CATEGORIES = "kalshi.categories"


class BadRequest(Exception):
    """A body or query string that does not match its schema (→ 400 or 422)."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        self.status, self.message, self.detail = status, message, detail
        super().__init__(message)


async def read_body(model: type[msgspec.Struct]) -> Any:
    """Decode and validate the JSON body with ``model`` (an empty body is ``{}``)."""
    raw = await request.get_data(as_text=False)
    try:
        return msgspec.json.decode(raw or b"{}", type=model)
    except msgspec.ValidationError as exc:
        raise BadRequest(422, "invalid request body", str(exc)) from None
    except msgspec.DecodeError as exc:
        unstorable = _unstorable_text(raw)  # valid JSON that msgspec refuses: name the field
        if unstorable:
            raise BadRequest(422, "invalid request body", unstorable) from None
        raise BadRequest(400, "malformed JSON body", str(exc)) from None


def _unstorable_text(raw: str | bytes) -> str | None:
    """The member of a JSON object body whose string is not valid Unicode (a lone surrogate
    escape such as ``"\\ud800"``), or None."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    for key, value in body.items():
        if isinstance(value, str) and text_problem(value, len(value)):
            return f"{ascii(key)[1:-1]}: {text_problem(value, len(value))}"
    return None


def read_query(model: type[msgspec.Struct]) -> Any:
    """Validate the query string with ``model`` (values converted from strings)."""
    args: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        if len(values) > 1:
            raise BadRequest(422, "invalid query string", f"{key!r} is given more than once")
        args[key] = values[0]
    try:
        return msgspec.convert(args, model, strict=False)
    except msgspec.ValidationError as exc:
        raise BadRequest(422, "invalid query string", str(exc)) from None


def _fields(obj: msgspec.Struct) -> dict[str, Any]:
    return {k: v for k, v in msgspec.structs.asdict(obj).items() if v is not None}


def method_view(d: Daemon, method: protocol.Method) -> Handler:
    """The route of one control method: validate with its schema, then ``service.call``."""
    verb = method.http[0] if method.http else "GET"
    model = schemas.params_struct(method)

    async def view() -> Response:
        params = read_query(model) if verb == "GET" else await read_body(model)
        return json_response(await d.service.call(method.name, _fields(params)))

    view.__name__ = "rpc_" + method.handler_name
    view.__doc__ = method.help
    if verb == "GET":
        document_querystring(model)(view)
    else:
        document_request(model)(view)
    document_response(schemas.RESULTS.get(method.name, schemas.ObjectResult))(view)
    _document_errors(view)
    return view


def _document_errors(view: Any) -> None:
    for status in (400, 401, 403, 413, 415, 422, 503):
        document_response(schemas.ErrorBody, status)(view)


def register_api(app: Quart, d: Daemon) -> None:
    @app.errorhandler(BadRequest)
    async def bad_request(exc: BadRequest) -> Response:
        return json_error(exc.status, exc.message, exc.detail, "invalid_params")

    for method in protocol.METHODS:
        if method.http is None:
            continue
        verb, path = method.http
        app.add_url_rule(path, f"rpc_{method.handler_name}", method_view(d, method),
                         methods=[verb])

    @app.get("/api/state")
    @document_response(schemas.StateResult)
    async def state() -> Response:
        """Everything the dashboard shows, from bounded in-memory windows."""
        return json_response(state_payload(d))

    @app.get("/api/health")
    @document_response(schemas.HealthResult)
    async def health() -> Response:
        """Feed health, component health (state, restarts, last error), retention status."""
        return json_response(health_payload(d))

    @app.get("/api/kalshi/categories")
    @document_querystring(schemas.CategoriesQuery)
    @document_response(schemas.ObjectResult)
    async def kalshi_categories() -> Response:
        """Kalshi markets in a category (served by the Kalshi plugin)."""
        query = read_query(schemas.CategoriesQuery)
        if KALSHI_CATEGORIES not in d.registries.rpc.items:
            return json_error(503, "the Kalshi plugin is not available",
                              "category search is served by the Kalshi plugin, which is not "
                              "loaded (installed, enabled, not in DISABLED_PLUGINS)",
                              "not_available")
        return json_response(await d.service.call(KALSHI_CATEGORIES, {"q": query.q}))

    for view in (state, health, kalshi_categories):
        _document_errors(view)
