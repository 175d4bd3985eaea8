"""The local heuristic analyst: labelled as such, no network, sensible on clear cases."""

from __future__ import annotations

import socket

import pytest

from trade_hunter.plugins.builtin.analysts.heuristic import HeuristicAnalyst, judge


async def test_an_informed_move_reads_as_signal(make_signal):
    # 30x baseline, +7c, all ten recent takers on YES, 2c spread.
    read = await HeuristicAnalyst().analyze(make_signal(bid_ask=(0.46, 0.48)))
    assert (read.noise_or_signal, read.confidence, read.direction) == ("signal", "high", "up")
    assert (read.provider, read.model) == ("heuristic", "rules-v1")
    assert read.rationale.startswith("Heuristic read (local rules, not AI): ")
    assert "30.0x the baseline" in read.rationale and "100% of the last 10 takers" in \
        read.rationale
    assert read.tuning_note == ""


def test_a_pinned_price_in_a_wide_book_reads_as_noise(make_signal):
    p = judge(make_signal(quiet_price=0.95, spike_price=0.99, bid_ask=(0.90, 1.0)))
    assert (p.noise_or_signal, p.confidence) == ("noise", "high")
    assert "The spread is wide (10c)" in p.rationale
    assert "pinned near certainty (99%)" in p.rationale
    assert "SPIKE_MIN_VOLUME_DELTA" in p.tuning_note


def test_size_without_price_impact_reads_as_noise(make_signal):
    p = judge(make_signal(spike_price=0.40))  # outlier rule: 30x volume, no move
    assert p.noise_or_signal == "noise" and p.direction == "flat"
    assert "barely moved" in p.rationale
    assert "SPIKE_SCORE_THRESHOLD" in p.tuning_note


def test_mixed_evidence_is_uncertain(make_signal):
    p = judge(make_signal(bid_ask=(0.40, 0.52)))  # strong flow, but a 12c spread
    assert (p.noise_or_signal, p.confidence) == ("uncertain", "low")
    assert "Signs point both ways." in p.rationale


async def test_it_needs_no_network(make_signal, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the heuristic analyst opened a socket")
    monkeypatch.setattr(socket, "socket", refuse)
    read = await HeuristicAnalyst().analyze(make_signal())
    assert read.status == "done"


def test_it_is_free_and_tried_last():
    from trade_hunter.plugins.builtin.analysts import heuristic
    from trade_hunter.plugins.registry import ComponentRegistry
    registry = ComponentRegistry("analyst")
    heuristic.th_register_analysts(registry)
    assert registry.items["heuristic"].priority == 1000
    assert HeuristicAnalyst.metered is False


@pytest.mark.parametrize("price", [0.02, 0.98])
def test_rationale_never_gives_advice(make_signal, price):
    from trade_hunter.plugins.builtin.analysts.common import gives_advice
    p = judge(make_signal(quiet_price=price, spike_price=price))
    assert not gives_advice(p.rationale) and not gives_advice(p.tuning_note)
