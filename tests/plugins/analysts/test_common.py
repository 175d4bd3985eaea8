"""Validation of analyst answers, the advice guard and the prompt facts."""

from __future__ import annotations

import pytest

from trade_hunter.plugins.builtin.analysts.common import (
    check_url,
    gives_advice,
    parse_json_answer,
    signal_facts,
    user_prompt,
    validate,
)
from trade_hunter.plugins.errors import AnalystError, ConfigError

GOOD = {"noise_or_signal": "noise", "direction": "down", "confidence": "low",
        "rationale": "  Thin book; the move reversed.  ", "tuning_note": "raise the\nminimum"}


def test_a_valid_answer_is_normalised():
    p = validate(GOOD)
    assert (p.noise_or_signal, p.direction, p.confidence) == ("noise", "down", "low")
    assert p.rationale == "Thin book; the move reversed."
    assert p.tuning_note == "raise the minimum"  # one line


@pytest.mark.parametrize("change,message", [
    ({"noise_or_signal": "maybe"}, "noise_or_signal"),
    ({"confidence": 3}, "confidence"),
    ({"rationale": ""}, "rationale"),
    ({"rationale": "   "}, "empty rationale"),
])
def test_invalid_answers_raise_analyst_error(change, message):
    with pytest.raises(AnalystError, match=message):
        validate({**GOOD, **change})


def test_a_missing_field_is_invalid():
    data = dict(GOOD)
    del data["tuning_note"]
    with pytest.raises(AnalystError, match="tuning_note"):
        validate(data)


@pytest.mark.parametrize("text", [
    "You should buy YES here.", "We recommend selling now.", "Consider shorting this market.",
    "A strong buy.", "Worth betting on the yes side.", "Good idea to take a position."])
def test_advice_is_detected(text):
    assert gives_advice(text)
    with pytest.raises(AnalystError, match="trading advice"):
        validate({**GOOD, "rationale": text})


@pytest.mark.parametrize("text", [
    "Takers bought YES heavily: 9 of 10 trades.", "Selling pressure on NO drove the move.",
    "Consider raising SPIKE_MIN_VOLUME_DELTA for this market.", "Buy-side flow dominated."])
def test_descriptions_of_flow_are_not_advice(text):
    assert not gives_advice(text)


def test_json_answers_in_fences_or_after_reasoning():
    import json
    raw = json.dumps(GOOD)
    assert parse_json_answer(raw).noise_or_signal == "noise"
    assert parse_json_answer(f"```json\n{raw}\n```").direction == "down"
    assert parse_json_answer(f"<think>hmm\nlong</think>\n{raw}").confidence == "low"
    with pytest.raises(AnalystError, match="not JSON"):
        parse_json_answer("It looks like noise to me.")


def test_endpoint_settings_are_checked():
    assert check_url("X_URL", " http://127.0.0.1:9/v1/ ") == "http://127.0.0.1:9/v1"
    assert check_url("X_URL", "https://api.perplexity.ai") == "https://api.perplexity.ai"
    with pytest.raises(ConfigError, match="X_URL='api.example.com': expected an http"):
        check_url("X_URL", "api.example.com")


def test_the_prompt_shows_the_numbers_a_person_would_check(make_signal):
    signal = make_signal(bid_ask=(0.46, 0.48))
    facts = signal_facts(signal)
    assert facts["yes_price"] == 0.47 and facts["implied_probability"] == "47.0%"
    assert facts["volume"]["this_event"] == 600.0
    assert facts["volume"]["baseline_per_event"] == 20.0
    assert facts["price_move"]["direction"] == "up"
    assert facts["recent_takers"] == {"yes": 10, "no": 0}
    assert facts["spread"] == pytest.approx(0.02)
    assert len(facts["recent_events"]) == 5
    assert facts["recent_events"][-1]["seconds_before"] == 30.0
    assert user_prompt(signal).startswith("Judge this spike.")
