"""The README's HTTP API table is the app's real route list."""

from __future__ import annotations

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
                 "POST /api/demo/spike", "GET /openapi.json"):
        assert f"`{seed}`" in block
