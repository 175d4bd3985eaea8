"""The ingest routes against the real server (hypercorn on port 0) of a real daemon: the
README's curl, auth, validation, the body cap, idempotency (across restarts too), arrays,
detection of relayed events, and a full ingest buffer."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from trade_hunter.daemon.app import Daemon

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import REPO, make_daemon, run_daemon

JSON = {"Content-Type": "application/json"}


def event(**kw: Any) -> dict[str, Any]:
    base = {"source": "scraper", "platform": "custom", "market_id": "M-1",
            "title": "Will it rain?", "yes_price": 0.4, "volume": 10}
    return {**base, **kw}


async def post(d: Daemon, path: str, body: Any = None, *, raw: bytes | None = None,
               headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        content = raw if raw is not None else json.dumps(body).encode()
        return await client.post(path, content=content, headers={**JSON, **(headers or {})})


async def stored(d: Daemon, sql: str = "SELECT source, market_id, ext_id FROM events"
                 ) -> list[tuple[Any, ...]]:
    await d.store.flush()
    for _ in range(50):  # the pipeline hands the batch to the writer within a tick
        rows = await d.store.aquery(sql)
        if rows:
            return rows
        await trio.sleep(0.02)
        await d.store.flush()
    return []


# --------------------------------------------------------------------------- the README
def readme_curl() -> str:
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- ingest-curl-example -->", 1)[1]
    return re.search(r"```sh\n(.*?)```", block, re.DOTALL).group(1)


async def test_the_readme_curl_posts_an_event_that_shows_on_the_dashboard(start_daemon):
    d = await start_daemon()
    command = readme_curl().split("\n#", 1)[0].replace("http://127.0.0.1:8765",
                                                        d.dashboard_url.rstrip("/"))
    args = shlex.split(command.replace("\\\n", " "))
    assert args[:4] == ["curl", "-s", "-X", "POST"]
    if shutil.which("curl"):
        result = await trio.to_thread.run_sync(lambda: subprocess.run(
            args, capture_output=True, text=True, timeout=30, check=True))
        answer = json.loads(result.stdout)
    else:  # no curl here: send exactly what it would
        headers = dict(h.split(": ", 1) for h in args[args.index("-H") + 1::2][:1])
        async with httpx.AsyncClient() as client:
            answer = (await client.post(args[4], content=args[args.index("-d") + 1],
                                        headers=headers)).json()
    assert answer == {"accepted": 1, "duplicates": 0}
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        with trio.fail_after(5):  # it appears in the dashboard's trade flow
            while True:
                state = (await client.get("/api/state")).json()
                flow = [e for e in state["flow"]
                        if e["market_id"] == "will-it-rain-in-nyc-tomorrow"]
                if flow:
                    break
                await trio.sleep(0.05)
    assert flow[0]["source"] == "my-scraper"
    assert [r for r in await stored(d)] == [
        ("my-scraper", "will-it-rain-in-nyc-tomorrow", "scrape-0001")]


# --------------------------------------------------------------------------- auth
@pytest.mark.parametrize(("path", "setting"), [("/api/events", "INGEST_API_TOKEN"),
                                               ("/api/alerts/polyalerthub",
                                                "POLYALERTHUB_TOKEN")])
async def test_a_set_token_is_required_and_compared(start_daemon, path, setting):
    d = await start_daemon(**{setting: "t0ken-Secret"})
    body = event(source="polyalerthub") if "poly" in path else event()
    missing = await post(d, path, body)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert setting in missing.json()["detail"] and "t0ken" not in missing.text
    wrong = await post(d, path, body, headers={"Authorization": "Bearer t0ken-Secreu"})
    assert wrong.status_code == 401
    right = await post(d, path, body, headers={"Authorization": "Bearer t0ken-Secret"})
    assert right.status_code == 200, right.text
    other = "/api/alerts/polyalerthub" if path == "/api/events" else "/api/events"
    assert (await post(d, other, event())).status_code == 200  # its own token: unset, open


async def test_browsers_elsewhere_cannot_post_events(start_daemon):
    d = await start_daemon()
    foreign = await post(d, "/api/events", event(), headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    form = await post(d, "/api/events", raw=b"{}", headers={"Content-Type": "text/plain"})
    assert form.status_code == 415
    assert d.live.counters["events"] == 0


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(("raw", "field", "message"), [
    (b'{"source":"s","platform":"p","market_id":"M","title":"t","yes_price":NaN,"volume":1}',
     "yes_price", "expected a finite number, got nan"),
    ((b'{"source":"s","platform":"p","market_id":"M","title":"t","yes_price":0.5,'
     b'"volume":Infinity}'), "volume", "expected a finite number, got inf"),
    ((b'{"source":"s","platform":"p","market_id":"M","title":"t","yes_price":0.5,'
     b'"volume":1e999}'), "volume", "expected a finite number, got inf"),
    (json.dumps(event(yes_price=1.5)).encode(), "yes_price",
     "expected a number from 0 to 1, got 1.5"),
    (json.dumps(event(yes_price="0.5")).encode(), "yes_price",
     "expected a number, got a string"),
    (json.dumps(event(volume=True)).encode(), "volume", "expected a number, got a boolean"),
    (json.dumps(event(volume=-3)).encode(), "volume", "expected a number of at least 0"),
    (json.dumps({k: v for k, v in event().items() if k != "title"}).encode(), "title",
     "is required"),
    (json.dumps(event(yes_prce=0.5)).encode(), "yes_prce", "unknown field(s): yes_prce"),
    (json.dumps(event(timestamp=1_795_000_000_000)).encode(), "timestamp",
     "(milliseconds? send seconds)"),
    (json.dumps(event(timestamp="2026-11-27 10:00")).encode(), "timestamp",
     "needs a zone"),
    (json.dumps(event(trade_side="buy")).encode(), "trade_side",
     "expected one of yes, no, got 'buy'"),
    (json.dumps(event(topic="weather")).encode(), "topic", "expected one of crypto"),
    (json.dumps(event(source="my scraper!")).encode(), "source", "expected letters"),
    (json.dumps(event(source="kalshi")).encode(), "source", "the Kalshi feed's own name"),
    (json.dumps(event(yes_bid=0.6, yes_ask=0.5)).encode(), "yes_bid", "above the ask"),
    (json.dumps([event(), event(), event(yes_price=-0.1)]).encode(), "[2].yes_price",
     "expected a number from 0 to 1"),
    (b"[]", "body", "expected at least one event"),
    (json.dumps([event()] * 1001).encode(), "body", "at most 1000 events per request"),
    (b'"just a string"', "body", "expected a JSON object or an array of objects"),
    (b"[1, 2]", "[0]", "expected an object, got a number"),
])
async def test_invalid_events_get_a_422_naming_the_field(start_daemon, raw, field, message):
    d = await start_daemon()
    response = await post(d, "/api/events", raw=raw)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_payload" and body["error"].startswith(f"{field}: ")
    assert any(e["field"] == field and message in e["message"]
               for e in body["detail"]["errors"]), body
    assert "required" in body["detail"]["accepted"]
    assert d.live.counters["events"] == 0  # nothing of a refused request is processed


async def test_malformed_json_is_a_400(start_daemon):
    d = await start_daemon()
    response = await post(d, "/api/events", raw=b'{"source": ')
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


async def test_every_problem_is_listed(start_daemon):
    d = await start_daemon()
    response = await post(d, "/api/events", [event(yes_price=2), event(volume="x"), event()])
    body = response.json()
    assert body["error"].endswith("(and 1 more)")
    assert [e["field"] for e in body["detail"]["errors"]] == ["[0].yes_price", "[1].volume"]


# --------------------------------------------------------------------------- size cap
async def test_bodies_over_the_cap_get_a_413_with_or_without_a_length(start_daemon):
    d = await start_daemon(HTTP_MAX_BODY_BYTES="4096")
    big = json.dumps([event(id=str(i)) for i in range(60)]).encode()
    assert len(big) > 4096
    assert (await post(d, "/api/events", raw=big)).status_code == 413

    async def chunks():  # no Content-Length: the cap applies while reading
        for i in range(0, len(big), 1000):
            yield big[i:i + 1000]
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        response = await client.post("/api/events", content=chunks(), headers=JSON)
    assert response.status_code == 413 and response.json()["error"]
    assert d.live.counters["events"] == 0


# --------------------------------------------------------------------------- arrays, ids
async def test_an_array_is_accepted_whole_and_keeps_its_order(start_daemon):
    d = await start_daemon()
    body = [event(market_id=f"A-{i}", id=f"a{i}", timestamp=time.time() - 10 + i)
            for i in range(500)]
    response = await post(d, "/api/events", body)
    assert response.status_code == 200 and response.json() == {"accepted": 500,
                                                                "duplicates": 0}
    rows = await stored(d, "SELECT market_id FROM events ORDER BY id")
    assert [r[0] for r in rows] == [f"A-{i}" for i in range(500)]


async def test_a_retried_delivery_counts_once(start_daemon):
    d = await start_daemon()
    one = event(id="evt-1")
    assert (await post(d, "/api/events", one)).json() == {"accepted": 1, "duplicates": 0}
    assert (await post(d, "/api/events", one)).json() == {"accepted": 0, "duplicates": 1}
    keyed = event(market_id="M-2")
    first = await post(d, "/api/events", keyed, headers={"Idempotency-Key": "k-1"})
    again = await post(d, "/api/events", keyed, headers={"Idempotency-Key": "k-1"})
    assert (first.json(), again.json()) == ({"accepted": 1, "duplicates": 0},
                                            {"accepted": 0, "duplicates": 1})
    batch = [event(market_id=f"B-{i}") for i in range(4)]
    assert (await post(d, "/api/events", batch[:3], headers={"Idempotency-Key": "k-2"})
            ).json() == {"accepted": 3, "duplicates": 0}
    assert (await post(d, "/api/events", batch, headers={"Idempotency-Key": "k-2"})
            ).json() == {"accepted": 1, "duplicates": 3}  # k-2#0..2 seen; k-2#3 is new
    same_request = [event(id="dup"), event(id="dup")]
    assert (await post(d, "/api/events", same_request)).json() == {"accepted": 1,
                                                                    "duplicates": 1}
    # Another source may use the same id.
    assert (await post(d, "/api/events", event(source="other", id="evt-1"))
            ).json() == {"accepted": 1, "duplicates": 0}
    await trio.sleep(0.3)
    rows = await stored(d, "SELECT source, ext_id FROM events ORDER BY id")
    assert rows == [("scraper", "evt-1"), ("scraper", "k-1"), ("scraper", "k-2#0"),
                    ("scraper", "k-2#1"), ("scraper", "k-2#2"), ("scraper", "k-2#3"),
                    ("scraper", "dup"), ("other", "evt-1")]
    assert d.live.summary()["by_source"] == {"scraper": 7, "other": 1}  # detector saw each once
    bad = await post(d, "/api/events", event(), headers={"Idempotency-Key": "x" * 201})
    assert bad.status_code == 422 and "Idempotency-Key" in bad.json()["error"]


async def test_idempotency_survives_a_restart(tmp_path, nursery):
    async def run() -> tuple[Daemon, trio.Event]:
        d = make_daemon(tmp_path)
        return d, await run_daemon(nursery, d)

    d, done = await run()
    assert (await post(d, "/api/events", event(id="once"))).json()["accepted"] == 1
    d.request_shutdown("restart")
    await done.wait()
    d, done = await run()
    assert (await post(d, "/api/events", event(id="once"))).json() == {"accepted": 0,
                                                                        "duplicates": 1}
    assert d.live.summary()["counters"]["events"] == 0  # the detector never saw it again
    d.request_shutdown("end")
    await done.wait()


# --------------------------------------------------------------------------- the pipeline
async def test_relayed_events_go_through_the_detector(start_daemon):
    d = await start_daemon()
    t0 = time.time() - 60
    calm = [event(market_id="SPIKE-1", title="Will the relay spike?", yes_price=0.40,
                  volume=10, event_kind="trade", trade_side="yes", timestamp=t0 + i)
            for i in range(5)]
    burst = event(market_id="SPIKE-1", title="Will the relay spike?", yes_price=0.50,
                  volume=500, event_kind="trade", trade_side="yes", timestamp=t0 + 10,
                  url="https://example.org/markets/spike-1")
    assert (await post(d, "/api/events", [*calm, burst])).status_code == 200
    with trio.fail_after(5):
        while not d.live.signals:
            await trio.sleep(0.02)
    [signal] = d.live.signals.values()
    assert (signal.market_id, signal.source) == ("SPIKE-1", "scraper")
    assert signal.event.metadata == {"url": "https://example.org/markets/spike-1"}
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        state = (await client.get("/api/state")).json()
    assert state["signals"][0]["market_id"] == "SPIKE-1"


async def test_a_full_ingest_buffer_is_a_503_with_retry_after(tmp_path):
    # A daemon whose ingest channel has no room: send_nowait raises trio.WouldBlock.
    from trade_hunter.web.app import create_app
    d = make_daemon(tmp_path)
    await trio.to_thread.run_sync(d.store.open)
    d._send, _receive = trio.open_memory_channel(0)
    client = create_app(d.web_parts()).test_client()
    response = await client.post("/api/events", json=event(id="busy"),
                                 headers={"Host": "127.0.0.1"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    # The key was released: the retry is not taken for a duplicate. (No pipeline runs here,
    # so it opts out of waiting for the commit: 202, queued.)
    d._send, _receive = trio.open_memory_channel(10)
    response = await client.post("/api/events", json=event(id="busy"),
                                 headers={"Host": "127.0.0.1", "Prefer": "respond-async"})
    assert response.status_code == 202
    assert (await response.get_json()) == {"accepted": 1, "duplicates": 0}
    assert len(_receive.receive_nowait()) == 1
    await trio.to_thread.run_sync(d.store.close)


async def test_an_exposed_dashboard_never_leaves_ingest_open(start_daemon):
    d = await start_daemon(APP_HOST="0.0.0.0", DASHBOARD_TOKEN="dash-t0ken")
    port = d.dashboard_url.rstrip("/").rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        bare = await client.post("/api/events", json=event())
        assert bare.status_code == 401 and "DASHBOARD_TOKEN" in bare.json()["detail"]
        ok = await client.post("/api/events", json=event(),
                               headers={"Authorization": "Bearer dash-t0ken"})
        assert ok.status_code == 200
