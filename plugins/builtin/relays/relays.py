"""Declarative relays: webhook routes of other alert services, configured by ``RELAYS_FILE``.

A TOML file with one ``[routes.<name>]`` table per service::

    [routes.struct]
    path = "/api/alerts/struct"              # default: /api/alerts/<name>
    signature = { header = "X-Webhook-Signature", secret_setting = "STRUCT_WEBHOOK_SECRET",
                  prefix = "sha256=" }       # HMAC-SHA256 of the raw body, hex
    # or: token_setting = "MY_TOKEN"         # Authorization: Bearer <MY_TOKEN>
    # or: auth = "none"                      # the generic rule (open on loopback)
    items = "data.alerts"                    # optional: where the array of alerts is
    [routes.struct.fields]                   # target = JMESPath, or a table
    market_id = "data.market_slug || data.condition_id"
    yes_price = { path = "data.price", convert = "number" }
    platform = { const = "polymarket" }

Secrets are named, never written in the file: a setting of that name, else the variable of
that name in the environment or ``.env`` (read like every setting). The file is read once,
when the daemon starts (by the ``relays`` component's factory, before anything else starts):
any problem stops start-up with one line naming the route and key (exit 2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jmespath
import trio
from dotenv import dotenv_values
from jmespath.exceptions import JMESPathError

from trade_hunter.plugins import hookimpl
from trade_hunter.plugins.errors import ConfigError, RpcError
from trade_hunter.plugins.registry import Relay

from .mapping import FieldMapping, MappingFileError, field_spec
from .polyalerthub import REQUIRED

PREFIX = "/api/alerts/"
RESERVED = ("/api/events", "/api/alerts/polyalerthub")
ROUTE_KEYS = frozenset({"path", "description", "signature", "token_setting", "auth", "items",
                        "fields"})
SIGNATURE_KEYS = frozenset({"header", "secret_setting", "prefix", "encoding"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_PATH = re.compile(r"^/api/alerts/[A-Za-z0-9._-]{1,64}$")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class Signature:
    """HMAC-SHA256 of the raw body, in ``header`` as ``prefix`` + hex (or base64)."""

    def __init__(self, header: str, secret: str, setting: str, prefix: str = "",
                 encoding: str = "hex") -> None:
        self.header, self.setting, self.prefix, self.encoding = header, setting, prefix, encoding
        self._secret = secret.encode()

    def __repr__(self) -> str:  # the secret never shows
        return f"Signature({self.header!r}, {self.setting})"

    @property
    def label(self) -> str:
        return f"hmac {self.header} ({self.setting})"

    def expected(self, body: bytes) -> str:
        mac = hmac.new(self._secret, body, hashlib.sha256)
        if self.encoding == "base64":
            return self.prefix + base64.b64encode(mac.digest()).decode()
        return self.prefix + mac.hexdigest()

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        given = headers.get(self.header.lower(), "").strip()
        if not given:
            return f"missing {self.header} header (HMAC-SHA256 of the body)"
        if self.encoding == "hex":  # hex digits in any case
            given = given[:len(self.prefix)] + given[len(self.prefix):].lower()
        if not hmac.compare_digest(given.encode(), self.expected(body).encode()):
            return f"{self.header}: signature does not match the body"
        return None


class Bearer:
    def __init__(self, token: str, setting: str) -> None:
        self.setting, self._token = setting, token.encode()

    def __repr__(self) -> str:
        return f"Bearer({self.setting})"

    @property
    def label(self) -> str:
        return f"bearer {self.setting}"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(given.encode(), self._token):
            return f"send Authorization: Bearer <{self.setting}>"
        return None


def secret_sources(settings: Any, environ: Mapping[str, str] | None = None,
                   dotenv: Path | None = None) -> Any:
    """``lookup(name)``: a declared setting's value, else the environment, else ``.env``."""
    env = dict(os.environ if environ is None else environ)
    path = dotenv if dotenv is not None else Path.cwd() / ".env"
    file_values = {k: v or "" for k, v in dotenv_values(path).items()} if path.is_file() \
        else {}

    def lookup(name: str) -> str:
        declared = getattr(settings, "declared", {})
        if name in declared and settings.get(name):
            return str(settings.get(name))
        return env.get(name) or file_values.get(name, "")
    return lookup


def _auth(name: str, route: dict[str, Any], lookup: Any) -> Signature | Bearer | None:
    where = f"routes.{name}"
    chosen = [k for k in ("signature", "token_setting", "auth") if k in route]
    if len(chosen) != 1:
        raise MappingFileError(f"{where}: give exactly one of signature, token_setting or "
                         "auth = \"none\"")
    if "auth" in route:
        if route["auth"] != "none":
            raise MappingFileError(f"{where}.auth: only \"none\" (else signature or token_setting)")
        return None
    if "token_setting" in route:
        setting = route["token_setting"]
        if not isinstance(setting, str) or not setting:
            raise MappingFileError(f"{where}.token_setting: expected a setting name")
        token = lookup(setting)
        if not token:
            raise MappingFileError(f"{where}.token_setting: {setting} is not set")
        return Bearer(token, setting)
    sig = route["signature"]
    if not isinstance(sig, dict) or set(sig) - SIGNATURE_KEYS:
        raise MappingFileError(f"{where}.signature: expected a table of "
                         f"{', '.join(sorted(SIGNATURE_KEYS))}")
    header, setting = sig.get("header"), sig.get("secret_setting")
    if not isinstance(header, str) or not _HEADER.match(header):
        raise MappingFileError(f"{where}.signature.header: expected a header name")
    if not isinstance(setting, str) or not setting:
        raise MappingFileError(f"{where}.signature.secret_setting: expected a setting name")
    prefix, encoding = sig.get("prefix", ""), sig.get("encoding", "hex")
    if not isinstance(prefix, str) or encoding not in ("hex", "base64"):
        raise MappingFileError(f"{where}.signature: prefix is a string, encoding hex or base64")
    secret = lookup(setting)
    if not secret:
        raise MappingFileError(f"{where}.signature.secret_setting: {setting} is not set")
    return Signature(header, secret, setting, prefix, encoding)


