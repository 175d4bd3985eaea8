"""``GET /metrics``: parsed with prometheus-client's own parser, behind the API's access rules."""

from __future__ import annotations

import json
import re
from typing import Any

import trio
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import REPO
from .conftest import spike_events, wait_signals

FAMILIES = {
    "trade_hunter_info", "trade_hunter_uptime_seconds", "trade_hunter_events",
    "trade_hunter_events_by_kind", "trade_hunter_signals", "trade_hunter_markets",
    "trade_hunter_component_state", "trade_hunter_component_restarts",
    "trade_hunter_component_counter", "trade_hunter_feed_messages",
    "trade_hunter_feed_reconnects", "trade_hunter_feed_connected",
    "trade_hunter_outbox_pending", "trade_hunter_outbox_oldest_pending_seconds",
    "trade_hunter_notifier_deliveries", "trade_hunter_analyst_reads",
    "trade_hunter_analyst_latency_seconds", "trade_hunter_analyst_outcomes",
    "trade_hunter_analyst_budget_remaining", "trade_hunter_analyst_budget_limit",
    "trade_hunter_store_commits", "trade_hunter_store_write_errors",
    "trade_hunter_store_committed_events", "trade_hunter_store_uncommitted_events",
    "trade_hunter_ingest_queue_depth", "trade_hunter_signal_detection_seconds",
    "trade_hunter_store_commit_seconds", "trade_hunter_store_batch_writes",
}


def samples(text: str) -> dict[str, Any]:
    """Family name → {(sample name, sorted labels): value}."""
    out: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value
                            for s in family.samples}
        out[family.name + ":type"] = family.type
    return out


async def scrape(client: Any, **headers: str) -> dict[str, Any]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return samples(await response.get_data(as_text=True))


async def wait_reads(d: Any, n: int) -> None:
    with trio.fail_after(10):
        while sum(d.tally.reads.values()) < n:
            await trio.sleep(0.01)


async def test_metrics_has_every_family_and_counts_what_happened(web):
    d, client = await web()
    d.ingest(spike_events("M-BTC", topic="crypto"))
    d.ingest(spike_events("M-ETH", topic="crypto", size=900))
    await wait_signals(d, 2)
    await wait_reads(d, 2)  # the local heuristic analyst answers both
    await d.store.flush()

    m = await scrape(client)
    assert FAMILIES <= set(m), FAMILIES - set(m)
    assert m["trade_hunter_events:type"] == "counter"
    assert m["trade_hunter_events"][("trade_hunter_events_total", (("source", "test"),))] == 12
    signals = m["trade_hunter_signals"]
    assert sum(signals.values()) == 2
    for (name, labels) in signals:
        assert name == "trade_hunter_signals_total"
        assert {k for k, _ in labels} == {"source", "tier", "rule"}
        assert dict(labels)["source"] == "test"
    tiers = {dict(labels)["tier"] for _, labels in signals}
    assert tiers == {s.tier for s in d.live.signals.values()}

    latency = m["trade_hunter_analyst_latency_seconds"]
    assert m["trade_hunter_analyst_latency_seconds:type"] == "histogram"
    assert latency[("trade_hunter_analyst_latency_seconds_count",
                    (("provider", "heuristic"),))] == 2
    assert latency[("trade_hunter_analyst_latency_seconds_bucket",
                    (("le", "+Inf"), ("provider", "heuristic")))] == 2
    assert m["trade_hunter_analyst_reads"][
        ("trade_hunter_analyst_reads_total", (("provider", "heuristic"), ("status", "done")))] == 2
    assert m["trade_hunter_store_committed_events"][
        ("trade_hunter_store_committed_events_total", ())] >= 12
    commits = m["trade_hunter_store_commits"][("trade_hunter_store_commits_total", ())]
    assert commits >= 1
    for family in ("trade_hunter_store_commit_seconds", "trade_hunter_store_batch_writes"):
        assert m[family + ":type"] == "histogram"
        # one observation per commit (a commit may land while the scrape reads them)
        assert abs(m[family][(family + "_count", ())] - commits) <= 2
    detection = m["trade_hunter_signal_detection_seconds"]
    assert detection[("trade_hunter_signal_detection_seconds_count", ())] == 2
    assert detection[("trade_hunter_signal_detection_seconds_bucket", (("le", "+Inf"),))] == 2
    states = m["trade_hunter_component_state"]
    assert states[("trade_hunter_component_state",
                   (("component", "pipeline"), ("kind", "component"), ("state", "running")))] == 1
    info = next(iter(m["trade_hunter_info"]))
    assert dict(info[1])["mode"] == "ingest-only"


async def test_metrics_of_a_feed_and_openmetrics_on_request(web):
    d, client = await web(ENABLE_SIMULATION="true", SIMULATION_SEED="7")
    with trio.fail_after(10):
        while not d.health.get("simulated", "feed").counters.get("events"):
            await trio.sleep(0.01)
    m = await scrape(client)
    messages = m["trade_hunter_feed_messages"]
    assert messages[("trade_hunter_feed_messages_total",
                     (("feed", "simulated"), ("type", "event")))] >= 1
    assert m["trade_hunter_feed_connected"][
        ("trade_hunter_feed_connected", (("feed", "simulated"),))] == 1
    response = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.mimetype == "application/openmetrics-text"
    assert (await response.get_data(as_text=True)).rstrip().endswith("# EOF")


async def test_metrics_need_the_dashboard_token_like_the_api(web):
    _d, client = await web(DASHBOARD_TOKEN="scrape-secret-token-123")
    refused = await client.get("/metrics", headers={"Accept": "text/plain"})
    assert refused.status_code == 401  # a scraper gets 401, not the login page
    assert (await refused.get_json())["code"] == "unauthorized"
    m = await scrape(client, Authorization="Bearer scrape-secret-token-123")
    assert "trade_hunter_info" in m


async def test_the_sample_grafana_dashboard_queries_only_served_metrics(web):
    _d, client = await web()
    served = set()
    for family in text_string_to_metric_families(
            await (await client.get("/metrics")).get_data(as_text=True)):
        served |= {family.name, f"{family.name}_total", f"{family.name}_bucket"}
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"trade_hunter_\w+", e)}
    assert len(used) >= 10 and used <= served, used - served
