"""The analyst queue in a real daemon: provider fallback against the local fake Anthropic and
Perplexity servers (real SDK, real httpx), budget, timeouts, bounds, one read per signal,
follow-ups through the outbox, and recovery of pending reads after a restart."""

from __future__ import annotations

import inspect
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trade_hunter.daemon import analyst_queue as analysis
from trade_hunter.daemon.app import Daemon
from trade_hunter.plugins.models import AnalystRead, MarketEvent, from_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analyst_daemon import Recorder, build, keys
from fake_analysts import FakeAnthropic, FakePerplexity  # on the path through analyst_daemon


@pytest.fixture
def clock() -> trio.testing.MockClock:
    # Autojump after 0.1 s of real idleness: waits take no time, while the store's writer
    # thread, the SDK's worker thread and the fakes' sockets still get their real moment.
    return trio.testing.MockClock(autojump_threshold=0.1)


@pytest.fixture
async def fakes(nursery: trio.Nursery) -> tuple[FakeAnthropic, FakePerplexity]:
    return (await nursery.start(FakeAnthropic().serve),
            await nursery.start(FakePerplexity().serve))


def fire(d: Daemon, market: str, *, price: float = 0.40) -> None:
    """Five quiet trades, then a big one: one hard-rule signal on ``market``."""
    t0 = time.time() - 60
    kw: dict[str, Any] = {"platform": "test", "market_id": market, "source": "test",
                          "title": f"Will {market} happen?", "event_kind": "trade",
                          "trade_side": "yes"}
    d.ingest([MarketEvent(yes_price=price, volume=10.0, timestamp=t0 + i, **kw)
              for i in range(5)]
             + [MarketEvent(yes_price=price + 0.1, volume=500.0, timestamp=t0 + 10, **kw)])


async def reads(d: Daemon) -> dict[int, AnalystRead]:
    await d.store.flush()
    rows = await d.store.aquery("SELECT signal_id, payload FROM analyst_reads ORDER BY 1")
    return {sid: from_json(payload, AnalystRead) for sid, payload in rows}


async def until(check: Callable[[], Any], timeout: float = 600.0) -> None:
    # Under the autojump clock each poll costs its 0.1 s of real idleness: poll rarely.
    mock = isinstance(trio.lowlevel.current_clock(), trio.testing.MockClock)
    poll = 1.0 if mock else 0.05
    with trio.fail_after(timeout):
        while True:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await trio.sleep(poll)


async def final_reads(d: Daemon, n: int) -> dict[int, AnalystRead]:
    async def done() -> bool:
        found = await reads(d)
        return len([r for r in found.values() if r.status != "pending"]) >= n
    await until(done)
    return await reads(d)


class Resolver(trio.abc.HostnameResolver):
    """Records every host name looked up (an unexpected endpoint) and refuses it."""

    def __init__(self) -> None:
        self.names: list[bytes | str | None] = []

    async def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0,
                          proto: int = 0, flags: int = 0) -> Any:
        self.names.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "lookups are not allowed in this test")

    async def getnameinfo(self, sockaddr: Any, flags: int) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "not allowed")


# ---------------------------------------------------------------------- reads end to end
async def test_no_keys_heuristic_read_in_simulation(tmp_path, nursery):
    recorder = Recorder()
    d = build(tmp_path, recorder, ENABLE_SIMULATION="true", SIMULATION_SEED="7")
    await nursery.start(d.run)
    started = time.monotonic()
    # The simulated feed fires its first genuine spike after 8 s; a demo spike fires now.
    [sid] = (await d.service.call("demo.spike", {}))["signals"]
    read = (await final_reads(d, 1))[sid]
    assert time.monotonic() - started < 5
    assert (read.status, read.provider, read.model) == ("done", "heuristic", "rules-v1")
    assert read.rationale.startswith("Heuristic read (local rules, not AI)")
    listed = await d.service.call("signals.list", {})
    assert listed["signals"][0]["read"]["provider"] == "heuristic"
    health = {h["name"]: h for h in d.health.as_list()}
    assert health["anthropic"]["state"] == "disabled"
    assert health["perplexity"]["state"] == "disabled"
    await until(lambda: len(recorder.alerts) >= 2, timeout=10)
    assert [a.kind for a in recorder.alerts[:2]] == ["detector", "analyst"]
    assert recorder.alerts[1].read == read


