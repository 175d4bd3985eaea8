from __future__ import annotations

import itertools

import pytest
import trio
import trio.lowlevel

from trade_hunter.daemon import supervisor
from trade_hunter.daemon.supervisor import ComponentHealth, backoff, supervise


def test_backoff_is_exponential_with_jitter_and_capped():
    for failures, full in ((1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (30, 60.0)):
        for _ in range(50):
            assert full / 2 <= backoff(failures) <= full


async def test_restarts_with_backoff_then_opens_the_circuit(autojump_clock):
    health = ComponentHealth("flaky", "feed")
    starts: list[float] = []

    async def run(*, task_status=trio.TASK_STATUS_IGNORED):
        starts.append(trio.current_time())
        raise ConnectionError("boom")

    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, health, run)  # a failing first run does not block
    assert len(starts) == supervisor.MAX_FAILURES
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    for n, gap in enumerate(gaps, start=1):
        full = min(supervisor.MAX_DELAY, supervisor.BASE_DELAY * 2 ** (n - 1))
        assert full / 2 <= gap <= full
    assert health.state == "failed" and "boom" in health.detail
    assert health.restarts == supervisor.MAX_FAILURES - 1
    assert health.last_error == "ConnectionError: boom"


async def test_recovers_after_a_crash_and_reports_running(autojump_clock):
    health = ComponentHealth("once", "component")
    calls = 0
    finished = trio.Event()

    async def run(*, task_status=trio.TASK_STATUS_IGNORED):
        nonlocal calls
        calls += 1
        task_status.started()
        if calls == 1:
            raise RuntimeError("first run fails after starting")
        await finished.wait()

    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, health, run)
        await trio.lowlevel.checkpoint()
        assert health.state == "restarting" and "first run fails" in health.detail
        await trio.sleep(5)
        assert calls == 2 and health.state == "running" and health.restarts == 1
        finished.set()
    assert health.state == "stopped"


async def test_a_long_healthy_run_resets_the_failure_count(autojump_clock):
    health = ComponentHealth("slow", "component")
    calls = 0

    async def run(*, task_status=trio.TASK_STATUS_IGNORED):
        nonlocal calls
        calls += 1
        if calls > 12:
            return
        await trio.sleep(supervisor.HEALTHY_AFTER + 1)  # healthy for a minute, then fails
        raise RuntimeError("periodic")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(supervise, health, run)
    assert calls == 13 and health.state == "stopped"


def test_health_record_api():
    h = ComponentHealth("x", "feed")
    h.set("connected", "3 markets")
    h.count("messages")
    h.count("messages", 2)
    h.put("last_message_at", 12.5)
    d = h.as_dict()
    assert d["state"] == "connected" and d["counters"] == {"messages": 3}
    assert d["info"] == {"last_message_at": 12.5}


@pytest.mark.parametrize("n", [1, 2])
async def test_started_is_passed_through_once(n, autojump_clock):
    health = ComponentHealth("s", "component")
    runs = 0

    async def run(*, task_status=trio.TASK_STATUS_IGNORED):
        nonlocal runs
        runs += 1
        task_status.started()
        if runs <= n:
            raise RuntimeError("again")

    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, health, run)
    assert runs == n + 1
