"""The JSON API routes.

The control-method routes are generated from ``daemon/protocol.py`` (every ``Method`` with an
``http`` route), and call the very handler ``th-ctl`` calls (``WebParts.call``); so a new
method in the table appears here, validated and documented, without touching this module.
Plugins' routes (``RpcRegistry.route``: ``/api/kalshi/categories``, the ``/api/kalshi/markets``
aliases) are mounted the same way: each names the control method that serves it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from quart import Quart, Response, request
from quart_schema import document_querystring, document_request, document_response

from trade_hunter.daemon import protocol
from trade_hunter.daemon.limits import text_problem
from trade_hunter.daemon.market_reads import FirstSeen

from . import schemas
from .errors import json_error, json_response
from .state import STATE_SIGNALS, health_payload, state_payload

if TYPE_CHECKING:
    from trade_hunter.plugins.registry import RpcRegistry

    from .parts import WebParts

log = logging.getLogger(__name__)
Handler = Callable[..., Awaitable[Response]]
Call = Callable[[str, dict[str, Any] | None], Awaitable[Any]]
PATH_PARAM = re.compile(r"\{(\w+)\}")


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


def method_view(call: Call, method: protocol.Method, verb: str, path: str,
                fixed: dict[str, Any] | None = None, help: str = "") -> Handler:
    """The route of one control method: validate with its schema, then ``call`` it.
    ``{name}`` segments of ``path`` and ``fixed`` set parameters the client does not send."""
    fixed = dict(fixed or {})
    in_path = set(PATH_PARAM.findall(path))
    model = schemas.params_struct(method, exclude=in_path | set(fixed))

    async def view(**path_params: str) -> Response:
        params = read_query(model) if verb == "GET" else await read_body(model)
        return json_response(await call(
            method.name, {**_fields(params), **path_params, **fixed}))

    view.__name__ = f"rpc_{method.handler_name}_{verb.lower()}_{_slug(path)}"
    view.__doc__ = help or method.help
    if verb == "GET":
        document_querystring(model)(view)
    else:
        document_request(model)(view)
    document_response(schemas.RESULTS.get(method.name, schemas.ObjectResult))(view)
    _document_errors(view)
    return view


def plugin_method(rpc: RpcRegistry, name: str) -> protocol.Method:
    """A table-like entry of a plugin's control method (all parameters optional strings)."""
    table = protocol.BY_NAME.get(name)
    if table is not None:
        return table
    method = rpc.items[name]
    return protocol.Method(name, method.help, tuple(protocol.Param(p, help=text)
                                                   for p, text in method.params.items()))


def quart_path(path: str) -> str:
    return PATH_PARAM.sub(r"<\1>", path)


def _slug(path: str) -> str:
    return re.sub(r"\W+", "_", path).strip("_")


def _document_errors(view: Any) -> None:
    for status in (400, 401, 403, 413, 415, 422, 503):
        document_response(schemas.ErrorBody, status)(view)


def register_api(app: Quart, d: WebParts) -> None:
    first_seen = FirstSeen(d.store)  # when each market's history starts (signal cards)

    @app.errorhandler(BadRequest)
    async def bad_request(exc: BadRequest) -> Response:
        return json_error(exc.status, exc.message, exc.detail, "invalid_params")

    for method in protocol.METHODS:
        if method.http is None:
            continue
        verb, path = method.http
        view = method_view(d.call, method, verb, path)
        app.add_url_rule(quart_path(path), view.__name__, view, methods=[verb])
    @app.get("/api/state")
    @document_response(schemas.StateResult)
    async def state() -> Response:
        """Everything the dashboard shows, from bounded in-memory windows."""
        markets = [s.market_id for s in d.live.recent_signals(limit=STATE_SIGNALS)]
        known = await trio.to_thread.run_sync(first_seen.lookup, markets)
        return json_response(state_payload(d, known))

    @app.get("/api/health")
    @document_response(schemas.HealthResult)
    async def health() -> Response:
        """Feed health, component health (state, restarts, last error), retention status."""
        return json_response(health_payload(d))

    for view in (state, health):
        _document_errors(view)
    mount_plugin_routes(app, d.call, d.rpc)


def mount_plugin_routes(app: Quart, call: Call, rpc: RpcRegistry) -> None:
    """Serve each plugin route with its control method. A route that cannot work (an unknown
    method or fixed parameter, a path already served) is logged and left out: a plugin's
    mistake never stops the dashboard."""
    taken = {(r.rule, verb) for r in app.url_map.iter_rules() for verb in r.methods or ()}
    for route in rpc.routes.values():
        problem = ""
        if route.method not in protocol.BY_NAME and route.method not in rpc.items:
            problem = f"calls an unknown method {route.method!r}"
        elif (route.path, route.verb) in taken:
            problem = "is already served"
        else:
            method = plugin_method(rpc, route.method)
            unknown = sorted(set(route.fixed) - {p.name for p in method.params})
            if unknown:
                problem = f"fixes unknown parameter(s) {', '.join(unknown)}"
        if problem:
            log.warning("plugin %s: route %s %s %s; not served", route.plugin, route.verb,
                        route.path, problem)
            continue
        view = method_view(call, method, route.verb, route.path, dict(route.fixed), route.help)
        app.add_url_rule(route.path, view.__name__, view, methods=[route.verb])
        taken.add((route.path, route.verb))
