"""The Anthropic analyst, driven by the real ``anthropic`` SDK against the local fake."""

from __future__ import annotations

import pytest
import trio

from trade_hunter.plugins.builtin.analysts.anthropic import DEFAULT_MODEL, AnthropicAnalyst
from trade_hunter.plugins.builtin.analysts.common import READ_SCHEMA, TOOL_NAME
from trade_hunter.plugins.errors import AnalystError


def analyst(fake, **kw) -> AnthropicAnalyst:
    return AnthropicAnalyst(fake.api_key, base_url=fake.url, **kw)


async def test_a_read_end_to_end(fake_anthropic, make_signal):
    signal = make_signal()
    read = await analyst(fake_anthropic).analyze(signal)

    assert (read.status, read.noise_or_signal, read.direction, read.confidence) == \
        ("done", "signal", "up", "medium")
    assert read.provider == "anthropic" and read.model == DEFAULT_MODEL
    assert read.rationale.startswith("Volume ran 8x") and read.signal_id == 7
    assert read.probability_yes == 0.62  # the optional estimate, stored with the read
    [request] = fake_anthropic.requests
    # SDK 2.x sends the key as a bearer token, never anything else from the environment.
    assert request.headers["authorization"] == f"Bearer {fake_anthropic.api_key}"
    assert request.headers["anthropic-version"]
    body = request.json()
    assert body["model"] == "claude-haiku-5-5" and body["max_tokens"] <= 4096
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert body["tools"][0]["input_schema"] == READ_SCHEMA
    assert "never give trading advice" in body["system"]
    prompt = body["messages"][0]["content"]
    # The facts the issue lists: price/probability, volume vs baseline, history, side mix.
    for fact in ('"implied_probability": "47.0%"', '"multiple_of_baseline": 30.0',
                 '"change_5m": "+7.0c"', '"recent_takers"', '"yes": 10'):
        assert fact in prompt, fact


async def test_overload_is_retried_once_by_the_sdk(fake_anthropic, make_signal, jump_clock):
    fake_anthropic.script.extend([529])
    read = await analyst(fake_anthropic).analyze(make_signal())
    assert read.status == "done"
    assert fake_anthropic.retry_counts == ["0", "1"]


@pytest.mark.parametrize("status", [529, 429, 500])
async def test_still_unavailable_after_the_retry_raises(fake_anthropic, make_signal, status,
                                                        jump_clock):
    fake_anthropic.script.extend([status, status])
    with pytest.raises(AnalystError, match=f"HTTP {status}"):
        await analyst(fake_anthropic).analyze(make_signal())
    assert len(fake_anthropic.requests) == 2


async def test_auth_error_is_not_retried(fake_anthropic, make_signal):
    wrong = AnthropicAnalyst("sk-wrong", base_url=fake_anthropic.url)
    with pytest.raises(AnalystError, match="HTTP 401 authentication_error"):
        await wrong.analyze(make_signal())
    assert len(fake_anthropic.requests) == 1


@pytest.mark.parametrize("bad", ["malformed", "no-answer", "advice", "improbable"])
async def test_a_malformed_answer_is_asked_again_once(fake_anthropic, make_signal, bad):
    fake_anthropic.script.extend([bad])
    read = await analyst(fake_anthropic).analyze(make_signal())
    assert read.noise_or_signal == "signal"
    assert len(fake_anthropic.requests) == 2


@pytest.mark.parametrize("bad,why", [("malformed", "invalid answer"),
                                     ("no-answer", "no record_read tool call"),
                                     ("advice", "trading advice"),
                                     ("improbable", r"invalid answer: .*probability_yes")])
async def test_malformed_twice_raises(fake_anthropic, make_signal, bad, why):
    fake_anthropic.script.extend([bad, bad])
    with pytest.raises(AnalystError, match=f"malformed answer after one retry: .*{why}"):
        await analyst(fake_anthropic).analyze(make_signal())


async def test_a_hanging_server_times_out(fake_anthropic, make_signal, jump_clock):
    fake_anthropic.default = "hang"
    start = trio.current_time()
    with pytest.raises(AnalystError, match="timed out"):
        await analyst(fake_anthropic, timeout=10.0).analyze(make_signal())
    # Two attempts (max_retries=1) of 10 s each, plus the SDK's short backoff.
    assert 20.0 <= trio.current_time() - start < 23.0
    assert len(fake_anthropic.requests) == 2


async def test_health_records_reads_and_failures(fake_anthropic, make_signal):
    from trade_hunter.daemon.supervisor import ComponentHealth
    health = ComponentHealth("anthropic", "analyst")
    a = analyst(fake_anthropic, health=health)
    await a.analyze(make_signal())
    fake_anthropic.script.extend([401])
    with pytest.raises(AnalystError):
        await a.analyze(make_signal())
    assert health.counters == {"reads": 1, "failures": 1}
    assert health.state == "degraded" and "401" in health.detail
    assert fake_anthropic.api_key not in health.detail


def test_factory_needs_a_key_and_checks_the_endpoint(tmp_path):
    from types import SimpleNamespace

    from trade_hunter.daemon.cli import build
    from trade_hunter.plugins.builtin.analysts import anthropic, perplexity
    from trade_hunter.plugins.errors import ConfigError

    def ctx(**env: str) -> SimpleNamespace:
        settings, _, _ = build({"TRADE_HUNTER_HOME": str(tmp_path), **env})
        return SimpleNamespace(settings=settings, health=None)

    assert anthropic._factory(ctx()) is None  # no key: "not configured"
    assert perplexity._factory(ctx()) is None
    made = anthropic._factory(ctx(ANTHROPIC_API_KEY="sk-1", ANTHROPIC_MODEL="claude-haiku-4-5",
                                  ANALYST_TIMEOUT_SECONDS="12"))
    assert (made.model, made.base_url, made.timeout) == \
        ("claude-haiku-4-5", "https://api.anthropic.com", 12.0)
    with pytest.raises(ConfigError, match="ANTHROPIC_BASE_URL='api.anthropic.com': expected"):
        anthropic._factory(ctx(ANTHROPIC_API_KEY="sk-1", ANTHROPIC_BASE_URL="api.anthropic.com"))
    with pytest.raises(ConfigError, match="PERPLEXITY_BASE_URL='ftp://x': expected"):
        perplexity._factory(ctx(PERPLEXITY_API_KEY="p-1", PERPLEXITY_BASE_URL="ftp://x"))
