"""The control method table: one source for the JSON-RPC dispatcher, th-ctl and the web API.

Standard library only: ``th-ctl`` imports this module and must start fast without the daemon's
dependencies.

Each :class:`Method` says

* ``name`` — the JSON-RPC method; the daemon's handler is ``Service.<name with . → _>``;
* ``params`` — its parameters (validated and converted before the handler runs);
* ``cli`` — the ``th-ctl`` command (``None``: only through ``th-ctl call``);
* ``http`` — ``(verb, path)`` of the web route that calls the same handler, if any; a
  ``{name}`` segment of the path is that parameter (``/api/feeds/{feed}/tracked``);
* ``help`` — one line, shown by ``th-ctl --help`` and in the README.

Wire format: newline-delimited JSON-RPC 2.0 over the control socket (one request per line,
at most ``MAX_LINE`` bytes; one answer line per request; batches and notifications as in the
JSON-RPC spec). Parameters are named (an object). Errors carry a numeric ``code`` and
``data.name`` from :data:`ERRORS`. On the TCP transport every request also carries
``"auth": "<token>"`` (the token is in the daemon's user-only endpoint file).

This module is the whole protocol and nothing else: the method table, the encoding and
decoding of requests and answers, the line framing, and where a daemon publishes its endpoint
(``<home>/control/endpoint.json``). It does no I/O; the sockets are the server's
(``trade_hunter.daemon.control``) and the clients' (``trade_hunter.ctl.client``, and
``trade_hunter.daemon.instance`` asking a running daemon to step down).

Adding a method: append a :class:`Method` to :data:`METHODS` and write
``Service.<handler_name>``; ``th-ctl`` gets the command and its help from the entry, and
``tests/ctl/test_table.py`` checks the handler exists and the README documents it
(``th-ctl --readme`` prints the README's command table).
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .limits import MAX_PARAM, text_problem

MAX_LINE = 64 * 1024                # a request line (the server answers line_too_long)
MAX_RESPONSE = 64 * 1024 * 1024     # an answer line this large is a bug, not data

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


SCORECARD_GROUPS = ("tier", "rule", "topic", "source", "market", "analyst_label",
                    "analyst_confidence", "all")
"""``trade_hunter.outcomes.scorecard.GROUPS`` (repeated: this module is standard library only)."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "str"            # str | int | float | bool
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    default: Any = None
    aliases: tuple[str, ...] = ()
    """Extra ``th-ctl`` flags for an option (``--by`` for ``--group-by``)."""


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


_FEED = Param("feed", help="the feed whose list it is (default: the only loaded feed that "
                           "accepts identifiers)")

