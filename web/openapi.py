"""``/openapi.json``: quart-schema's document, completed.

quart-schema (0.25) keeps only the top-level schema of a msgspec model, so ``$ref``s to nested
models (a signal's analyst read, say) would dangle: the provider below adds the components of
every documented model with ``msgspec.json.schema_components``. It also documents the ingest
routes from their relays (``Relay.accepts``, bearer token) and the dashboard's auth schemes.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from quart import Quart
from quart_schema import QuartSchema
from quart_schema.openapi import OpenAPIProvider
from quart_schema.validation import (
    QUART_SCHEMA_QUERYSTRING_ATTRIBUTE,
    QUART_SCHEMA_REQUEST_ATTRIBUTE,
    QUART_SCHEMA_RESPONSE_ATTRIBUTE,
)

from .schemas import ErrorBody
from .security import SESSION_COOKIE

if TYPE_CHECKING:
    from trade_hunter.plugins.registry import Relay

REF = "#/components/schemas/{name}"


class Provider(OpenAPIProvider):
    relays: Mapping[str, Relay] = {}

    def schema(self) -> dict[str, Any]:
        doc = super().schema()
        models: set[Any] = set()
        for rule in self.generate_rules():
            func = self._app.view_functions[rule.endpoint]
            for attr in (QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, QUART_SCHEMA_REQUEST_ATTRIBUTE):
                value = getattr(func, attr, None)
                if value is not None:
                    models.add(value[0] if isinstance(value, tuple) else value)
            for model, _headers in getattr(func, QUART_SCHEMA_RESPONSE_ATTRIBUTE, {}).values():
                models.add(model)
        structs = sorted((m for m in models if inspect.isclass(m)
                          and issubclass(m, msgspec.Struct)), key=lambda m: m.__name__)
        _, components = msgspec.json.schema_components(structs, ref_template=REF)
        doc["components"]["schemas"] = {**components, **doc["components"]["schemas"]}
        doc["components"]["securitySchemes"] = {
            "dashboardToken": {"type": "http", "scheme": "bearer",
                               "description": "DASHBOARD_TOKEN (required when it is set)"},
            "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                              "description": "set by POST /api/login"},
        }
        doc["security"] = [{"dashboardToken": []}, {"sessionCookie": []}, {}]
        self._document_relays(doc)
        return doc

    def _document_relays(self, doc: dict[str, Any]) -> None:
        schemes = doc["components"]["securitySchemes"]
        for relay in self.relays.values():
            operation = doc["paths"].get(relay.path, {}).get("post")
            if operation is None:
                continue  # not mounted (yet): document only what is served
            operation.setdefault("summary", relay.description or f"ingest: {relay.name}")
            if "requestBody" not in operation:
                accepts = relay.accepts if isinstance(relay.accepts, dict) else {}
                operation["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": accepts}}}
            if relay.token_setting:
                scheme = f"{relay.name}Token"
                schemes[scheme] = {"type": "http", "scheme": "bearer",
                                   "description": f"{relay.token_setting} (when it is set)"}
                operation["security"] = [{scheme: []}, {}]
            else:
                operation["security"] = [{}]
            error = {"content": {"application/json": {"schema": {"$ref": REF.format(
                name=ErrorBody.__name__)}}}, "description": ""}
            responses = operation["responses"]
            ok = {200: "stored (committed)", 202: "queued, not yet stored (Prefer: respond-async)"}
            for status in (200, 202, 400, 401, 413, 415, 422, 500, 503):
                if status not in responses and str(status) not in responses:
                    responses[status] = {"description": ok[status]} if status in ok else error


def install_openapi(app: Quart, relays: Mapping[str, Relay], version: str) -> QuartSchema:
    provider = type("BoundProvider", (Provider,), {"relays": relays})
    return QuartSchema(
        app, openapi_path="/openapi.json",
        # The bundled doc UIs load scripts from CDNs: nothing is loaded from the internet.
        redoc_ui_path=None, scalar_ui_path=None, swagger_ui_path=None,
        conversion_preference="msgspec", openapi_provider_class=provider,
        info={"title": "Trade Hunter", "version": version,
              "description": "Local, informational-only prediction-market monitor. Errors "
                             "are {\"error\", \"detail\", \"code\"} with a 4xx/5xx status."})