async def test_reads_come_from_anthropic_and_reach_the_notifiers(tmp_path, nursery, fakes):
    anthropic, perplexity = fakes
    resolver = Resolver()
    trio.socket.set_custom_hostname_resolver(resolver)
    recorder = Recorder()
    d = build(tmp_path, recorder, **keys(anthropic, perplexity))
    await nursery.start(d.run)
    fire(d, "M-1")
    [read] = (await final_reads(d, 1)).values()

    assert (read.status, read.provider, read.model) == ("done", "anthropic", "claude-haiku-5-5")
    assert read.noise_or_signal == "signal" and read.fallbacks == []
    assert read.latency_ms is not None and read.latency_ms >= 0
    assert d.live.reads[read.signal_id].provider == "anthropic"
    await until(lambda: len(recorder.alerts) == 2, timeout=10)
    follow_up = recorder.alerts[1]
    assert follow_up.kind == "analyst" and follow_up.read == read
    assert follow_up.signal.id == read.signal_id
    # Nothing but the configured endpoints: one call to the fake Anthropic, none elsewhere.
    assert len(anthropic.requests) == 1 and perplexity.requests == []
    assert resolver.names == []


@pytest.mark.parametrize("failure,why", [
    (529, "anthropic: HTTP 529 overloaded_error"),
    (429, "anthropic: HTTP 429 rate_limit_error"),
    ("hang", "anthropic: timed out after 30s"),
    ("malformed", "anthropic: malformed answer after one retry"),
])
async def test_falls_back_to_perplexity(tmp_path, nursery, fakes, clock, failure, why):
    anthropic, perplexity = fakes
    anthropic.default = failure
    d = build(tmp_path, **keys(anthropic, perplexity))
    await nursery.start(d.run)
    fire(d, "M-1")
    [read] = (await final_reads(d, 1)).values()
    assert (read.status, read.provider, read.model) == ("done", "perplexity", "sonar")
    assert read.citations == perplexity.citations
    [fallback] = read.fallbacks
    assert fallback.startswith(why)
    assert len(perplexity.requests) == 1
    assert d.health.get("analysts").counters["fallbacks"] == 1


async def test_falls_back_to_the_heuristic_when_both_fail(tmp_path, nursery, fakes, clock):
    anthropic, perplexity = fakes
    anthropic.default, perplexity.default = 529, 503
    d = build(tmp_path, **keys(anthropic, perplexity))
    await nursery.start(d.run)
    fire(d, "M-1")
    [read] = (await final_reads(d, 1)).values()
    assert read.provider == "heuristic" and read.status == "done"
    assert [f.split(":")[0] for f in read.fallbacks] == ["anthropic", "perplexity"]
    assert d.health.get("anthropic").state == "degraded"
    assert d.health.get("perplexity").state == "degraded"


async def test_without_any_working_provider_the_read_fails(tmp_path, nursery, fakes, clock):
    anthropic, _ = fakes
    anthropic.default = 401
    d = build(tmp_path, disabled=("heuristic",), **keys(anthropic))
    await nursery.start(d.run)
    fire(d, "M-1")
    [read] = (await final_reads(d, 1)).values()
    assert read.status == "failed" and read.error == "anthropic: HTTP 401 authentication_error"


async def test_an_out_of_range_probability_is_a_failed_read(tmp_path, nursery, fakes, clock):
    anthropic, _ = fakes
    anthropic.default = "improbable"  # probability_yes 1.7
    d = build(tmp_path, disabled=("heuristic",), **keys(anthropic))
    await nursery.start(d.run)
    fire(d, "M-1")
    [read] = (await final_reads(d, 1)).values()
    assert read.status == "failed" and "probability_yes" in (read.error or "")
    assert d.health.get("analysts").state == "running"  # no crash


# ---------------------------------------------------------------------- budget and timeouts
async def test_budget_skips_then_refills_after_an_hour(tmp_path, nursery, fakes, clock):
    anthropic, _ = fakes
    d = build(tmp_path, ANALYST_MAX_CALLS_PER_HOUR="2", **keys(anthropic))
    await nursery.start(d.run)
    for n in range(3):
        fire(d, f"M-{n}")
        await final_reads(d, n + 1)
    found = await reads(d)
    assert [r.provider for r in found.values()][:2] == ["anthropic", "anthropic"]
    assert (found[3].status, found[3].error) == ("skipped", "skipped: budget")
    assert len(anthropic.requests) == 2

    await trio.sleep(3600)  # virtual time: the first calls leave the sliding hour
    fire(d, "M-3")
    found = await final_reads(d, 4)
    assert (found[4].status, found[4].provider) == ("done", "anthropic")
    assert d.health.get("analysts").counters["skipped_budget"] == 1


