"""The notifier outbox with a plain third-party-style notifier (no ``wants``/``lane``),
registered through the real ``th_register_notifiers`` hook in a real daemon: retries with
backoff, rate limits that use up no attempt, drops, give-ups and expiry, health."""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from trade_hunter.daemon import outbox
from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.config import core_registry, load_settings
from trade_hunter.daemon.host import BUILTINS, PluginHost, Registries
from trade_hunter.plugins import hookimpl
from trade_hunter.plugins.errors import NotifyError, PermanentNotifyError
from trade_hunter.plugins.models import Alert, MarketEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import base_env


class Scripted:
    """Fails as scripted (exception instances, consumed one per call), then delivers."""

    def __init__(self, script: list[BaseException]) -> None:
        self.script = list(script)
        self.calls: list[float] = []
        self.delivered: list[Alert] = []

    async def notify(self, alert: Alert) -> None:
        self.calls.append(trio.current_time())
        if self.script:
            raise self.script.pop(0)
        self.delivered.append(alert)


@pytest.fixture
def clock() -> trio.testing.MockClock:
    # Autojump after 20 ms of real idleness: idle waits take no time, store threads still work.
    return trio.testing.MockClock(autojump_threshold=0.02)


@pytest.fixture
async def daemon_with(tmp_path: Path, nursery: trio.Nursery) -> Any:
    async def start(notifier: Scripted) -> Daemon:
        plugin = types.ModuleType("th_test_scripted_notifier")

        @hookimpl
        def th_register_notifiers(registry: Any) -> None:
            registry.add("scripted", lambda ctx: notifier)

        plugin.th_register_notifiers = th_register_notifiers  # type: ignore[attr-defined]
        sys.modules[plugin.__name__] = plugin
        host = PluginHost()
        host.load(third_party=False, builtins=(*BUILTINS, plugin.__name__),
                  disabled={"anthropic", "perplexity", "heuristic", "kalshi"})
        registries = Registries(settings=core_registry())
        host.collect(registries)
        settings = load_settings(registries.settings.items.values(), base_env(tmp_path))
        d = Daemon(settings, host, registries)
        await nursery.start(d.run)
        return d
    yield start
    sys.modules.pop("th_test_scripted_notifier", None)


async def until(check: Callable[[], bool], *, poll: float = 0.5,
                timeout: float = 36000.0) -> None:
    """Poll ``check`` (virtual seconds; each idle jump costs 20 ms of real time, so long
    waits poll coarsely)."""
    with trio.fail_after(timeout):
        while not check():
            await trio.sleep(poll)


async def fire(d: Daemon, market: str = "M-1") -> None:
    t0 = time.time() - 60
    kw: dict[str, Any] = {"platform": "test", "market_id": market, "title": market,
                          "event_kind": "trade", "trade_side": "yes", "source": "test"}
    d.ingest([MarketEvent(yes_price=0.40, volume=10.0, timestamp=t0 + i, **kw)
              for i in range(5)]
             + [MarketEvent(yes_price=0.50, volume=500.0, timestamp=t0 + 10, **kw)])


async def row(d: Daemon) -> tuple[Any, ...]:
    await d.store.flush()
    [found] = await d.store.aquery("SELECT status, attempts, last_error FROM outbox")
    return found


async def test_failures_are_retried_with_growing_backoff(daemon_with, clock):
    notifier = Scripted([NotifyError("down"), NotifyError("still down"), RuntimeError("bug")])
    d = await daemon_with(notifier)
    await fire(d)
    await until(lambda: notifier.delivered)
    gaps = [b - a for a, b in zip(notifier.calls, notifier.calls[1:], strict=False)]
    # Full-jitter backoff: the n-th retry waits between 2**(n-1)/2 and 2**(n-1) seconds.
    assert [g >= 2 ** i / 2 for i, g in enumerate(gaps)] == [True] * 3
    assert [g <= 2 ** i + 1 for i, g in enumerate(gaps)] == [True] * 3
    assert await row(d) == ("sent", 4, "")
    health = d.health.get("scripted").as_dict()
    assert health["counters"] == {"retries": 3, "sent": 1}
    assert health["state"] == "running"
    assert notifier.delivered[0].kind == "detector"
    assert notifier.delivered[0].signal.market_id == "M-1"


