"""The Discord notifier against a local fake Discord (real wire format, limits, 429 buckets,
Cloudflare): payloads, routing and modes, and every failure answer. Time runs on Trio's
autojump clock (the fake lives in the same loop), so rate-limit waits take no real time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from trade_hunter.daemon.config import core_registry, load_settings
from trade_hunter.daemon.supervisor import ComponentHealth
from trade_hunter.plugins.builtin.notifiers import discord
from trade_hunter.plugins.builtin.notifiers import discord_embeds as embeds
from trade_hunter.plugins.builtin.notifiers.discord import make_notifier
from trade_hunter.plugins.builtin.notifiers.discord_http import MIN_RETRY
from trade_hunter.plugins.errors import ConfigError, NotifyError, PermanentNotifyError
from trade_hunter.plugins.models import Alert, AnalystRead, MarketEvent, SignalContext, SpikeSignal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_discord import FakeDiscord, validate


def signal(market: str = "KXBTC15M-26NOV2715-T100", *, topic: str = "crypto",
           title: str = "Bitcoin above $100k at 3:15pm?", sid: int = 7,
           platform: str = "kalshi", **kw: Any) -> SpikeSignal:
    event = MarketEvent(platform=platform, market_id=market, title=title, yes_price=0.62,
                        volume=900.0, event_kind="trade", trade_side="yes", source="kalshi",
                        timestamp=1_795_000_000.0)
    fields: dict[str, Any] = {
        "market_id": market, "platform": platform, "title": title, "topic": topic,
        "source": "kalshi", "tier": "high conviction flow", "score": 5.25, "rule": "hard",
        "volume_delta": 900.0, "baseline": 40.0, "volume_multiple": 22.5, "price_move": 0.07,
        "price_score": 2.3, "direction": "up", "yes_price": 0.62, "event": event,
        "created_at": 1_795_000_000.0, "id": sid,
        "context": SignalContext(price_change_1m=0.05, price_change_5m=0.07, yes_trades=9,
                                 no_trades=2, spread=0.02)}
    fields.update(kw)
    return SpikeSignal(**fields)


def read(label: str = "signal", confidence: str = "high", **kw: Any) -> AnalystRead:
    fields: dict[str, Any] = {
        "signal_id": 7, "noise_or_signal": label, "confidence": confidence, "direction": "up",
        "rationale": "Large same-side taker flow into a thin book.", "tuning_note": "none",
        "provider": "heuristic", "created_at": 1_795_000_030.0}
    return AnalystRead(**{**fields, **kw})


def settings(**raw: str) -> Any:
    declared = core_registry()
    discord.th_add_settings(declared)  # the plugin declares its own settings
    return load_settings(declared.items.values(), {"TRADE_HUNTER_HOME": "/tmp/x", **raw})


class Ctx:
    def __init__(self, **raw: str) -> None:
        self.settings = settings(**raw)
        self.health = ComponentHealth("discord", "notifier")


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeDiscord:
    server = FakeDiscord()
    await nursery.start(server.serve)
    return server


# --------------------------------------------------------------------------- payloads
def test_every_field_fits_discords_limits_even_for_huge_inputs():
    huge = "📈 " * 5000 + "@everyone"
    sig = signal(title=huge, market_id="X" * 3000, source="s" * 3000)
    long_read = read(rationale="why " * 3000, tuning_note="n" * 5000,
                     citations=[f"https://example.org/{i}/{'x' * 300}" for i in range(40)])
    for alert in (Alert(kind="detector", signal=sig),
                  Alert(kind="analyst", signal=sig, read=long_read)):
        payload = embeds.build_payload(alert)
        assert validate(payload) == {}
        [embed] = payload["embeds"]
        assert embeds.units(embed["title"]) <= 256 and embed["title"].endswith("…")
        assert embeds.embed_size(embed) <= 6000
        assert all(embeds.units(f["value"]) <= 1024 and f["value"] for f in embed["fields"])
        assert payload["allowed_mentions"] == {"parse": []}
        assert payload["username"] == "Trade Hunter"


def test_detector_embed_shows_the_spike_at_a_glance():
    payload = embeds.build_payload(Alert(kind="detector", signal=signal()))
    [embed] = payload["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert embed["title"] == "Bitcoin above $100k at 3:15pm?"
    assert embed["url"] == "https://kalshi.com/markets/kxbtc15m"
    assert embed["color"] == embeds.TIER_COLOURS["high conviction flow"]
    assert fields["Market"] == "`KXBTC15M-26NOV2715-T100` · kalshi"
    assert fields["Price"] == "62¢ (▲ +7¢)"
    assert fields["Volume"] == "900 vs 40 baseline (22.5×)"
    assert fields["Score"] == "5.25 · hard rule"
    assert fields["Tier"] == "high conviction flow"
    assert fields["Time"] == "<t:1795000000:T> (<t:1795000000:R>)"
    assert fields["Taker mix"] == "9 yes / 2 no" and fields["Spread"] == "2¢"
    assert embed["timestamp"] == "2026-11-18T11:06:40.000Z"


def test_an_escalation_is_an_update_naming_its_alert():
    # Webhook messages can only be edited with the id of the message sent: the update is a
    # new message that names the alert it escalates and the move since.
    esc = signal(escalation=2, escalates=1_794_999_940.0, move_since_signal=-0.2)
    [embed] = embeds.build_payload(Alert(kind="detector", signal=esc))["embeds"]
    assert embed["description"].startswith(
        "**Escalated 2×** (update of the alert of <t:1794999940:T> · now -20¢ since it). "
        "Unusual high conviction flow activity")
    [plain] = embeds.build_payload(Alert(kind="detector", signal=signal()))["embeds"]
    assert plain["description"].startswith("Unusual high conviction flow activity")


def test_follow_up_embed_carries_the_read():
    alert = Alert(kind="analyst", signal=signal(), read=read(model="h-1"))
    [embed] = embeds.build_payload(alert)["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert embed["title"].startswith("Analyst read: signal · Bitcoin above")
    assert embed["description"] == "Large same-side taker flow into a thin book."
    assert (fields["Label"], fields["Confidence"], fields["Direction"]) == \
        ("signal", "high", "up")
    assert embed["color"] == embeds.LABEL_COLOURS["signal"]
    assert "analyst heuristic / h-1" in embed["footer"]["text"]


def test_the_market_page_on_the_dashboard_is_linked_next_to_the_venue():
    page = "http://127.0.0.1:8765/market/KXBTC15M-26NOV2715-T100"
    [embed] = embeds.build_payload(Alert(kind="detector", signal=signal()), page)["embeds"]
    assert embed["fields"][0] == {
        "name": "Links", "inline": False,
        "value": f"[market page]({page}) · [on the venue](https://kalshi.com/markets/kxbtc15m)"}
    custom = embeds.build_payload(Alert(kind="detector", signal=signal(platform="custom")),
                                  page)["embeds"][0]
    assert custom["fields"][0]["value"] == f"[market page]({page})"
    [bare] = embeds.build_payload(Alert(kind="detector", signal=signal(platform="custom"))
                                  )["embeds"]
    assert all(f["name"] != "Links" for f in bare["fields"])


def test_market_links_are_http_only():
    assert embeds.market_url(signal(platform="polymarket", market_id="will-it-rain")) == \
        "https://polymarket.com/market/will-it-rain"
    assert embeds.market_url(signal(platform="custom", market_id="M1")) is None
    sig = signal(platform="custom")
    sig.event.metadata = {"url": "javascript:alert(1)"}
    assert embeds.market_url(sig) is None


# --------------------------------------------------------------------------- modes, routes
def test_modes_and_routes_decide_what_goes_where():
    base = "https://discord.com/api/webhooks"
    ctx = Ctx(DISCORD_WEBHOOK_URL=f"{base}/1/aaa",
              DISCORD_WEBHOOK_ROUTES=f"crypto={base}/2/bbb; sports={base}/1/aaa")
    n = make_notifier(ctx)
    crypto, macro, sports = signal(topic="crypto"), signal(topic="macro"), signal(topic="sports")
    assert n.lane(Alert(kind="detector", signal=crypto)) == "crypto"
    assert n.lane(Alert(kind="detector", signal=macro)) == "default+sports"
    assert n.lane(Alert(kind="detector", signal=sports)) == "default+sports"

    def wants(mode: str, followup: str = "true", min_conf: str = "medium") -> list[bool]:
        n = make_notifier(Ctx(DISCORD_WEBHOOK_URL=f"{base}/1/aaa", DISCORD_ALERT_MODE=mode,
                              DISCORD_ANALYST_FOLLOWUP=followup,
                              DISCORD_ANALYST_MIN_CONFIDENCE=min_conf))
        alerts = [Alert(kind="detector", signal=crypto),
                  Alert(kind="analyst", signal=crypto, read=read("signal", "high")),
                  Alert(kind="analyst", signal=crypto, read=read("signal", "low")),
                  Alert(kind="analyst", signal=crypto, read=read("noise", "high")),
                  Alert(kind="analyst", signal=crypto,
                        read=AnalystRead(signal_id=7, status="failed", error="x"))]
        return [n.wants(a) for a in alerts]

    assert wants("all") == [True, True, True, True, False]
    assert wants("all", followup="false") == [True, False, False, False, False]
    assert wants("detector-only") == [True, False, False, False, False]
    assert wants("analyst-signals-only") == [False, True, False, False, False]
    assert wants("analyst-signals-only", min_conf="low") == [False, True, True, False, False]
    # Only topic routes, no default: other topics are not sent at all.
    only = make_notifier(Ctx(DISCORD_WEBHOOK_ROUTES=f"crypto={base}/2/bbb"))
    assert only.wants(Alert(kind="detector", signal=crypto))
    assert not only.wants(Alert(kind="detector", signal=macro))
    assert make_notifier(Ctx()) is None  # not configured: disabled, not failed


@pytest.mark.parametrize(("raw", "variable", "expected"), [
    ({"DISCORD_WEBHOOK_URL": "https://example.org/hooks/1/secret-token"},
     "DISCORD_WEBHOOK_URL", "a Discord webhook URL"),
    ({"DISCORD_WEBHOOK_URL": "http://discord.com/api/webhooks/1/secret-token"},
     "DISCORD_WEBHOOK_URL", "https://"),
    ({"DISCORD_WEBHOOK_ROUTES": "crypt=https://discord.com/api/webhooks/1/secret-token"},
     "DISCORD_WEBHOOK_ROUTES", "topics among"),
    ({"DISCORD_WEBHOOK_ROUTES": "https://discord.com/api/webhooks/1/secret-token"},
     "DISCORD_WEBHOOK_ROUTES", "topic=url pairs"),
])
def test_bad_webhook_settings_name_the_variable_and_never_echo_the_token(raw, variable,
                                                                          expected):
    with pytest.raises(ConfigError) as info:
        make_notifier(Ctx(**raw))
    message = str(info.value)
    assert message.startswith(f"{variable}=") and expected in message
    assert "secret-token" not in message


def test_a_bad_webhook_stops_start_up_with_one_line(tmp_path):
    env = {**os.environ, "TRADE_HUNTER_HOME": str(tmp_path), "APP_PORT": "0",
           "ENABLE_SIMULATION": "false", "THIRD_PARTY_PLUGINS": "false",
           "DISCORD_WEBHOOK_URL": "https://example.org/api/hooks/1/supersecret"}
    result = subprocess.run([sys.executable, "-m", "trade_hunter.daemon.cli"], env=env,
                            capture_output=True, text=True, timeout=60, check=False,
                            cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        ("trade-hunter: configuration error: DISCORD_WEBHOOK_URL='https://example.org/…': "
        "expected a Discord webhook URL (https://discord.com/api/webhooks/<id>/<token>)")]
    assert "supersecret" not in result.stdout + result.stderr


# --------------------------------------------------------------------------- wire
async def test_sends_one_embed_to_api_v10_with_a_real_user_agent(fake, autojump_clock):
    url = fake.add_webhook("alerts", unversioned=True)  # as copied from Discord's UI
    ctx = Ctx(DISCORD_WEBHOOK_URL=url)
    await make_notifier(ctx).notify(Alert(kind="detector", signal=signal()))
    [seen] = fake.requests
    assert (seen.version, seen.status, seen.query) == ("v10", 200, {"wait": "true"})
    assert seen.headers["user-agent"].startswith("TradeHunter/")
    assert seen.headers["content-type"] == "application/json"
    assert seen.body["allowed_mentions"] == {"parse": []}
    assert fake.delivered("alerts")[0]["body"]["embeds"][0]["title"].startswith("Bitcoin")
    assert ctx.health.info["webhooks"] == {"default": "ok"}
    # The fake really is behind "Cloudflare": a default Python agent is refused.
    async with httpx.AsyncClient() as plain:
        refused = await plain.post(url, json={"content": "hi"})
    assert refused.status_code == 403 and "1010" in refused.text


async def test_the_rate_limit_headers_are_honoured_before_a_429(fake, autojump_clock):
    url = fake.add_webhook("alerts")
    n = make_notifier(Ctx(DISCORD_WEBHOOK_URL=url))
    start = trio.current_time()
    for i in range(12):
        await n.notify(Alert(kind="detector", signal=signal(sid=i)))
    statuses = [r.status for r in fake.requests]
    assert statuses == [200] * 12  # never rate limited: waits for Reset-After instead
    times = [r.at - start for r in fake.requests]
    for i in range(len(times) - 5):  # at most 5 per 2 s window
        assert times[i + 5] - times[i] >= 2.0 - 1e-6
    assert [m["body"]["embeds"][0]["footer"]["text"].split(" · ")[1]
            for m in fake.messages] == [f"signal #{i}" for i in range(12)]


async def test_a_429_pauses_that_webhook_for_retry_after(fake, autojump_clock):
    url = fake.add_webhook("alerts")
    n = make_notifier(Ctx(DISCORD_WEBHOOK_URL=url))
    fake.fail(url, ("429", 3.5))
    with pytest.raises(NotifyError) as info:
        await n.notify(Alert(kind="detector", signal=signal()))
    assert info.value.retry_after == 3.5 and "rate limited (user)" in str(info.value)
    t0 = trio.current_time()
    await n.notify(Alert(kind="detector", signal=signal()))  # waits out the pause, then sends
    assert trio.current_time() - t0 >= 3.5 - 1e-3
    assert [r.status for r in fake.requests] == [429, 200]


async def test_a_global_429_pauses_every_webhook(fake, autojump_clock):
    a, b = fake.add_webhook("a"), fake.add_webhook("b")
    n = make_notifier(Ctx(DISCORD_WEBHOOK_URL=a, DISCORD_WEBHOOK_ROUTES=f"macro={b}"))
    fake.fail(a, ("global", 30.0))
    with pytest.raises(NotifyError):
        await n.notify(Alert(kind="detector", signal=signal(topic="crypto")))
    with pytest.raises(NotifyError) as info:  # the other webhook is paused too
        await n.notify(Alert(kind="detector", signal=signal(topic="macro")))
    assert info.value.retry_after == pytest.approx(30.0)
    assert len(fake.requests) == 1


async def test_a_429_without_via_is_a_cloudflare_ban(fake, autojump_clock):
    url = fake.add_webhook("alerts")
    n = make_notifier(Ctx(DISCORD_WEBHOOK_URL=url))
    fake.fail(url, ("ban", 5))
    with pytest.raises(NotifyError) as info:
        await n.notify(Alert(kind="detector", signal=signal()))
    assert info.value.retry_after >= 60 and "Cloudflare" in str(info.value)


@pytest.mark.parametrize("answer", ["404", "401"])
async def test_a_dead_webhook_is_disabled_not_retried(fake, autojump_clock, answer):
    url = fake.add_webhook("alerts")
    ctx = Ctx(DISCORD_WEBHOOK_URL=url)
    n = make_notifier(ctx)
    fake.fail(url, answer)
    with pytest.raises(PermanentNotifyError, match=f"disabled: {answer}"):
        await n.notify(Alert(kind="detector", signal=signal()))
    with pytest.raises(PermanentNotifyError, match="is disabled"):
        await n.notify(Alert(kind="detector", signal=signal()))
    assert len(fake.requests) == 1  # never asked again
    assert ctx.health.info["webhooks"]["default"].startswith(f"Discord answered {answer}")


async def test_a_403_block_pauses_the_webhook_for_minutes(fake, autojump_clock):
    url = fake.add_webhook("alerts")
    n = make_notifier(Ctx(DISCORD_WEBHOOK_URL=url))
    fake.fail(url, "403")
    with pytest.raises(NotifyError) as info:
        await n.notify(Alert(kind="detector", signal=signal()))
    assert info.value.retry_after >= 300 and "forbidden" in str(info.value)
    with pytest.raises(NotifyError, match="paused"):  # not asked again meanwhile
        await n.notify(Alert(kind="detector", signal=signal()))
    assert len(fake.requests) == 1


async def test_a_wrong_token_is_a_real_401(fake, autojump_clock):
    url = fake.add_webhook("alerts")
    n = make_notifier(Ctx(DISCORD_WEBHOOK_URL=url[:-4] + "zzzz"))
    with pytest.raises(PermanentNotifyError, match="401 50027 Invalid Webhook Token"):
        await n.notify(Alert(kind="detector", signal=signal()))


@pytest.mark.parametrize("answer", ["500", "502", ("slow", 60.0)])
async def test_server_errors_and_timeouts_are_retryable(fake, autojump_clock, answer):
    url = fake.add_webhook("alerts")
    n = make_notifier(Ctx(DISCORD_WEBHOOK_URL=url))
    fake.fail(url, answer)
    with pytest.raises(NotifyError) as info:
        await n.notify(Alert(kind="detector", signal=signal()))
    assert info.value.retry_after is None  # the outbox backs off
    assert "timed out" in str(info.value) if isinstance(answer, tuple) else \
        f"Discord error {answer}" in str(info.value)
    await n.notify(Alert(kind="detector", signal=signal()))
    assert len(fake.messages) == 1


async def test_a_refused_message_is_dropped_with_discords_reason(fake, autojump_clock):
    url = fake.add_webhook("alerts")
    n = make_notifier(Ctx(DISCORD_WEBHOOK_URL=url))
    webhook = n.default
    payload = {"embeds": [{"title": "t" * 300}]}  # bypasses fit(): Discord says why
    with pytest.raises(PermanentNotifyError, match=r"50035 Invalid Form Body "
                                                   r"\(embeds\.0\.title: Must be 256"):
        await n.client.execute(webhook, payload)


async def test_a_zero_retry_after_cannot_spin(fake, autojump_clock):
    url = fake.add_webhook("alerts")
    n = make_notifier(Ctx(DISCORD_WEBHOOK_URL=url))
    fake.fail(url, ("429", 0.0001))
    with pytest.raises(NotifyError) as info:
        await n.notify(Alert(kind="detector", signal=signal()))
    assert info.value.retry_after == MIN_RETRY
