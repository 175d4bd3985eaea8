"""The control method table: one source for the JSON-RPC dispatcher, th-ctl and the web API.

Standard library only: ``th-ctl`` imports this module and must start fast without the daemon's
dependencies.

Each :class:`Method` says

* ``name`` — the JSON-RPC method; the daemon's handler is ``Service.<name with . → _>``;
* ``params`` — its parameters (validated and converted before the handler runs);
* ``cli`` — the ``th-ctl`` command (``None``: only through ``th-ctl call``);
* ``http`` — ``(verb, path)`` of the web route that calls the same handler, if any;
* ``help`` — one line, shown by ``th-ctl --help`` and in the README.

Wire format: newline-delimited JSON-RPC 2.0 over the control socket (one request per line,
at most ``MAX_LINE`` bytes; one answer line per request; batches and notifications as in the
JSON-RPC spec). Parameters are named (an object). Errors carry a numeric ``code`` and
``data.name`` from :data:`ERRORS`. On the TCP transport every request also carries
``"auth": "<token>"`` (the token is in the daemon's user-only endpoint file). Where to connect:
``trade_hunter.ctl.client``; the server: ``trade_hunter.daemon.control``.

Adding a method: append a :class:`Method` to :data:`METHODS` and write
``Service.<handler_name>``; ``th-ctl`` gets the command and its help from the entry, and
``tests/ctl/test_table.py`` checks the handler exists and the README documents it
(``th-ctl --readme`` prints the README's command table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .limits import MAX_PARAM, text_problem

MAX_LINE = 64 * 1024

ERRORS: dict[str, int] = {
    "parse_error": -32700,        # the line is not JSON
    "invalid_request": -32600,    # not a JSON-RPC 2.0 request object
    "method_not_found": -32601,
    "invalid_params": -32602,
    "internal_error": -32603,     # a bug: logged with its traceback by the daemon
    "line_too_long": -32001,      # the request line exceeds MAX_LINE
    "unauthorized": -32002,       # missing or wrong token (TCP transport)
    "not_available": -32003,      # the plugin behind the method is not running
    "shutting_down": -32004,
}


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "str"            # str | int | float | bool
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    default: Any = None


@dataclass(frozen=True)
class Method:
    name: str
    help: str
    params: tuple[Param, ...] = ()
    cli: str | None = None
    http: tuple[str, str] | None = None
    mutating: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def handler_name(self) -> str:
        return self.name.replace(".", "_")


METHODS: tuple[Method, ...] = (
    Method("status", "Mode, uptime, version, feed and component health, counters, tickers",
           cli="status"),
    Method("tickers.list", "Tracked Kalshi tickers with their resolution status",
           cli="tickers", http=("GET", "/api/kalshi/markets")),
    Method("tickers.add", "Track a Kalshi series, event or market ticker (live, persisted)",
           (Param("ticker", required=True, help="e.g. KXBTC15M"),),
           cli="add-ticker", http=("POST", "/api/kalshi/markets"), mutating=True),
    Method("tickers.remove", "Stop tracking a ticker",
           (Param("ticker", required=True, help="a tracked ticker"),),
           cli="remove-ticker", http=("POST", "/api/kalshi/markets/remove"), mutating=True),
    Method("signals.list", "Recent signals with their analyst reads",
           (Param("sort", choices=("newest", "score"), default="newest", help="order"),
            Param("limit", "int", default=20, help="how many (1-500)"),
            Param("topic", help="only this topic"),
            Param("tier", help="only this tier")),
           cli="signals", http=("GET", "/api/signals")),
    Method("plugins.list", "Loaded and failed plugins with versions and hooks", cli="plugins"),
    Method("demo.spike", "Inject a synthetic spike through the real pipeline",
           (Param("market_id", help="a market to spike (default: a demo market)"),),
           cli="demo-spike", http=("POST", "/api/demo/spike"), mutating=True),
    Method("tuning.show", "Tuning advisor: false-positive patterns and backlog suggestions",
           cli="tuning", http=("GET", "/api/tuning")),
    Method("tuning.run", "Run the tuning advisor now (replay-backed threshold suggestions)",
           cli="tuning-run", http=("POST", "/api/tuning/run"), mutating=True),
    Method("tuning.apply", "Apply a tuning suggestion to the running detector (persisted)",
           (Param("id", required=True, help="a backlog id, e.g. TB-001"),),
           cli="tuning-apply", http=("POST", "/api/tuning/apply"), mutating=True),
    Method("shutdown", "Stop the daemon gracefully",
           (Param("pid", "int", help="only if the daemon's pid is this one (used by the "
                                     "replace path)"),),
           cli="stop", mutating=True),
)

BY_NAME: dict[str, Method] = {m.name: m for m in METHODS}


class ParamError(ValueError):
    """A parameter is missing, unknown or of the wrong type (→ ``invalid_params``)."""


def convert_params(method: Method, params: dict[str, Any]) -> dict[str, Any]:
    """Check and convert ``params`` (JSON values or CLI strings) for ``method``."""
    known = {p.name: p for p in method.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ParamError(f"{method.name}: unknown parameter(s) {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for p in method.params:
        if p.name not in params or params[p.name] is None:
            if p.required:
                raise ParamError(f"{method.name}: missing parameter {p.name!r}")
            if p.default is not None:
                out[p.name] = p.default
            continue
        out[p.name] = _convert(method, p, params[p.name])
    return out


def _convert(method: Method, p: Param, value: Any) -> Any:
    where = f"{method.name}: parameter {p.name!r}"
    if p.type == "int":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ParamError(f"{where} must be an integer")
        try:
            value = int(value)
        except ValueError:
            raise ParamError(f"{where} must be an integer, not {value!r}") from None
    elif p.type == "float":
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ParamError(f"{where} must be a number, not {value!r}") from None
    elif p.type == "bool":
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            value = value.lower() in ("true", "1")
        if not isinstance(value, bool):
            raise ParamError(f"{where} must be true or false")
    elif not isinstance(value, str):
        raise ParamError(f"{where} must be a string")
    else:
        problem = text_problem(value, MAX_PARAM)
        if problem:
            raise ParamError(f"{where}: {problem}")
    if p.choices and value not in p.choices:
        raise ParamError(f"{where} must be one of {', '.join(p.choices)}")
    return value
