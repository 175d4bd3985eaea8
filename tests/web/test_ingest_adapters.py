"""Declarative relays (``RELAYS_FILE``): the shipped example mappings of two real services
(Struct, PolyQuantLab) on their documented payloads, JMESPath conversions, 422s naming field
and path, bad files refused at start-up with one line, and HMAC-signed deliveries through
the real server (good signature accepted; bad, missing or body-altered refused)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from trade_hunter.plugins.builtin.relays.relays import load_routes
from trade_hunter.plugins.errors import ConfigError, PayloadError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import REPO, base_env, make_daemon

EXAMPLES = REPO / "docs" / "examples" / "relays"
SECRETS = {"STRUCT_WEBHOOK_SECRET": "struct-s3cret", "POLYQUANTLAB_WEBHOOK_SECRET": "whsec_pql"}


def routes(text: str, tmp_path: Path, secrets: dict[str, str] | None = None) -> dict[str, Any]:
    path = tmp_path / "relays.toml"
    path.write_text(text)
    found = secrets if secrets is not None else SECRETS
    return {r.name: r for r in load_routes(path, None, found.get)}


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def sign(secret: str, body: bytes, prefix: str = "") -> str:
    return prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- the examples
def test_the_struct_example_maps_a_whale_trade():
    [relay] = load_routes(EXAMPLES / "struct.toml", None, SECRETS.get)
    assert (relay.name, relay.path, relay.auth) == (
        "struct", "/api/alerts/struct", "hmac X-Webhook-Signature (STRUCT_WEBHOOK_SECRET)")
    [e] = relay.parse(example("struct-whale-trade.json"), {})
    assert (e.source, e.platform, e.market_id) == (
        "struct", "polymarket", "fed-decreases-interest-rates-by-25-bps-after-december-2026-meeting")
    assert e.title == "Fed decreases interest rates by 25 bps after December 2026 meeting?"
    assert (e.event_kind, e.yes_price, e.volume, e.trade_size, e.trade_side) == (
        "trade", 0.65, 31250.5, 48077.69, "yes")  # bought the Yes outcome
    assert e.timestamp == 1_795_773_765.0
    assert e.ext_id.endswith("-17")
    assert e.metadata["alert_type"] == "trader_whale_trade"
    assert e.metadata["trader"] == "0x4bfb41d5b3570defd03c39a9a4d8de6bd8b8982e"
    assert e.metadata["details"]["tx_hash"].startswith("0xd1e0")
    assert e.metadata["trade_side"] == "buy"


def test_the_struct_example_reads_a_no_outcome_sale():
    [relay] = load_routes(EXAMPLES / "struct.toml", None, SECRETS.get)
    payload = example("struct-whale-trade.json")
    payload["data"].update(outcome="No", outcome_index=1, side="Sell", price="0.30")
    [e] = relay.parse(payload, {})
    assert (e.yes_price, e.trade_side) == (0.7, "yes")  # selling NO is a YES taker


def test_the_polyquantlab_example_maps_an_opportunity():
    [relay] = load_routes(EXAMPLES / "polyquantlab.toml", None, SECRETS.get)
    assert relay.auth == "hmac X-PQL-Signature (POLYQUANTLAB_WEBHOOK_SECRET)"
    [e] = relay.parse(example("polyquantlab-opportunity.json"), {})
    assert (e.source, e.market_id, e.topic) == (
        "polyquantlab", "btc-up-or-down-at-10-15am-nov-27", "crypto")
    assert (e.event_kind, e.yes_price, e.volume) == ("quote", 0.62, None)  # BUY_NO at 0.38
    assert e.timestamp == pytest.approx(1_795_774_314.402)
    assert e.metadata["alert_type"] == "opportunity_endgame"
    assert e.metadata["event_kind"] == "alert"
    assert e.metadata["url"] == "https://polymarket.com/event/btc-up-or-down-at-10-15am-nov-27"
    assert e.metadata["details"]["model_yes_prob"] == 0.57


def test_the_two_examples_concatenate_into_one_file(tmp_path):
    text = (EXAMPLES / "struct.toml").read_text() + (EXAMPLES / "polyquantlab.toml").read_text()
    assert set(routes(text, tmp_path)) == {"struct", "polyquantlab"}


# --------------------------------------------------------------------------- conversions
CONVERTING = """
[routes.conv]
auth = "none"
items = "alerts"
[routes.conv.fields]
platform = { const = "kalshi" }
market_id = { path = "ticker", convert = "string" }
title = { path = "name", default = "untitled" }
yes_price = { path = "probability_pct", convert = "percent" }
timestamp = { path = "time_ms", convert = "ms" }
trade_side = { path = "action", convert = "side" }
outcome = { path = "outcome", convert = "lower" }
volume = { path = "usd", convert = "number" }
"metadata.score" = "score"
"""


def test_conversions_percent_ms_side_number_and_constants(tmp_path):
    relay = routes(CONVERTING, tmp_path)["conv"]
    events = relay.parse({"alerts": [
        {"ticker": 42, "probability_pct": "64", "time_ms": 1_795_773_600_123,
         "action": "BUY", "outcome": "NO", "usd": "1,5".replace(",", "."), "score": 7},
        {"ticker": "K-2", "name": "Rain?", "probability_pct": 5.5, "action": "Sell",
         "outcome": "Yes"},
    ]}, {})
    first, second = events
    assert (first.platform, first.market_id, first.title) == ("kalshi", "42", "untitled")
    assert (first.yes_price, first.timestamp, first.volume) == (0.64, 1_795_773_600.123, 1.5)
    assert (first.event_kind, first.trade_side) == ("trade", "no")  # buying NO
    assert first.metadata["details"] == {"score": 7}
    assert (second.yes_price, second.trade_side, second.title) == (0.055, "no", "Rain?")


@pytest.mark.parametrize(("payload", "field", "message"), [
    ({"alerts": [{"ticker": "K", "probability_pct": "lots"}]}, "[0].yes_price",
     "expected a number, got 'lots' (from `probability_pct`)"),
    ({"alerts": [{"ticker": "K", "probability_pct": 150}]}, "[0].yes_price",
     "expected a number from 0 to 1, got 1.5 (from `probability_pct`)"),
    ({"alerts": [{"ticker": "K", "action": "hold"}]}, "[0].trade_side",
     "expected BUY or SELL, got 'hold' (from `action`)"),
    ({"alerts": [{"name": "x"}]}, "[0].market_id", "is required (from `ticker`)"),
    ({"alerts": [{"ticker": {"id": 1}}]}, "[0].market_id",
     "expected a string or a number, got an object (from `ticker`)"),
    ({"alerts": [{"ticker": "K", "time_ms": 5}]}, "[0].timestamp",
     "between 2000-01-01 and tomorrow, got 0.005 (from `time_ms`)"),
    ({"alerts": {"ticker": "K"}}, "body", "items (from `alerts`): expected an array"),
    ({"other": []}, "body", "items (from `alerts`): expected an array, got null"),
])
def test_a_mapping_that_fails_names_field_and_path(tmp_path, payload, field, message):
    relay = routes(CONVERTING, tmp_path)["conv"]
    with pytest.raises(PayloadError) as info:
        relay.parse(payload, {})
    assert info.value.message.startswith(f"{field}: ") and message in info.value.message, \
        info.value.message


# --------------------------------------------------------------------------- bad files
GOOD_FIELDS = 'platform = { const = "p" }\nmarket_id = "id"\ntitle = "t"\n'


@pytest.mark.parametrize(("text", "expected"), [
    ('[routes.x]\nauth = "none"\n[routes.x.fields]\n' + GOOD_FIELDS + 'yes_price = "pri[ce"\n',
     "routes.x.fields.yes_price.path: invalid JMESPath 'pri[ce'"),
    ('[routes.x]\nauth = "none"\n[routes.x.fields]\n' + GOOD_FIELDS + 'price = "p"\n',
     "routes.x.fields.price: unknown field 'price'"),
    ('[routes.x]\nauth = "none"\n[routes.x.fields]\nmarket_id = "id"\n',
     "map the required field(s) platform, title"),
    ('[routes.x]\nauth = "none"\n[routes.x.fields]\n' + GOOD_FIELDS +
     'volume = { path = "v", convert = "kilo" }\n', "'kilo' is not one of number, percent"),
    ('[routes.x]\nauth = "none"\n[routes.x.fields]\n' + GOOD_FIELDS +
     'volume = { path = "v", const = 1 }\n', "give exactly one of path and const"),
    ('[routes.x]\n[routes.x.fields]\n' + GOOD_FIELDS,
     "routes.x: give exactly one of signature, token_setting"),
    ('[routes.x]\nsignature = { header = "X-Sig", secret_setting = "UNSET_SECRET" }\n'
     '[routes.x.fields]\n' + GOOD_FIELDS, "UNSET_SECRET is not set"),
    ('[routes.x]\ntoken_setting = "UNSET_TOKEN"\n[routes.x.fields]\n' + GOOD_FIELDS,
     "UNSET_TOKEN is not set"),
    ('[routes.x]\nauth = "none"\npath = "/api/alerts/polyalerthub"\n[routes.x.fields]\n'
     + GOOD_FIELDS, "routes.x.path: expected /api/alerts/<name>"),
    ('[routes.x]\nauth = "none"\nsecret = "x"\n[routes.x.fields]\n' + GOOD_FIELDS,
     "routes.x: unknown key(s) secret"),
    ('[routes.Bad]\nauth = "none"\n', "routes.Bad: a route name is"),
    ("[routes]\n", "expected [routes.<name>] tables only"),
    ("routes = [", "valid TOML"),
])
def test_a_bad_file_is_one_line_naming_the_route_and_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        routes(text, tmp_path)
    message = str(info.value)
    assert message.startswith("RELAYS_FILE=") and expected in message, message
    assert "\n" not in message


def test_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="a readable file"):
        load_routes(tmp_path / "nope.toml", None, SECRETS.get)


async def test_a_bad_file_stops_the_daemon_before_it_starts(tmp_path):
    bad = tmp_path / "relays.toml"
    bad.write_text('[routes.x]\nauth = "none"\n[routes.x.fields]\nmarket_id = "a["\n')
    d = make_daemon(tmp_path / "home", RELAYS_FILE=str(bad))
    with pytest.raises(ConfigError, match="routes.x.fields.market_id.path: invalid JMESPath"):
        await d.run()


def test_the_command_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "relays.toml"
    bad.write_text('[routes.x]\nauth = "none"\n[routes.x.fields]\nmarket_id = "a["\n')
    env = {**os.environ, **base_env(tmp_path / "home", RELAYS_FILE=str(bad))}
    result = subprocess.run([sys.executable, "-m", "trade_hunter.daemon.cli"], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "RELAYS_FILE=" in lines[0] and "routes.x.fields.market_id" \
        in lines[0], result.stderr


# --------------------------------------------------------------------------- HMAC, for real
@pytest.fixture
def both_examples(tmp_path, monkeypatch) -> Path:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "relays.toml"
    path.write_text((EXAMPLES / "struct.toml").read_text()
                    + (EXAMPLES / "polyquantlab.toml").read_text())
    return path


async def test_signed_deliveries_through_the_real_server(start_daemon, both_examples):
    d = await start_daemon(RELAYS_FILE=str(both_examples))
    assert d.health.get("relays").state == "running"
    body = json.dumps(example("struct-whale-trade.json")).encode()
    good = sign(SECRETS["STRUCT_WEBHOOK_SECRET"], body, "sha256=")
    json_type = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        async def post(path: str, content: bytes, **headers: str) -> httpx.Response:
            return await client.post(path, content=content, headers={**json_type, **headers})
        missing = await post("/api/alerts/struct", body)
        bad = await post("/api/alerts/struct", body, **{"X-Webhook-Signature": good[:-1] + (
            "0" if good[-1] != "0" else "1")})
        altered = body.replace(b"31250.5", b"91250.5")
        tampered = await post("/api/alerts/struct", altered, **{"X-Webhook-Signature": good})
        other_key = await post("/api/alerts/struct", body, **{
            "X-Webhook-Signature": sign("wrong-secret", body, "sha256=")})
        for refused in (missing, bad, tampered, other_key):
            assert refused.status_code == 401, refused.text
            assert refused.json()["code"] == "unauthorized"
            assert SECRETS["STRUCT_WEBHOOK_SECRET"] not in refused.text
        assert "missing X-Webhook-Signature" in missing.json()["detail"]
        assert "does not match the body" in tampered.json()["detail"]
        accepted = await post("/api/alerts/struct", body, **{"X-Webhook-Signature": good})
        again = await post("/api/alerts/struct", body, **{"X-Webhook-Signature": good.upper()
                           .replace("SHA256=", "sha256=")})  # hex in capitals is the same
        assert (accepted.status_code, accepted.json()) == (200, {"accepted": 1,
                                                                 "duplicates": 0})
        assert again.json() == {"accepted": 0, "duplicates": 1}
        pql = json.dumps(example("polyquantlab-opportunity.json")).encode()
        pql_answer = await post("/api/alerts/polyquantlab", pql, **{
            "X-PQL-Signature": sign(SECRETS["POLYQUANTLAB_WEBHOOK_SECRET"], pql)})
        assert pql_answer.status_code == 200, pql_answer.text
        invalid = json.dumps({"data": {"price": 0.5}}).encode()
        unmapped = await post("/api/alerts/struct", invalid, **{
            "X-Webhook-Signature": sign(SECRETS["STRUCT_WEBHOOK_SECRET"], invalid,
                                        "sha256=")})
        assert unmapped.status_code == 422
        assert unmapped.json()["error"] == (
            "market_id: is required (from `data.market_slug || data.condition_id`) "
            "(and 1 more)")
        await d.store.flush()
        await d.store.flush()
    rows = await d.store.aquery("SELECT source, market_id, kind, yes_price, volume, trade_side"
                                " FROM events ORDER BY id")
    assert rows == [
        ("struct", "fed-decreases-interest-rates-by-25-bps-after-december-2026-meeting", "T",
         0.65, 31250.5, "yes"),
        ("polyquantlab", "btc-up-or-down-at-10-15am-nov-27", "Q", 0.62, None, None)]


async def test_a_bearer_route_and_the_built_in_ones_still_work(start_daemon, tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv("MY_RELAY_TOKEN", "tok-123")
    path = tmp_path / "relays.toml"
    path.write_text('[routes.mine]\ntoken_setting = "MY_RELAY_TOKEN"\n[routes.mine.fields]\n'
                    'platform = { const = "custom" }\nmarket_id = "m"\ntitle = "q"\n'
                    'yes_price = "p"\n')
    d = await start_daemon(RELAYS_FILE=str(path))
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        body = {"m": "M-1", "q": "Will it?", "p": 0.5}
        denied = await client.post("/api/alerts/mine", json=body)
        ok = await client.post("/api/alerts/mine", json=body,
                               headers={"Authorization": "Bearer tok-123"})
        builtin = await client.post("/api/alerts/polyalerthub", json={
            "platform": "p", "market_id": "m", "title": "t"})
    assert denied.status_code == 401 and "MY_RELAY_TOKEN" in denied.json()["detail"]
    assert ok.status_code == 200 and builtin.status_code == 200


# --------------------------------------------------------------------------- th-ctl relays
async def test_th_ctl_relays_lists_routes_deliveries_and_errors(start_daemon, both_examples,
                                                                capsys):
    from trade_hunter.ctl import cli as ctl_cli
    from trade_hunter.ctl import client as ctl

    d = await start_daemon(RELAYS_FILE=str(both_examples))
    home = d.settings.home
    before = await trio.to_thread.run_sync(lambda: ctl.Client(home).call("relays.list"))
    by_path = {r["path"]: r for r in before["routes"]}
    assert set(by_path) == {"/api/events", "/api/alerts/polyalerthub", "/api/alerts/struct",
                            "/api/alerts/polyquantlab"}
    assert by_path["/api/alerts/struct"]["auth"] == \
        "hmac X-Webhook-Signature (STRUCT_WEBHOOK_SECRET)"
    assert by_path["/api/alerts/struct"]["origin"] == "RELAYS_FILE"
    assert (by_path["/api/events"]["auth"], by_path["/api/events"]["origin"]) == (
        "open", "ingest")
    assert by_path["/api/alerts/struct"]["last_delivery"] is None

    body = json.dumps(example("struct-whale-trade.json")).encode()
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        await client.post("/api/alerts/struct", content=body, headers=headers)  # unsigned
        await client.post("/api/alerts/struct", content=b"{}", headers={
            **headers, "X-Webhook-Signature": sign(SECRETS["STRUCT_WEBHOOK_SECRET"], b"{}",
                                                   "sha256=")})  # signed, unmappable
        ok = await client.post("/api/alerts/struct", content=body, headers={
            **headers, "X-Webhook-Signature": sign(SECRETS["STRUCT_WEBHOOK_SECRET"], body,
                                                   "sha256=")})
        assert ok.status_code == 200
    after = await trio.to_thread.run_sync(lambda: ctl.Client(home).call("relays.list"))
    struct = {r["path"]: r for r in after["routes"]}["/api/alerts/struct"]
    assert (struct["deliveries"], struct["accepted"], struct["error_count"]) == (1, 1, 2)
    assert struct["errors"] == {"unauthorized": 1, "invalid_payload": 1}
    assert struct["last_delivery"] >= struct["last_error_at"] > 0
    assert "STRUCT_WEBHOOK_SECRET" in struct["auth"] and "struct-s3cret" not in str(after)

    code = await trio.to_thread.run_sync(lambda: ctl_cli.main(["relays", "--home", str(home)]))
    out = capsys.readouterr().out
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("/api/alerts/struct"))
    assert "ago" in line and "unauthorized 1, invalid_payload 1" in line, out
    assert out.splitlines()[0].split()[:3] == ["ROUTE", "NAME", "AUTH"]


def test_a_base64_signature_and_headers_in_any_case(tmp_path):
    text = ('[routes.b64]\nsignature = { header = "X-Hub-Sig", secret_setting = "B64_SECRET", '
            'encoding = "base64" }\n[routes.b64.fields]\n' + GOOD_FIELDS)
    relay = routes(text, tmp_path, {"B64_SECRET": "k3y"})["b64"]
    body = b'{"id": "m", "t": "q"}'
    good = base64.b64encode(hmac.new(b"k3y", body, hashlib.sha256).digest()).decode()
    assert relay.verify(body, {"x-hub-sig": good}) is None
    assert "does not match" in relay.verify(body + b" ", {"x-hub-sig": good})
    assert "missing X-Hub-Sig" in relay.verify(body, {})
    assert "k3y" not in repr(relay)
