"""Silences, snoozes and acknowledgements: matchers (glob, AND, refusals), snooze boundaries,
expiry on the daemon's (virtual) clock, early expiry, muted counts, persistence; through a
real daemon whose outbox delivers to a plain third-party-style notifier."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import trio

from trade_hunter.daemon import matchers
from trade_hunter.daemon.matchers import MatcherError, parse_duration, parse_matchers, under
from trade_hunter.daemon.silences import MuteBook
from trade_hunter.plugins import models
from trade_hunter.plugins.errors import RpcError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_outbox
from test_outbox import Scripted, fire, until

# The outbox tests' fixtures: a real daemon with a scripted notifier, a virtual clock.
clock, daemon_with = test_outbox.clock, test_outbox.daemon_with


def sig(**kw: Any) -> SimpleNamespace:
    base = {"topic": "crypto", "market_id": "KXHIGHNY-25DEC06-B40", "tier": "watch",
            "source": "kalshi", "rule": "hard", "created_at": 0.0}
    return SimpleNamespace(**(base | kw))


def test_matchers_glob_and_and():
    ms = parse_matchers("topic=crypto, market=KXHIGHNY-*  tier=watch")
    assert [str(m) for m in ms] == ["topic=crypto", "market=KXHIGHNY-*", "tier=watch"]
    assert all(m.matches(sig()) for m in ms)
    assert not all(m.matches(sig(tier="notable")) for m in ms)
    assert not all(m.matches(sig(market_id="KXHIGHCHI-1")) for m in ms)
    assert parse_matchers("tier=high-conviction-flow")[0].value == "high conviction flow"
    assert parse_matchers("source=poly*")[0].matches(sig(source="polyalerthub"))


def test_malformed_matchers_name_every_problem():
    with pytest.raises(MatcherError) as err:
        parse_matchers("topic=cryptoo colour=red market= nonsense")
    text = str(err.value)
    for part in ("'topic=cryptoo'", "'colour=red'", "'market='", "'nonsense'"):
        assert part in text
    for bad in ("", "topic=crypto topic=sports", "tier=wach"):
        with pytest.raises(MatcherError):
            parse_matchers(bad)


def test_durations_and_snooze_targets():
    assert parse_duration("90s") == 90
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2d") == 2 * 86400
    for bad in ("", "0m", "2x", "h", "91d", "-1h", "1h foo"):
        with pytest.raises(MatcherError):
            parse_duration(bad)
    assert under("KXBTC15M-25DEC06-T100", "KXBTC15M")
    assert under("KXBTC15M", "KXBTC15M")
    assert not under("KXBTC15MX-1", "KXBTC15M")  # another series, same start


def test_known_values_match_the_models():
    assert matchers.KNOWN["tier"] == models.TIERS
    assert matchers.KNOWN["topic"] == models.TOPICS
    assert set(matchers.KNOWN["rule"]) == set(models.Rule.__args__)  # type: ignore[attr-defined]


async def test_an_incident_is_muted_only_when_all_its_markets_are(tmp_path):
    from trade_hunter.daemon.store import Store
    store = Store(tmp_path / "db.sqlite")
    store.open()
    try:
        book = MuteBook(store)
        await book.add("snooze", parse_matchers("market=KXA-E1-M1"), 3600, "")
        item = lambda m: SimpleNamespace(market_id=m, tier="watch")
        alert = SimpleNamespace(signal=sig(market_id="KXA-E1-M2"), incident=SimpleNamespace(
            signals=[item("KXA-E1-M2"), item("KXA-E1-M1")]))
        assert book.mute_key(alert) is None  # M2 is not snoozed: the incident goes out
        await book.add("snooze", parse_matchers("market=KXA-E1"), 3600, "")
        assert book.mute_key(alert) == "snooze:2"
    finally:
        store.close()


def delivered_markets(notifier: Scripted) -> list[str]:
    return sorted(a.signal.market_id for a in notifier.delivered)


async def test_silences_and_snoozes_mute_delivery_only(daemon_with, clock):
    notifier = Scripted([])
    d = await daemon_with(notifier)
    call = d.service.call
    silence = (await call("silence.add", {"matchers": "market=KXA-*", "duration": "2h",
                                          "comment": "noisy"}))["silence"]
    snooze = (await call("snooze.add", {"target": "kxb", "duration": "1h"}))["snooze"]
    assert snooze["target"] == "KXB"
    with pytest.raises(RpcError) as err:
        await call("silence.add", {"matchers": "topic=nope"})
    assert err.value.code == "invalid_params"
    with pytest.raises(RpcError):
        await call("snooze.add", {"target": "KXB", "duration": "soon"})
    listed = await call("silence.list")
    assert [s["id"] for s in listed["silences"]] == [snooze["id"], silence["id"]]

    for market in ("KXA-1", "KXB-E1-M1", "KXC-1"):
        await fire(d, market)
    await until(lambda: len(notifier.delivered) >= 1)
    await d.store.flush()
    await until(lambda: _statuses(d) == {"muted": 2, "sent": 1})
    assert delivered_markets(notifier) == ["KXC-1"]
    # Still detected and stored: three signals, two of them shown muted.
    stored = await d.store.aquery("SELECT market_id FROM signals ORDER BY id")
    assert [r[0] for r in stored] == ["KXA-1", "KXB-E1-M1", "KXC-1"]
    state = await call("alerts.state")
    assert sorted(v["kind"] for v in state["muted"].values()) == ["silence", "snooze"]
    assert state["muted_today"]["alerts"] == 2 and state["muted_today"]["silences"] == 2
    assert d.health.get("scripted").as_dict()["counters"]["muted"] == 2

    # Expired early: the next signal on that market goes out; the silence stays listed.
    expired = (await call("silence.expire", {"id": silence["id"]}))["silence"]
    assert expired["state"] == "expired"
    await fire(d, "KXA-2")
    await until(lambda: "KXA-2" in delivered_markets(notifier))
    # The snooze ends on the daemon's clock: an hour later KXB's markets notify again.
    await trio.sleep(3601)
    await fire(d, "KXB-E1-M2")
    await until(lambda: "KXB-E1-M2" in delivered_markets(notifier))
    listed = await call("silence.list")
    assert {s["state"] for s in listed["silences"]} == {"expired"}
    assert (await call("silence.delete", {"id": silence["id"]}))["deleted"] == silence["id"]
    with pytest.raises(RpcError):
        await call("silence.delete", {"id": silence["id"]})

    # Persisted: a fresh book on the same database knows the snooze (and not the deleted).
    book = MuteBook(d.store)
    await trio.to_thread.run_sync(book.load)
    assert list(book.silences) == [snooze["id"]]


async def test_acknowledge_and_unread(daemon_with, clock):
    d = await daemon_with(Scripted([]))
    for market in ("M-1", "M-2", "M-3"):
        await fire(d, market)
    await until(lambda: len(d.live.signals) == 3)
    ids = sorted(s.id for s in d.live.signals.values())
    answer = await d.service.call("signals.ack", {"ids": f"{ids[0]}, {ids[1]}"})
    assert answer["acked"] == ids[:2] and answer["unread"] == 1
    unread = await d.service.call("signals.list", {"unread": True})
    assert [s["id"] for s in unread["signals"]] == [ids[2]]
    with pytest.raises(RpcError):
        await d.service.call("signals.ack", {"ids": "one"})
    assert (await d.service.call("signals.ack", {"ids": "all"}))["unread"] == 0
    book = MuteBook(d.store)
    await trio.to_thread.run_sync(book.load)
    assert book.acked == set(ids)


def _statuses(d: Any) -> dict[str, int]:
    return dict(d.store.query("SELECT status, COUNT(*) FROM outbox GROUP BY status"))
