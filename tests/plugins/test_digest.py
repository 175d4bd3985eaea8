"""The daily digest through a real daemon and the local fake Discord, on Trio's virtual clock:
its content on a known day (strongest signals, counts by topic and tier, muted counts), the
scheduled send, the send after a restart that missed it (once), --dry-run, bad settings."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from trade_hunter.daemon.digest import parse_schedule
from trade_hunter.plugins.errors import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_discord_delivery as delivery
from conftest import make_daemon, run_daemon
from test_discord_delivery import NO_ANALYSTS, fire, until

clock, fake = delivery.clock, delivery.fake


def zone_and_time(offset_minutes: int) -> tuple[str, str]:
    """A fixed-offset zone where it is mid-day now (so "today" cannot wrap during the test),
    and the HH:MM there ``offset_minutes`` from now."""
    now = datetime.now(UTC)
    for hours in range(-12, 13):
        local = now + timedelta(hours=hours)
        if 3 <= local.hour <= 20:
            # Etc/GMT-N is N hours *ahead* of UTC (POSIX sign convention).
            name = "Etc/GMT" + (f"-{hours}" if hours > 0 else f"+{-hours}" if hours else "")
            at = local + timedelta(minutes=offset_minutes)
            return name, at.strftime("%H:%M")
    raise AssertionError("no zone at mid-day")


def digests(fake) -> list[dict]:
    return [m for m in fake.messages if "daily digest" in m["body"]["embeds"][0]["title"]]


def test_the_public_dashboard_address_is_checked():
    from trade_hunter.daemon.links import DashboardLinks, parse_public_url
    assert parse_public_url(" https://hunter.example.com/th/ ") == "https://hunter.example.com/th"
    assert parse_public_url("") == ""
    for bad in ("hunter.example.com", "ftp://x", "http://", "https://h/?a=1"):
        with pytest.raises(ConfigError) as err:
            parse_public_url(bad)
        assert "DASHBOARD_PUBLIC_URL" in str(err.value)
    bound = DashboardLinks("", lambda: "")
    assert bound.market("M") is None  # not served yet: no link rather than a wrong one
    assert DashboardLinks("", lambda: "http://127.0.0.1:8765/").market("A B/C") == \
        "http://127.0.0.1:8765/market/A%20B%2FC"


async def test_every_bad_extra_setting_stops_start_up_at_once(tmp_path):
    d = make_daemon(tmp_path / "home", DIGEST_AT="25:00",
                    DASHBOARD_PUBLIC_URL="hunter.example.com")
    with pytest.raises(ConfigError) as err:
        await d.run()
    lines = str(err.value).splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["DIGEST_AT", "DASHBOARD_PUBLIC_URL"]
    assert not (tmp_path / "home" / "trade-hunter.db").exists()  # before any I/O


def test_schedule_settings_are_checked():
    assert parse_schedule("", "")[0] is None
    assert parse_schedule("8:05", "Europe/Paris")[0] == (8, 5)
    for at, zone, name in (("25:00", "", "DIGEST_AT"), ("8h", "", "DIGEST_AT"),
                           ("08:00", "Mars/Olympus", "DIGEST_TIMEZONE")):
        with pytest.raises(ConfigError) as err:
            parse_schedule(at, zone)
        assert name in str(err.value)


async def test_the_digest_goes_out_at_the_set_time_with_the_days_content(
        start_daemon, fake, clock):
    url = fake.add_webhook("general")
    zone, at = zone_and_time(3)
    d = await start_daemon(DISCORD_WEBHOOK_URL=url, DISABLED_PLUGINS=NO_ANALYSTS,
                           DIGEST_AT=at, DIGEST_TIMEZONE=zone)
    await d.service.call("silence.add", {"matchers": "market=QUIET-*"})
    await fire(d, "LOUD-1", topic="crypto")
    await fire(d, "LOUD-2", topic="sports")
    await fire(d, "QUIET-1", topic="crypto")
    await until(lambda: len(fake.messages) == 2 and d.store.query(
        "SELECT 1 FROM outbox WHERE status='muted'"))
    dry = await d.service.call("digest.run", {"dry_run": True})
    assert "results" not in dry and len(fake.messages) == 2  # printed, not sent
    assert "3 signals today" in dry["body"]
    assert "By topic: crypto 2, sports 1" in dry["body"]
    assert "Muted: 1 alerts by 1 silences" in dry["body"]
    strongest = dry["body"].split("Strongest:\n")[1].split("\n\n")[0].splitlines()[::2]
    assert len(strongest) == 3 and all("LOUD" in s or "QUIET" in s for s in strongest)
    base = d.dashboard_url.rstrip("/")
    assert all(s.endswith(f" · {base}/market/{s.split(' · ')[1]}") for s in strongest)

    await until(lambda: digests(fake), timeout=400)  # the virtual clock reaches DIGEST_AT
    [sent] = digests(fake)
    assert sent["body"]["embeds"][0]["description"] == dry["body"]
    await trio.sleep(600)
    assert len(digests(fake)) == 1  # once a day


async def test_a_missed_digest_is_sent_once_after_a_restart(fake, clock, tmp_path, nursery):
    url = fake.add_webhook("general")
    zone, at = zone_and_time(-2)  # the time passed while the daemon was stopped
    env = {"DISCORD_WEBHOOK_URL": url, "DISABLED_PLUGINS": NO_ANALYSTS, "DIGEST_AT": at,
           "DIGEST_TIMEZONE": zone}
    for _ in range(2):
        d = make_daemon(tmp_path, **env)
        done = await run_daemon(nursery, d)
        await until(lambda: digests(fake), timeout=60)
        await trio.sleep(60)
        d.request_shutdown("test restart")
        await done.wait()
    assert len(digests(fake)) == 1
    d = make_daemon(tmp_path, **env)
    done = await run_daemon(nursery, d)
    answer = await d.service.call("digest.run", {"now": True})  # th-ctl digest --now
    assert answer["results"] == [{"notifier": "discord", "ok": True, "answer": "delivered"}]
    assert len(digests(fake)) == 2
    d.request_shutdown("test finished")
    await done.wait()


async def test_the_digest_gives_outcomes_so_far_and_the_days_continuation(
        start_daemon, fake, clock):
    from trade_hunter.daemon.outcome_store import outcome_row, write_outcomes
    from trade_hunter.outcomes.baseline import Tally
    from trade_hunter.outcomes.grading import HORIZONS, HorizonOutcome

    zone, at = zone_and_time(180)  # not sent during the test: built with --dry-run
    d = await start_daemon(DISCORD_WEBHOOK_URL=fake.add_webhook("general"),
                           DISABLED_PLUGINS=NO_ANALYSTS, DIGEST_AT=at, DIGEST_TIMEZONE=zone)
    empty = await d.service.call("digest.run", {"dry_run": True})
    assert "Continuation today: no signal of today graded yet" in empty["body"]
    one = await fire(d, "LOUD-1", topic="crypto")
    two = await fire(d, "LOUD-2", topic="sports")
    await fire(d, "LOUD-3", topic="sports")  # not graded yet: pending

    def graded(classes: dict[int, tuple[str, float]]) -> list[HorizonOutcome]:
        return [HorizonOutcome(horizon=h, outcome=classes[h][0], change=classes[h][1])  # type: ignore[arg-type]
                if h in classes else HorizonOutcome(horizon=h) for h in HORIZONS]
    # +1m: one continued, one reversed (50%); baselines 2/2 and 1/3 (3 of 8: 38%).
    # +5m: one continued, one flat (100% of the directed moves); baselines 1/1 twice (50%).
    await d.store.run(write_outcomes([
        outcome_row(one, graded({60: ("continued", 0.02), 300: ("continued", 0.03)}),
                    [Tally(2, 2), Tally(1, 1), Tally(), Tally()], False),
        outcome_row(two, graded({60: ("reversed", -0.01), 300: ("flat", 0.0)}),
                    [Tally(1, 3), Tally(1, 1), Tally(), Tally()], False)]))
    body = (await d.service.call("digest.run", {"dry_run": True}))["body"]
    strongest = body.split("Strongest:\n")[1].split("\n\n")[0].splitlines()
    outcomes = {line.split(" · ")[1]: nxt.strip() for line, nxt
                in zip(strongest[::2], strongest[1::2], strict=True)}
    assert outcomes == {
        "LOUD-1": "outcomes so far: +1m continued +2¢ · +5m continued +3¢",
        "LOUD-2": "outcomes so far: +1m reversed −1¢ · +5m flat ±0¢",
        "LOUD-3": "outcomes so far: pending"}
    day = body.split("lift in points:\n")[1].split("\n\n")[0].splitlines()
    assert [line.split(" · lift ")[0] for line in day] == [
        "+1m: 50% of 2 graded vs 38% baseline", "+5m: 100% of 2 graded vs 50% baseline"]
    assert day[0].split(" · lift ")[1].startswith("+12.5")  # 50 − 37.5 points
