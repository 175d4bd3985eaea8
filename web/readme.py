"""The README's HTTP API route table, generated from the app (``python -m trade_hunter.web.readme``).

The same source as ``/openapi.json``: the url map, each view's docstring or control-method help,
and the request schemas quart-schema records on the views. A test checks the README matches.
"""

from __future__ import annotations

import inspect
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from quart import Quart
from quart_schema.validation import (
    QUART_SCHEMA_QUERYSTRING_ATTRIBUTE,
    QUART_SCHEMA_REQUEST_ATTRIBUTE,
)

START, END = "<!-- http-api-routes:start -->", "<!-- http-api-routes:end -->"
HIDDEN = frozenset({"/", "/login", "/favicon.ico", "/static/<path:filename>",
          "/market/<market_id>", "/history"})


def _fields(model: Any) -> list[str]:
    if not (inspect.isclass(model) and issubclass(model, msgspec.Struct)):
        return []
    out = []
    for f in msgspec.structs.fields(model):
        out.append(f.name if f.required else f"{f.name}?")
    return out


def _params(func: Any, verb: str, ingest: bool) -> str:
    query = getattr(func, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, None)
    if query is not None and _fields(query):
        return "`?" + "&".join(f"{f.rstrip('?')}=" for f in _fields(query)) + "`"
    body = getattr(func, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)
    if body is not None:
        names = _fields(body[0])
        return "`{" + ", ".join(f'"{n}"' for n in names) + "}`" if names else "`{}`"
    if verb != "POST":
        return ""
    return "JSON event(s), see [Relays and ingest](#relays-and-ingest)" if ingest else "`{}`"


SUMMARIES = {"/openapi.json": "OpenAPI 3.1 document of every route, generated from the code"}


def api_table(app: Quart, ingest_paths: frozenset[str] = frozenset()) -> str:
    rows = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule in HIDDEN:
            continue
        func = app.view_functions[rule.endpoint]
        doc = (inspect.getdoc(func) or SUMMARIES.get(rule.rule, "")).splitlines()
        what = doc[0].rstrip(".") if doc else ""
        for verb in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            params = _params(func, verb, rule.rule in ingest_paths)
            rows.append(f"| `{verb} {rule.rule}` | {params} | {what} |")
    return "\n".join(["| route | parameters (`?` optional) | what |", "|---|---|---|", *rows])


def build_app() -> tuple[Quart, frozenset[str]]:
    """The app of a default configuration (built-in plugins only), not started, and its
    ingest paths."""
    from trade_hunter.daemon.app import Daemon
    from trade_hunter.daemon.cli import build

    from .app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings, host, registries = build({"TRADE_HUNTER_HOME": str(Path(tmp) / "home"),
                                            "THIRD_PARTY_PLUGINS": "false"})
        app = create_app(Daemon(settings, host, registries).web_parts())
        paths = {r.path for r in registries.relays.items.values()}
        return app, frozenset(paths | set(app.config["TH_INGEST_PATHS"]))


def readme_block(readme: str) -> str:
    start, end = readme.index(START) + len(START), readme.index(END)
    return readme[start:end].strip()


def main() -> int:
    print(api_table(*build_app()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
