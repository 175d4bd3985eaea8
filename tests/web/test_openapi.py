"""``/openapi.json`` is generated from the code and describes what the server really does."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest
from quart import jsonify

from trade_hunter.daemon import protocol
from trade_hunter.plugins.registry import Relay
from trade_hunter.web import schemas
from trade_hunter.web.app import create_app

HIDDEN = {"/", "/login", "/favicon.ico", "/openapi.json", "/metrics", "/static/<path:filename>",
          "/market/<market_id>", "/history"}


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


async def test_every_route_is_documented_and_every_ref_resolves(web):
    d, client = await web()
    doc = await (await client.get("/openapi.json")).get_json()
    assert doc["openapi"].startswith("3.1") and doc["info"]["title"] == "Trade Hunter"
    app = create_app(d.web_parts())
    for rule in app.url_map.iter_rules():
        if rule.rule in HIDDEN:
            continue
        for verb in rule.methods - {"HEAD", "OPTIONS"}:
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # OpenAPI's {param}
            operation = doc["paths"][path][verb.lower()]
            assert operation["responses"], (rule.rule, verb)
            assert {"200", "202"} & {str(k) for k in operation["responses"]}, rule.rule
    for ref in refs(doc):
        name = ref.removeprefix("#/components/schemas/")
        assert name in doc["components"]["schemas"], ref  # quart-schema alone drops nested ones
    assert not set(doc["paths"]) & HIDDEN


async def test_control_routes_document_the_protocol_parameters(web):
    _d, client = await web()
    doc = await (await client.get("/openapi.json")).get_json()
    for method in protocol.METHODS:
        if method.http is None:
            continue
        verb, path = method.http
        operation = doc["paths"][path][verb.lower()]
        assert operation["summary"] == method.help
        in_path = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert in_path == set(re.findall(r"\{(\w+)\}", path))
        params = [p for p in method.params if p.name not in in_path]
        if verb == "GET":
            names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
            assert names == {p.name for p in params}
        else:
            body = resolve(doc, operation["requestBody"]["content"]["application/json"]["schema"])
            assert set(body["properties"]) == {p.name for p in params}
            assert set(body.get("required", [])) == {p.name for p in params if p.required}
            assert body["additionalProperties"] is False
    sort = next(p for p in doc["paths"]["/api/signals"]["get"]["parameters"]
                if p["name"] == "sort")
    assert set(sort["schema"]["anyOf"][0]["enum"]) == {"newest", "score"}


async def test_the_documented_schemas_are_the_ones_that_validate(web):
    """What the document forbids, the server refuses; what it allows, the server takes."""
    _d, client = await web()
    doc = await (await client.get("/openapi.json")).get_json()
    for method in protocol.METHODS:
        if method.http is None or method.http[0] != "POST":
            continue
        schema = resolve(doc, doc["paths"][method.http[1]]["post"]["requestBody"]["content"][
            "application/json"]["schema"])
        assert schema["additionalProperties"] is False
        path = method.http[1].replace("{feed}", "kalshi")
        unknown = await client.post(path, json={"not_a_parameter": 1})
        assert unknown.status_code == 422, path
        assert "not_a_parameter" in (await unknown.get_json())["detail"]
        required = schema.get("required", [])
        for name in required:  # each required field missing alone
            missing = await client.post(path, json={n: "x" for n in required if n != name})
            assert missing.status_code == 422 and name in (await missing.get_json())["detail"]
    ok = await client.post("/api/kalshi/markets", json={"ticker": "KXETH"})
    assert ok.status_code == 200
    # The generated request struct is the schema in the document.
    model = schemas.params_struct(protocol.BY_NAME["tickers.add"], exclude={"feed"})
    _, components = msgspec.json.schema_components([model],
                                                   ref_template="#/components/schemas/{name}")
    assert doc["components"]["schemas"][model.__name__] == components[model.__name__]


async def test_state_and_health_responses_are_documented(web):
    _d, client = await web()
    doc = await (await client.get("/openapi.json")).get_json()
    state = resolve(doc, doc["paths"]["/api/state"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"])
    assert {"mode", "status", "signals", "tuning", "flow", "tape", "tickers", "feeds",
            "counters"} <= set(state["required"])
    errors = doc["paths"]["/api/kalshi/markets"]["post"]["responses"]
    assert resolve(doc, errors["422"]["content"]["application/json"]["schema"])[
        "required"] == ["error"]


async def test_relays_are_documented_from_their_registration(web):
    d, _client = await web()
    accepts = {"type": "object", "required": ["market_id"],
               "properties": {"market_id": {"type": "string"}}}
    d.registries.relays.add(Relay("testrelay", "/api/alerts/test", parse=lambda p, h: [],
                                  token_setting="INGEST_API_TOKEN", accepts=accepts,
                                  description="a test relay"))
    app = create_app(d.web_parts())

    @app.post("/api/alerts/test")
    async def relay_route():
        return jsonify({"accepted": 0}), 202

    doc = await (await app.test_client().get("/openapi.json")).get_json()
    operation = doc["paths"]["/api/alerts/test"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == accepts
    assert operation["security"] == [{"testrelayToken": []}, {}]
    assert "INGEST_API_TOKEN" in doc["components"]["securitySchemes"]["testrelayToken"][
        "description"]
    assert "202" in operation["responses"] or 202 in operation["responses"]


@pytest.mark.parametrize("path", ["/docs", "/redocs", "/scalar"])
async def test_no_documentation_ui_loads_scripts_from_a_cdn(web, path):
    _d, client = await web()
    assert (await client.get(path)).status_code == 404
