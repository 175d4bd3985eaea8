"""``trade-hunter backtest`` on a committed slice of the development data (one market-day,
27 real trades: tests/data/kxinxu-sample.csv), its signals and outcomes worked out by hand."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from trade_hunter.outcomes.backtest.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE, MARKETS = DATA / "kxinxu-sample.csv", DATA / "kxinxu-sample-markets.csv"


def backtest(*args: str, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_classic_signals_and_outcomes_by_hand(tmp_path, capsys):
    out_file = tmp_path / "signals.jsonl"
    code, out, _ = backtest(SAMPLE, "--markets", MARKETS, "--set", "SPIKE_PROFILE=classic",
                            "--signals-out", out_file, "--json", capsys=capsys)
    assert code == 0
    signals = [json.loads(line) for line in out_file.read_text().splitlines()]
    # 1. 03:37:50 0.91 → 0.80 on 9 contracts: baseline 1 (one earlier trade of 1) → ×9,
    #    move 11¢: score 9×0.75 + 0.11/0.03×1.25 = 11.3333, outlier, high conviction, down.
    #    +1 m: no trade → 0.80, flat; +5 m (03:42:50): 0.93 at 03:42:41 → +13¢, reversed.
    # 2. 04:34:08 0.93 → 0.79 on 41: baseline (1+9+10)/3 → score 10.4458, down; +5 m: 0.93
    #    (04:37:06) → reversed. 3. 07:58:58 0.93 → 0.78 on 50: score 9.2742, down; no trade
    #    until 13:08 → flat at +5 m … +60 m.
    # 4. 13:32:31 500 contracts at an unchanged 0.91: volume only (direction flat), notable.
    # 5. 15:03:05 0.80 → 0.84 on 500: hard (500 ≥ 120, 4¢ ≥ 3¢), notable, up; flat at +5 m
    #    (next trade 15:21:04).
    assert [(s["direction"], s["tier"], s["rule"]) for s in signals] == [
        ("down", "high conviction flow", "outlier"), ("down", "high conviction flow", "outlier"),
        ("down", "high conviction flow", "outlier"), ("flat", "notable", "outlier"),
        ("up", "notable", "hard")]
    assert [s["score"] for s in signals] == pytest.approx([11.3333, 10.4458, 9.2742, 25.4237,
                                                           11.2713], abs=1e-4)
    assert [s["outcomes"][1]["outcome"] for s in signals] == [
        "reversed", "reversed", "flat", "flat", "flat"]
    assert signals[0]["outcomes"][1]["change"] == pytest.approx(0.13)
    assert all(s["result"] == "yes" for s in signals)
    card = json.loads(out)["scorecard"]
    total = card["groups"][0] if card["group_by"] == "all" else card["total"]
    five = total["horizons"][1]
    assert total["signals"] == 5 and total["directed"] == 4
    assert five["continuation"] == 0.0  # 0 continued of 2 moved
    # the market traded in 7 distinct clock hours (03, 04, 07, 13, 14, 15, 20 UTC)
    assert total["per_market_hour"] == pytest.approx(5 / 7, abs=1e-4)
    # settled YES: the up signal was right, the three down ones wrong
    assert total["settled"] == 4 and total["hit_rate"] == 0.25


def test_gated_keeps_only_the_warm_hard_move(capsys):
    # Signals 1–3 fire during the warm-up (fewer than 10 baseline points, moves under 2 × 3¢
    # with too little volume for the hard rule); 4 is volume without a move during the
    # warm-up; 5 comes after 14 baseline points and passes every gate.
    code, out, _ = backtest(SAMPLE, "--markets", MARKETS, "--json", capsys=capsys)
    card = json.loads(out)["scorecard"]
    assert code == 0 and card["signals"] == 1
    assert [g["group"] for g in card["groups"]] == ["notable"]


def test_text_report_and_compare(capsys):
    code, out, _ = backtest(SAMPLE, "--markets", MARKETS, "--compare", "SPIKE_PROFILE=classic",
                            capsys=capsys)
    assert code == 0
    assert "27 events, 1 markets" in out
    assert "Backtest by tier: 1 signals" in out and "Compared run by tier: 5 signals" in out
    assert "Difference (compared − run):\n  signals +4" in out
    assert "Informational only" in out


def test_recorded_frames_jsonl_gz(tmp_path, capsys):
    frames = tmp_path / "frames.jsonl.gz"
    trade = {"type": "trade", "sid": 2, "seq": 1, "msg": {
        "trade_id": "t1", "market_ticker": "KXTEST-1", "yes_price_dollars": "0.5000",
        "count_fp": "10.00", "taker_side": "yes", "ts": 1770000000}}
    lines = [json.dumps({"recv_ns": 1770000000_000000000, "frame": trade}),
             json.dumps({"type": "subscribed", "id": 1, "msg": {"channel": "trade", "sid": 2}}),
             json.dumps({**trade, "msg": {**trade["msg"], "trade_id": "t2",
                                          "yes_price_dollars": "0.6000", "count_fp": "500.00",
                                          "ts": 1770000060}})]
    with gzip.open(frames, "wt") as f:
        f.write("\n".join(lines) + "\n")
    code, out, _ = backtest(frames, "--set", "SPIKE_PROFILE=classic", "--json", capsys=capsys)
    data = json.loads(out)
    assert code == 0 and data["data"]["events"] == 2 and data["scorecard"]["signals"] == 1


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("ticker,created_time,yes_price_dollars,count_fp\nM,yesterday,0.5,1\n")
    code, _, err = backtest(bad, capsys=capsys)
    assert code == 2 and err.strip() == (
        f"trade-hunter backtest: {bad}:2: bad created_time 'yesterday'")
    code, _, err = backtest(SAMPLE, "--set", "SPIKE_SCORE_THRESHOLD=-1", capsys=capsys)
    assert code == 2 and "SPIKE_SCORE_THRESHOLD" in err
    code, _, err = backtest(SAMPLE, "--set", "SPIKE_NO_SUCH=1", capsys=capsys)
    assert code == 2 and "SPIKE_NO_SUCH='1': expected a setting the daemon declares" in err
    code, _, err = backtest(tmp_path / "missing.csv", capsys=capsys)
    assert code == 2 and "no such file" in err


def test_the_command_line_entry_point(tmp_path):
    done = subprocess.run([sys.executable, "-m", "trade_hunter.daemon.cli", "backtest",
                           str(SAMPLE), "--markets", str(MARKETS), "--by", "rule"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[3].startswith("Backtest by rule: 1 signals")
    assert done.stderr == ""  # no progress line when not on a terminal
