"""The README's HTTP API table is the app's real route list."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess

import trio

from trade_hunter.web.readme import api_table, build_app, readme_block

from ..conftest import REPO


def test_the_readme_lists_every_route_as_served():
    app, ingest = build_app()
    block = readme_block((REPO / "README.md").read_text(encoding="utf-8"))
    assert block == api_table(app, ingest), (
        "the README's HTTP API table is stale: paste the output of "
        "`.venv/bin/python -m trade_hunter.web.readme`")
    for seed in ("GET /api/state", "GET /api/health", "GET /api/signals",
                 "GET /api/kalshi/markets", "POST /api/kalshi/markets",
                 "POST /api/kalshi/markets/remove", "GET /api/kalshi/categories",
                 "GET /api/feeds/<feed>/tracked", "POST /api/feeds/<feed>/tracked",
                 "POST /api/demo/spike", "GET /openapi.json"):
        assert f"`{seed}`" in block


def readme_curls() -> list[str]:
    """The curl commands of the README's HTTP API section, continuation lines joined."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## HTTP API\n"):]
    block = section[section.index("```sh\n") + 6:]
    block = block[:block.index("```")].replace("\\\n", " ")
    return [line.split("  #", 1)[0].strip() for line in block.splitlines()
            if line.startswith("curl ")]


async def test_the_readme_curl_examples_answer_as_documented(start_daemon):
    with socket.socket() as sock:  # a port nobody listens on: Kalshi is unreachable, offline
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    d = await start_daemon(KALSHI_API_BASE=f"http://127.0.0.1:{closed}/trade-api/v2")
    base = d.dashboard_url.rstrip("/")
    commands = readme_curls()
    assert len(commands) >= 7
    answers = {}
    for command in commands:
        args = shlex.split(command.replace("http://127.0.0.1:8765", base))
        done = await trio.to_thread.run_sync(lambda args=args: subprocess.run(
            args, capture_output=True, text=True, timeout=30, check=True))
        answers[args[-1].removeprefix(base)] = json.loads(done.stdout)
    for path, body in answers.items():
        if path.startswith("/api/kalshi/categories"):
            assert body["code"] == "not_available" and "Kalshi is unavailable" in body["error"]
        else:
            assert "error" not in body, (path, body)
    assert answers["/api/kalshi/markets/remove"] == {"ticker": "KXBTC15M", "removed": True}
    assert answers["/api/state"]["signals"][0]["market_id"] == \
        answers["/api/demo/spike"]["market_id"]
