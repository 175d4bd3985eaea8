"""The Perplexity analyst, driven by ``httpx`` against the local fake."""

from __future__ import annotations

import pytest
import trio

from trade_hunter.plugins.builtin.analysts.common import READ_SCHEMA
from trade_hunter.plugins.builtin.analysts.perplexity import PerplexityAnalyst
from trade_hunter.plugins.errors import AnalystError


def analyst(fake, **kw) -> PerplexityAnalyst:
    return PerplexityAnalyst(fake.api_key, base_url=fake.url, **kw)


async def test_a_read_end_to_end_with_citations(fake_perplexity, make_signal):
    read = await analyst(fake_perplexity).analyze(make_signal())

    assert (read.status, read.noise_or_signal, read.confidence) == ("done", "signal", "medium")
    assert (read.provider, read.model) == ("perplexity", "sonar")
    assert read.probability_yes == 0.62
    assert read.citations == fake_perplexity.citations
    [request] = fake_perplexity.requests
    assert request.path == "/chat/completions"
    assert request.headers["authorization"] == f"Bearer {fake_perplexity.api_key}"
    body = request.json()
    assert body["model"] == "sonar"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == READ_SCHEMA
    assert body["response_format"]["json_schema"]["name"] == "signal_read"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


async def test_optional_fields_may_be_missing(fake_perplexity, make_signal):
    fake_perplexity.minimal = True  # no citations, no search_results, no usage.cost
    fake_perplexity.answer.pop("probability_yes")  # optional in the schema
    read = await analyst(fake_perplexity).analyze(make_signal())
    assert read.status == "done" and read.citations == [] and read.probability_yes is None


async def test_a_reasoning_section_before_the_json_is_ignored(fake_perplexity, make_signal):
    fake_perplexity.script.append("think")
    read = await analyst(fake_perplexity).analyze(make_signal())
    assert read.noise_or_signal == "signal"
    assert len(fake_perplexity.requests) == 1


@pytest.mark.parametrize("first", [429, 503, "malformed", "no-answer", "advice", "improbable"])
async def test_one_retry_then_the_answer(fake_perplexity, make_signal, first, jump_clock):
    fake_perplexity.script.append(first)
    read = await analyst(fake_perplexity).analyze(make_signal())
    assert read.status == "done"
    assert len(fake_perplexity.requests) == 2


@pytest.mark.parametrize("reply,why", [(429, "HTTP 429: Rate limit exceeded"),
                                       (503, "HTTP 503"),
                                       ("malformed", "malformed answer after one retry"),
                                       ("advice", "trading advice"),
                                       ("improbable", "invalid answer: .*probability_yes")])
async def test_twice_is_a_failure(fake_perplexity, make_signal, reply, why, jump_clock):
    fake_perplexity.default = reply
    with pytest.raises(AnalystError, match=why):
        await analyst(fake_perplexity).analyze(make_signal())
    assert len(fake_perplexity.requests) == 2


async def test_bad_key_gets_html_and_is_final(fake_perplexity, make_signal):
    wrong = PerplexityAnalyst("pplx-wrong", base_url=fake_perplexity.url)
    with pytest.raises(AnalystError, match=r"^HTTP 401$"):
        await wrong.analyze(make_signal())
    assert len(fake_perplexity.requests) == 1


async def test_unknown_model_names_the_problem(fake_perplexity, make_signal):
    with pytest.raises(AnalystError, match="HTTP 400: Invalid model 'sonar-huge'"):
        await analyst(fake_perplexity, model="sonar-huge").analyze(make_signal())


async def test_a_hanging_server_times_out(fake_perplexity, make_signal, jump_clock):
    fake_perplexity.default = "hang"
    start = trio.current_time()
    with pytest.raises(AnalystError, match="timed out"):
        await analyst(fake_perplexity, timeout=10.0).analyze(make_signal())
    assert 20.0 <= trio.current_time() - start < 21.0


async def test_narrative_is_plain_text(fake_perplexity):
    text = await analyst(fake_perplexity).narrate("Change X from 1 to 2. Replay: -40 % alerts.")
    assert text == fake_perplexity.narrative
    body = fake_perplexity.requests[0].json()
    assert "response_format" not in body and "never give trading advice" in \
        body["messages"][0]["content"]


async def test_advice_in_a_narrative_is_refused(fake_perplexity):
    fake_perplexity.narrative = "A strong buy: you should buy YES now."
    with pytest.raises(AnalystError, match="unusable narrative"):
        await analyst(fake_perplexity).narrate("facts")