async def test_rate_limits_wait_as_told_and_use_up_no_attempt(daemon_with, clock):
    notifier = Scripted([NotifyError("429", retry_after=30.0) for _ in range(20)])
    d = await daemon_with(notifier)
    await fire(d)
    await until(lambda: notifier.delivered, poll=30)
    gaps = [b - a for a, b in zip(notifier.calls, notifier.calls[1:], strict=False)]
    assert min(gaps) >= 30.0 - 1e-9  # (float noise of the virtual clock)
    assert await row(d) == ("sent", 1, "")  # 20 rate limits, no failure counted
    assert d.health.get("scripted").counters == {"rate_limited": 20, "sent": 1}


async def test_a_permanent_error_drops_the_alert_and_is_reported(daemon_with, clock):
    notifier = Scripted([PermanentNotifyError("bad channel")])
    d = await daemon_with(notifier)
    await fire(d)
    await until(lambda: d.health.get("scripted").counters.get("dropped") == 1)
    await trio.sleep(60)
    assert len(notifier.calls) == 1 and not notifier.delivered
    assert await row(d) == ("dead", 1, "bad channel")
    health = d.health.get("scripted").as_dict()
    assert health["state"] == "failed" and "bad channel" in health["detail"]


async def test_repeated_failures_are_given_up(daemon_with, clock):
    notifier = Scripted([NotifyError(f"down {i}") for i in range(100)])
    d = await daemon_with(notifier)
    await fire(d)
    await until(lambda: d.health.get("scripted").counters.get("dropped") == 1, poll=30)
    status, attempts, error = await row(d)
    assert (status, attempts) == ("dead", outbox.MAX_ATTEMPTS)
    assert error == f"gave up after {outbox.MAX_ATTEMPTS} attempts: down 11"
    assert len(notifier.calls) == outbox.MAX_ATTEMPTS


async def test_an_alert_too_old_to_matter_expires(daemon_with, clock):
    notifier = Scripted([NotifyError("429", retry_after=3600.0) for _ in range(100)])
    d = await daemon_with(notifier)
    await fire(d)
    await until(lambda: d.health.get("scripted").counters.get("dropped") == 1, poll=600)
    status, _, error = await row(d)
    assert status == "dead" and error.startswith("expired")
    assert len(notifier.calls) == outbox.MAX_AGE // 3600  # the 7th try is not made


async def test_an_alert_is_not_sent_once_it_is_stale(daemon_with, clock):
    notifier = Scripted([NotifyError("429", retry_after=7 * 3600.0)])  # then it would work
    d = await daemon_with(notifier)
    await fire(d)
    await until(lambda: d.health.get("scripted").counters.get("dropped") == 1, poll=600)
    assert await row(d) == ("dead", 0, "expired before sending")
    assert len(notifier.calls) == 1 and not notifier.delivered


async def test_a_commit_of_rows_wakes_the_delivery_without_a_hand_off(daemon_with, clock):
    """Rows written by any store write (here a plain ``store.run``, no pipeline hand-off, no
    ``wake()``) are delivered once committed: the store's commit listener wakes the outbox,
    there is no safety poll to wait for."""
    notifier = Scripted([])
    d = await daemon_with(notifier)
    await fire(d)
    await until(lambda: notifier.delivered)
    first = notifier.delivered[0].signal
    later = msgspec.structs.replace(first, id=(first.id or 0) + 1000)
    writes = d.outbox.rows_for(Alert(kind="detector", signal=later))

    def write_rows(conn: Any) -> None:
        for write in writes:
            write(conn)
    await d.store.run(write_rows)
    await until(lambda: len(notifier.delivered) == 2, poll=0.05, timeout=30)
    assert notifier.delivered[1].signal.id == later.id