async def test_budget_spent_mid_chain_leaves_the_free_heuristic(tmp_path, nursery, fakes,
                                                                clock):
    anthropic, perplexity = fakes
    anthropic.default = 529
    d = build(tmp_path, ANALYST_MAX_CALLS_PER_HOUR="1", **keys(anthropic, perplexity))
    await nursery.start(d.run)
    fire(d, "M-1")
    [read] = (await final_reads(d, 1)).values()
    assert read.provider == "heuristic"
    assert read.fallbacks[1] == "perplexity: skipped (budget)"
    assert perplexity.requests == []


async def test_each_provider_call_has_a_deadline(tmp_path, nursery, fakes, clock):
    anthropic, perplexity = fakes
    anthropic.default = "hang"
    d = build(tmp_path, ANALYST_TIMEOUT_SECONDS="5", **keys(anthropic, perplexity))
    await nursery.start(d.run)
    started = trio.current_time()
    fire(d, "M-1")
    [read] = (await final_reads(d, 1)).values()
    assert read.provider == "perplexity"
    assert read.fallbacks == ["anthropic: timed out after 5s"]
    assert 5.0 <= trio.current_time() - started < 7.0


# ---------------------------------------------------------------------- bounds
async def test_concurrency_limit_and_bounded_queue(tmp_path, nursery, fakes, clock,
                                                   monkeypatch):
    anthropic, _ = fakes
    anthropic.default = "hang"
    monkeypatch.setattr(analysis, "QUEUE_SIZE", 2)
    d = build(tmp_path, ANALYST_CONCURRENCY="2", ANALYST_TIMEOUT_SECONDS="600",
              ANALYST_MAX_CALLS_PER_HOUR="100", disabled=("heuristic",), **keys(anthropic))
    await nursery.start(d.run)
    for n in range(7):
        fire(d, f"M-{n}")
        await trio.sleep(1)  # virtual: let the workers take what they can
    found = await reads(d)
    statuses = sorted((r.status, r.error or "") for r in found.values())
    # 2 being analysed + 1 waiting for a worker + 2 in the queue; the rest are skipped.
    assert statuses == [("pending", "")] * 5 + [("skipped", "skipped: analyst queue full")] * 2
    assert anthropic.max_active == 2


async def test_one_read_per_signal(tmp_path, nursery, fakes, clock):
    anthropic, _ = fakes
    d = build(tmp_path, **keys(anthropic))
    await nursery.start(d.run)
    fire(d, "M-1")
    await final_reads(d, 1)
    signal = d.live.signals[1]
    d.analysts.submit(signal)  # handed over again (a replayed hand-off): not analysed again
    await trio.sleep(5)
    assert len(anthropic.requests) == 1
    rows = await d.store.aquery("SELECT COUNT(*) FROM analyst_reads")
    assert rows == [(1,)]


async def test_a_pending_read_is_analysed_after_a_restart(tmp_path, fakes):
    anthropic, _ = fakes
    home = tmp_path / "home"
    anthropic.default = "hang"
    recorder = Recorder()
    env = {**keys(anthropic), "ANALYST_TIMEOUT_SECONDS": "600"}
    async with trio.open_nursery() as nursery:
        d1 = build(home, recorder, disabled=("heuristic",), **env)
        await nursery.start(d1.run)
        fire(d1, "M-1")
        await until(lambda: len(anthropic.requests) == 1, timeout=10)
        assert [r.status for r in (await reads(d1)).values()] == ["pending"]
        d1.request_shutdown("test restart")

    anthropic.default = "ok"
    async with trio.open_nursery() as nursery:
        d2 = build(home, recorder, disabled=("heuristic",), **env)
        await nursery.start(d2.run)
        with trio.fail_after(10):
            [read] = (await final_reads(d2, 1)).values()
        assert (read.status, read.provider, read.signal_id) == ("done", "anthropic", 1)
        await until(lambda: any(a.kind == "analyst" for a in recorder.alerts),
                    timeout=10)
        assert d2.health.get("analysts").counters["recovered"] == 1
        d2.request_shutdown("test done")
    assert len(anthropic.requests) == 2
