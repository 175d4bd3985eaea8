"""The contract's streaming helpers on trio's autojump clock: the connection loop's reasons,
its backoff growing on quick failures and reset by a healthy session, and the disconnects
counted in the health record."""

from __future__ import annotations

from functools import partial

import pytest
import trio

from trade_hunter.daemon.supervisor import ComponentHealth
from trade_hunter.plugins.streaming import (
    RESOLVE_WAIT,
    STARTUP_WAIT,
    ConnectionLoop,
    Reconnect,
    backoff,
    cancelled,
)


def test_backoff_is_full_jitter_and_capped():
    for attempt, (low, high) in enumerate([(0.25, 0.5), (0.5, 1.0), (1.0, 2.0)]):
        assert all(low <= backoff(attempt) <= high for _ in range(50))
    assert all(30 <= backoff(20, cap=60) <= 60 for _ in range(50))


def test_cancelled_sees_through_groups():
    assert cancelled(BaseExceptionGroup("x", [trio.Cancelled._create()]))
    assert not cancelled(BaseExceptionGroup("x", [trio.Cancelled._create(), OSError()]))
    assert not cancelled(OSError())


async def test_the_loop_backs_off_and_a_healthy_session_resets_it(autojump_clock):
    health = ComponentHealth("feed", "feed")
    downs: list[tuple[str, float]] = []
    loop = ConnectionLoop("feed", health, cap=8.0, healthy_after=30.0,
                          on_down=lambda reason, delay: downs.append((reason, delay)))
    script = ["fail", "fail", "fail", "healthy", "fail", "os"]

    async def connect_once() -> None:
        step = script.pop(0) if script else "stop"
        if step == "healthy":
            loop.up_at = trio.current_time()
            await trio.sleep(31)
            raise Reconnect("dropped after a good while")
        if step == "os":
            raise OSError("refused")
        if step == "stop":
            await trio.sleep_forever()
        raise Reconnect(f"quick failure {len(script)}")

    with trio.move_on_after(300):
        await loop.run(connect_once, lambda: "")
    reasons = [r for r, _ in downs]
    assert reasons == ["quick failure 5", "quick failure 4", "quick failure 3",
                       "dropped after a good while", "quick failure 1", "OSError: refused"]
    delays = [d for _, d in downs]
    for delay, (low, high) in zip(delays, [(0.25, 0.5), (0.5, 1), (1, 2), (0.25, 0.5),
                                           (0.5, 1), (1, 2)], strict=True):
        assert low <= delay <= high
    assert health.counters["disconnects"] == 6
    assert health.info["last_disconnect"] == "OSError: refused"


@pytest.mark.parametrize("told", ["the session's own reason", ""])
async def test_the_session_reason_wins_over_a_bare_transport_error(autojump_clock, told):
    downs: list[str] = []
    loop = ConnectionLoop("feed", ComponentHealth("feed", "feed"), cap=1.0,
                          on_down=lambda reason, delay: downs.append(reason))

    async def connect_once() -> None:
        raise trio.BrokenResourceError("gone")

    with trio.move_on_after(0.1):
        await loop.run(connect_once, lambda: told)
    assert downs[0] == (told or "BrokenResourceError: gone")


async def test_serve_connects_once_resolved_and_starts_at_the_first_session_up(
        autojump_clock, nursery):
    loop = ConnectionLoop("feed", ComponentHealth("feed", "feed"), cap=1.0,
                          on_down=lambda reason, delay: None)
    resolved, tries = trio.Event(), []

    async def connect_once() -> None:
        tries.append(trio.current_time())
        loop.mark_up()
        await trio.sleep_forever()

    began = trio.current_time()
    async def resolve() -> None:
        await trio.sleep(2)
        resolved.set()

    nursery.start_soon(resolve)
    await nursery.start(partial(loop.serve, connect_once, resolved=resolved))
    assert tries == [began + 2] and trio.current_time() == began + 2
    assert loop.up_at == began + 2


async def test_serve_starts_at_the_first_failure_or_the_waits_at_the_latest(
        autojump_clock, nursery):
    downs: list[str] = []
    loop = ConnectionLoop("feed", ComponentHealth("feed", "feed"), cap=1.0,
                          on_down=lambda reason, delay: downs.append(reason))

    async def connect_once() -> None:
        raise OSError("refused")

    began = trio.current_time()
    await nursery.start(partial(loop.serve, connect_once, resolved=trio.Event()))  # never set
    assert trio.current_time() == began + RESOLVE_WAIT  # connected anyway, failed at once
    assert downs == ["OSError: refused"]

    hanging = ConnectionLoop("feed", ComponentHealth("feed", "feed"), cap=1.0,
                             on_down=lambda reason, delay: None)
    began = trio.current_time()
    await nursery.start(partial(hanging.serve, trio.sleep_forever, resolved=trio.Event()))
    assert trio.current_time() == began + STARTUP_WAIT  # neither up nor down: not waited on