METHODS: tuple[Method, ...] = (
    Method("status", "Mode, uptime, version, feed and component health, counters, tickers",
           cli="status"),
    Method("tickers.list", "Tracked identifiers (tickers) per feed, with their resolution status",
           (Param("feed", help="only this feed's"),),
           cli="tickers", http=("GET", "/api/feeds/{feed}/tracked")),
    Method("tickers.add", "Track an identifier of a feed, e.g. a Kalshi series, event or market "
           "ticker (live, persisted)",
           (Param("ticker", required=True, help="e.g. KXBTC15M"), _FEED),
           cli="add-ticker", http=("POST", "/api/feeds/{feed}/tracked"), mutating=True),
    Method("tickers.remove", "Stop tracking an identifier",
           (Param("ticker", required=True, help="a tracked identifier"), _FEED),
           cli="remove-ticker", http=("POST", "/api/feeds/{feed}/tracked/remove"),
           mutating=True),
    Method("feeds.search", "Search a feed's venue for markets to track, by category or tag "
           "(empty q: the names to search)",
           (Param("feed", required=True, help="the feed whose venue to search, e.g. polymarket"),
            Param("q", default="", help="a category or tag, e.g. Crypto"),
            Param("limit", "int", default=100, help="most results (1-1000)")),
           cli="search", http=("GET", "/api/feeds/{feed}/search")),
    Method("pairs.list", "Cross-venue pairs of equivalent markets, with their side mapping",
           cli="pairs", http=("GET", "/api/pairs")),
    Method("pairs.add", "Pair two equivalent markets on two venues; b may end in :yes (YES is "
           "YES) or :no (YES of a is NO of b)",
           (Param("a", required=True, help="market a, e.g. KXFEDDECISION-26DEC-C25"),
            Param("b", required=True, help="market b[:yes|:no], e.g. fed-cut-25-bps-december:yes"),
            Param("a_platform", help="venue of a (default: the first feed that takes "
                  "identifiers, kalshi among the built-ins)"),
            Param("b_platform", help="venue of b (default: the second such feed, polymarket)")),
           cli="pair-add", http=("POST", "/api/pairs"), mutating=True),
    Method("pairs.remove", "Remove a cross-venue pair",
           (Param("id", required=True, help="the pair's id (th-ctl pairs)"),),
           cli="pair-remove", http=("POST", "/api/pairs/remove"), mutating=True),
    Method("pairs.suggest", "Suggested pairs by title similarity, for review (never applied)",
           (Param("limit", "int", default=20, help="how many (1-200)"),),
           cli="pair-suggest", http=("GET", "/api/pairs/suggest")),
    Method("signals.list", "Recent signals with their analyst reads (stored ones with "
           "--since/--until/--market/--outcome)",
           (Param("sort", choices=("newest", "score"), default="newest", help="order"),
            Param("limit", "int", default=20, help="how many (1-500)"),
            Param("topic", help="only this topic"),
            Param("tier", help="only this tier"),
            Param("since", help="stored signals from this time: epoch seconds or ISO 8601"),
            Param("until", help="stored signals before this time: epoch seconds or ISO 8601"),
            Param("market", help="only this market (stored signals)"),
            Param("csv", "bool", help="CSV rows (the /api/signals.csv columns)"),
            Param("unread", "bool", help="only signals not acknowledged"),
            Param("outcome", choices=("continued", "reversed", "flat", "moved", "no data",
                                      "pending"),
                  help="only signals with this outcome at --horizon (stored signals)"),
            Param("horizon", choices=("1m", "5m", "15m", "60m"),
                  help="the horizon of --outcome (default 5m)")),
           cli="signals", http=("GET", "/api/signals")),
    # The alert workflow (daemon/alert_methods.py)
    Method("signals.ack", "Acknowledge signals: marked read everywhere",
           (Param("ids", required=True, help="signal ids (space or comma separated), or all"),),
           cli="ack", http=("POST", "/api/signals/ack"), mutating=True),
    Method("snooze.add", "Snooze a market, event or series: stored, not sent to notifiers",
           (Param("target", required=True, help="a ticker, e.g. KXBTC15M"),
            Param("duration", required=True, help="e.g. 30m, 2h, 1d"),
            Param("comment", help="why")),
           cli="snooze", http=("POST", "/api/snoozes"), mutating=True),
    Method("silence.add", "Silence alerts matching name=value matchers (ANDed; globs)",
           (Param("matchers", required=True,
                  help="topic=, market=, tier=, source=, rule= (e.g. topic=crypto)"),
            Param("duration", default="2h", help="how long, e.g. 30m, 2h, 1d"),
            Param("comment", help="why")),
           cli="silence-add", http=("POST", "/api/silences"), mutating=True),
    Method("silence.list", "Silences and snoozes, active and recently expired; muted counts",
           cli="silence-list", http=("GET", "/api/silences")),
    Method("silence.expire", "End a silence or snooze now (kept in the list)",
           (Param("id", "int", required=True, help="a silence id"),),
           cli="silence-expire", http=("POST", "/api/silences/expire"), mutating=True),
    Method("silence.delete", "Delete a silence or snooze",
           (Param("id", "int", required=True, help="a silence id"),),
           cli="silence-delete", http=("POST", "/api/silences/delete"), mutating=True),
    Method("notify.test", "Send a marked test message through each notifier; its answer",
           (Param("notifier", help="only this notifier (default: every one)"),),
           cli="notify-test", http=("POST", "/api/notify/test"), mutating=True),
    Method("digest.run", "The daily digest: print it (--dry-run, the default) or send it now",
           (Param("now", "bool", help="send it to every notifier now"),
            Param("dry_run", "bool", help="only print it")),
           cli="digest", http=("POST", "/api/digest"), mutating=True),
    Method("alerts.state", "Read and muted live signals, silences, unread and muted counts",
           http=("GET", "/api/alert-state")),
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
    Method("scorecard", "How the signals did: outcomes per horizon against the time-matched "
                        "baseline, the lift with its bootstrap interval, settlement and analyst scores",
           (Param("since", help="from this signal time: epoch seconds, an ISO date/time (UTC) "
                                "or an age like 24h, 7d"),
            Param("until", help="before this signal time (same forms as since)"),
            Param("group_by", choices=SCORECARD_GROUPS, default="tier", aliases=("--by",),
                  help="group the signals by")),
           cli="scorecard", http=("GET", "/api/scorecard")),
    Method("tuning.reject", "Reject a tuning suggestion (recorded in the backlog)",
           (Param("id", required=True, help="a backlog id, e.g. TB-001"),),
           cli="tuning-reject", http=("POST", "/api/tuning/reject"), mutating=True),
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


# ---------------------------------------------------------------------- the endpoint
# A running daemon describes its control endpoint in <home>/control/endpoint.json (mode 0600,
# inside the 0700 control folder):
#     {"transport": "unix", "path": "<socket>", "pid": 123, "home": "...", ...}
#     {"transport": "tcp", "host": "127.0.0.1", "port": 50123, "token": "...", "pid": 123, ...}
# The file can outlive a daemon killed with kill -9: a refused connection then means "not
# running", and the next daemon on that home replaces the file.
CONTROL_DIR = "control"
ENDPOINT_FILE = "endpoint.json"
SOCKET_NAME = "control.sock"   # in the control folder, unless that path is too long
TOKEN_MEMBER = "auth"          # the request member carrying the TCP transport's token


def control_dir(home: Path) -> Path:
    return home / CONTROL_DIR


def endpoint_path(home: Path) -> Path:
    return control_dir(home) / ENDPOINT_FILE


def parse_endpoint(text: str) -> dict[str, Any]:
    """The endpoint file's content; ``ValueError`` saying what is wrong with it."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("transport") not in ("unix", "tcp"):
        raise ValueError("not a control endpoint (no unix/tcp transport)")
    return data


def new_token() -> str:
    """A fresh 256-bit token for the TCP transport."""
    return secrets.token_urlsafe(32)


def token_matches(given: Any, token: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), token.encode())


# ---------------------------------------------------------------------- framing
class LineTooLong(ValueError):
    """More than the allowed bytes arrived without a newline."""


def take_line(buffer: bytearray, limit: int) -> bytes | None:
    """Remove and return the first complete line of ``buffer`` (without its newline), or
    ``None`` while it has none; ``LineTooLong`` once it cannot fit in ``limit`` bytes."""
    end = buffer.find(b"\n")
    if 0 <= end <= limit:
        line = bytes(buffer[:end])
        del buffer[:end + 1]
        return line
    if end > limit or len(buffer) > limit:
        raise LineTooLong(f"line longer than {limit} bytes")
    return None


# ---------------------------------------------------------------------- the client's side
class CallError(Exception):
    """The daemon answered with a JSON-RPC error; ``name`` is a key of :data:`ERRORS`."""

    def __init__(self, code: int, name: str, message: str, data: Any = None) -> None:
        self.code, self.name, self.message, self.data = code, name, message, data
        super().__init__(message)


class ProtocolError(Exception):
    """The peer did not answer like a Trade Hunter daemon (closed early, not JSON, timeout)."""


def encode_request(request_id: int, method: str, params: Mapping[str, Any] | None = None,
                   token: str | None = None) -> bytes:
    """One request line; ``CallError(line_too_long)`` if the daemon would refuse it."""
    request: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method,
                               "params": dict(params or {})}
    if token is not None:
        request[TOKEN_MEMBER] = token
    line = json.dumps(request, separators=(",", ":")).encode() + b"\n"
    if len(line) > MAX_LINE:
        raise CallError(ERRORS["line_too_long"], "line_too_long",
                        f"the request is longer than {MAX_LINE} bytes")
    return line


def decode_response(raw: bytes, request_id: int) -> Any:
    """The result of an answer line; ``CallError`` for an error answer, ``ProtocolError``
    for anything that is not a JSON-RPC 2.0 answer to ``request_id``."""
    try:
        reply = json.loads(raw)
    except ValueError:
        raise ProtocolError("the answer is not JSON") from None
    if not isinstance(reply, dict) or reply.get("jsonrpc") != "2.0":
        raise ProtocolError("the answer is not a JSON-RPC 2.0 response")
    error = reply.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise ProtocolError("malformed error object")
        data = error.get("data")
        name = data.get("name") if isinstance(data, dict) else None
        code = error.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            code = ERRORS["internal_error"]
        raise CallError(code, name or _name_of(code), str(error.get("message", "")), data)
    if reply.get("id") != request_id:
        raise ProtocolError("the answer does not match the request id")
    return reply.get("result")


def _name_of(code: int) -> str:
    for name, value in ERRORS.items():
        if value == code:
            return name
    return "error"


# ---------------------------------------------------------------------- the server's side
@dataclass(frozen=True)
class Request:
    id: Any
    method: str
    params: dict[str, Any]
    notification: bool   # no "id": nothing is answered


class RequestError(Exception):
    """A request answered with an error instead of a call.

    ``answer`` is ``None`` for a notification (never answered); ``close``: the connection must
    be closed after the answer (a wrong token)."""

    def __init__(self, answer: bytes | None, close: bool = False) -> None:
        self.answer, self.close = answer, close
        super().__init__("request refused")


def decode_line(line: bytes) -> tuple[list[Any], bool]:
    """A request line → its messages and whether they came as a batch; ``RequestError`` when
    the line is not JSON or is an empty batch."""
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(encode_error(None, "parse_error", f"not JSON: {exc}")) from None
    except RecursionError:  # "[[[[…" nested deeper than the parser's stack
        raise RequestError(encode_error(None, "parse_error",
                                        "not JSON: nested too deeply")) from None
    if isinstance(message, list):  # a JSON-RPC batch
        if not message:
            raise RequestError(encode_error(None, "invalid_request", "empty batch"))
        return message, True
    return [message], False


def decode_request(message: Any, token: str | None) -> Request:
    """One decoded message → a :class:`Request`, or ``RequestError`` with the answer."""
    request_id = message.get("id") if isinstance(message, dict) else None
    if not _valid_id(request_id):
        request_id = None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or \
            not isinstance(message.get("method"), str) or not _valid_id(message.get("id")):
        raise RequestError(encode_error(request_id, "invalid_request",
                                        "expected a JSON-RPC 2.0 request object"))
    if token is not None and not token_matches(message.get(TOKEN_MEMBER), token):
        raise RequestError(encode_error(request_id, "unauthorized", "missing or wrong token"),
                           close=True)
    notification = "id" not in message
    params = message.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RequestError(None if notification else encode_error(
            request_id, "invalid_params", "params must be an object (named parameters)"))
    return Request(request_id, message["method"], params, notification)


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, int | float | str) and not isinstance(value, bool))


def encode_result(request_id: Any, result: Any,
                  default: Callable[[Any], Any] | None = None) -> bytes:
    """An answer line; ``default`` converts what JSON cannot hold (``TypeError`` if it
    cannot either)."""
    reply = {"jsonrpc": "2.0", "id": request_id, "result": result}
    return json.dumps(reply, separators=(",", ":"), default=default).encode() + b"\n"


def encode_error(request_id: Any, name: str, message: str, data: Any = None) -> bytes:
    """An error answer line: ``code`` from :data:`ERRORS`, ``data.name`` the error's name
    (a mapping ``data`` is merged into it, anything else becomes ``data.detail``)."""
    payload: dict[str, Any] = {"name": name}
    if isinstance(data, dict):
        payload.update(data)
    elif data is not None:
        payload["detail"] = data
    reply = {"jsonrpc": "2.0", "id": request_id,
             "error": {"code": ERRORS[name], "message": message, "data": payload}}
    try:
        return json.dumps(reply, separators=(",", ":"), default=str).encode() + b"\n"
    except (TypeError, ValueError):  # pragma: no cover - data was not serialisable
        reply["error"]["data"] = {"name": name}
        return json.dumps(reply).encode() + b"\n"


def encode_batch(answers: list[bytes]) -> bytes | None:
    """The answer line of a batch (``None`` when every member was a notification)."""
    if not answers:
        return None
    return b"[" + b",".join(a.rstrip(b"\n") for a in answers) + b"]\n"