def route_relay(name: str, route: Any, lookup: Any) -> Relay:
    where = f"routes.{name}"
    if not _NAME.match(name):
        raise MappingFileError(f"{where}: a route name is lower-case letters, digits, - and _")
    if not isinstance(route, dict):
        raise MappingFileError(f"{where}: expected a table")
    unknown = sorted(set(route) - ROUTE_KEYS)
    if unknown:
        raise MappingFileError(f"{where}: unknown key(s) {', '.join(unknown)} "
                         f"({', '.join(sorted(ROUTE_KEYS))})")
    path = route.get("path", PREFIX + name)
    if not isinstance(path, str) or not _PATH.match(path) or path in RESERVED:
        raise MappingFileError(f"{where}.path: expected /api/alerts/<name>, not a built-in relay's")
    fields = route.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise MappingFileError(f"{where}.fields: expected a table of field = JMESPath")
    specs = [field_spec(target, spec, f"{where}.fields.{target}")
             for target, spec in fields.items()]
    missing = [r for r in REQUIRED if r not in fields]
    if missing:
        raise MappingFileError(f"{where}.fields: map the required field(s) {', '.join(missing)}")
    items = None
    if "items" in route:
        try:
            items = jmespath.compile(str(route["items"]))
        except JMESPathError as exc:
            raise MappingFileError(f"{where}.items: invalid JMESPath {route['items']!r}: "
                             f"{str(exc).splitlines()[0]}") from None
    auth = _auth(name, route, lookup)
    mapping = FieldMapping(name, specs, items)
    description = str(route.get("description") or f"{name} webhooks (RELAYS_FILE mapping)")
    return Relay(name=name, path=path, parse=mapping.parse, description=description,
                 accepts={"type": ["object", "array"], "description": description},
                 plugin="RELAYS_FILE", verify=auth.verify if auth else None,
                 auth=auth.label if auth else "")


def load_routes(path: Path, settings: Any, lookup: Any = None) -> list[Relay]:
    """The relays of a mapping file; ``ConfigError`` (one line) when anything is wrong."""
    lookup = lookup or secret_sources(settings)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        routes = data.get("routes")
        if set(data) - {"routes"} or not isinstance(routes, dict) or not routes:
            raise MappingFileError("expected [routes.<name>] tables only")
        relays = [route_relay(name, route, lookup) for name, route in routes.items()]
        paths = [r.path for r in relays]
        if len(set(paths)) != len(paths):
            raise MappingFileError("two routes share a path")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError("RELAYS_FILE", str(path), f"a readable file ({reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("RELAYS_FILE", str(path), f"valid TOML ({exc})") from None
    except MappingFileError as exc:
        raise ConfigError("RELAYS_FILE", str(path), f"a valid relays file: {exc}") from None
    return relays


class FileRelays:
    """The ``relays`` component: the routes of ``RELAYS_FILE``, mounted by the web layer
    (``extras["relay_routes"]``); its health names them."""

    def __init__(self, relays: list[Relay], health: Any) -> None:
        self.relays, self.health = relays, health

    async def run(self, send_channel: Any, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        names = ", ".join(f"{r.name} ({r.path})" for r in self.relays)
        self.health.set("running", f"{len(self.relays)} webhook route(s): {names}")
        task_status.started()
        await trio.sleep_forever()  # deliveries arrive through the web server


def create(ctx: Any) -> FileRelays | None:
    path = ctx.settings.RELAYS_FILE
    if not path:
        return None
    relays = load_routes(Path(path), ctx.settings)
    ctx.extras["relay_routes"] = relays
    return FileRelays(relays, ctx.health)


async def relays_rpc(ctx: Any) -> dict[str, Any]:
    book = ctx.extras.get("relay_book")
    if book is None:
        raise RpcError("the web server (which serves the relays) is not running",
                       code="not_available")
    return {"routes": book.as_list()}


@hookimpl
def th_add_settings(settings: Any) -> None:
    settings.add("RELAYS_FILE", "path", "",
                 "TOML file of webhook routes with JMESPath field mappings and HMAC/bearer "
                 "checks (see Relays); read at start-up")


@hookimpl
def th_register_feeds(registry: Any) -> None:
    registry.add("relays", create, enabled=lambda s: bool(s.RELAYS_FILE),
                 description="webhook routes of RELAYS_FILE (declarative relays)")


@hookimpl
def th_register_rpc_methods(registry: Any) -> None:
    registry.add("relays.list", relays_rpc,
                 help="Relay routes with their last delivery and error counts")
