"""``th-ctl notify-test``: a clearly marked test alert sent straight through each notifier's
real ``notify`` (its real client, routes and rate limits), bypassing the outbox and any
silence, and what each one answered."""

from __future__ import annotations

import time
from typing import Any

import trio

from trade_hunter.plugins.models import Alert, MarketEvent, SpikeSignal

TEST_MARKET = "TRADE-HUNTER-TEST"
TIMEOUT = 60.0


def test_alert(now: float) -> Alert:
    title = "Test message from Trade Hunter: your notifications work (not a market signal)"
    event = MarketEvent(platform="test", market_id=TEST_MARKET, title=title, yes_price=0.5,
                        event_kind="trade", source="test", timestamp=now, topic="general")
    signal = SpikeSignal(market_id=TEST_MARKET, platform="test", title=title, topic="general",
                         source="test", tier="watch", score=0.0, rule="hard", volume_delta=0.0,
                         baseline=0.0, volume_multiple=0.0, price_move=0.0, price_score=0.0,
                         direction="flat", yes_price=0.5, event=event, created_at=now, id=0,
                         demo=True)
    return Alert(kind="detector", signal=signal)


async def send_tests(notifiers: dict[str, Any], only: str | None) -> list[dict[str, Any]]:
    names = [only] if only else list(notifiers)
    alert = test_alert(time.time())
    answers = []
    for name in names:
        started = time.monotonic()
        try:
            with trio.fail_after(TIMEOUT):
                await notifiers[name].notify(alert)
        except trio.TooSlowError:
            answers.append({"notifier": name, "ok": False,
                            "answer": f"no answer within {TIMEOUT:.0f}s"})
        except Exception as exc:  # noqa: BLE001 - reported, that is the point of the test
            answers.append({"notifier": name, "ok": False,
                            "answer": f"{type(exc).__name__}: {exc}"[:500]})
        else:
            answers.append({"notifier": name, "ok": True, "answer": "delivered",
                            "seconds": round(time.monotonic() - started, 2)})
    return answers
