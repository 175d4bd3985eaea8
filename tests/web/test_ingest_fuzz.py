"""Schema-driven fuzzing of the ingest routes: schemathesis reads the daemon's own
``/openapi.json`` and throws generated bodies — valid ones and deliberately invalid ones — at
the real server; no answer may be a 5xx. Bounded (a fixed number of examples, no shrinking
database) so it stays well under 30 s."""

from __future__ import annotations

import time
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
import trio
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode

RELAYS = ("/api/events", "/api/alerts/polyalerthub")
EXAMPLES = 50  # per route and mode


def run(operation: Any, mode: GenerationMode, base: str, counts: dict[int, int]) -> None:
    """Generate bodies for one route in one mode and post each; no answer may be a 5xx."""

    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck), derandomize=True)
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = case.call(base_url=base, timeout=10)
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        assert response.status_code < 500, (
            f"{operation.path} answered {response.status_code} to {case.body!r}: "
            f"{response.text[:300]}")

    check()


def fuzz(doc: dict[str, Any], base: str) -> dict[str, dict[int, int]]:
    """Run in a worker thread (schemathesis calls are blocking); returns status counts."""
    schema = schemathesis.openapi.from_dict(doc)
    seen: dict[str, dict[int, int]] = {}
    for path in RELAYS:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run(schema[path]["POST"], mode, base, seen.setdefault(path, {}))
    return seen


@pytest.mark.slow
async def test_no_generated_body_makes_an_ingest_route_fail(start_daemon):
    d = await start_daemon()
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        doc = (await client.get("/openapi.json")).json()
        for path in RELAYS:  # documented with their schema; the schema's examples are good
            schema = doc["paths"][path]["post"]["requestBody"]["content"][
                "application/json"]["schema"]
            assert schema["oneOf"] and schema["examples"]
            for example in schema["examples"]:
                response = await client.post(path, json=example)
                assert response.status_code == 200, (path, example, response.text)
    started = time.monotonic()
    seen = await trio.to_thread.run_sync(fuzz, doc, d.dashboard_url.rstrip("/"))
    assert time.monotonic() - started < 120  # bounded by EXAMPLES (about 12 s when idle)
    assert seen["/api/events"].get(200, 0) > 0  # generated valid events were accepted
    for path in RELAYS:  # and invalid bodies were refused with a 4xx, not a crash
        assert seen[path].get(422, 0) > 0 and seen[path].get(400, 0) > 0, seen
