"""The optimised frame parser gives exactly the events of the reference parser.

plugins/builtin/kalshi/parse.py decodes ticker and trade frames in one pass and reads numbers with
``float`` where that is exact (issue 8); reference_parse.py is the parser as it was (two
decodes, every number through ``Decimal``). Both read the real production frames, the bench's
synthetic frames and thousands of mutated frames (odd number strings, missing and mistyped
fields), and must give equal ``MarketEvent``s or both refuse the frame.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trade_hunter.plugins.builtin.kalshi import parse

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_parse as ref

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from bench.frames import FrameSource

RECEIVED = 1_770_900_000.0
NUMBERS = ["0.5200", "0.52", ".52", "0.0000", "1.0000", "0", "1", "1.0000001", "-0.0000",
           "0.99999999999999999999", "1e-1", "5E-1", " 0.5 ", "0_5", "0.5_0", "nan", "NaN",
           "inf", "-inf", "Infinity", "", "abc", "0x1", "٠.٥", "1e400", "1e-400", "-3",
           "12.00", "0.00", "100000000000000000000.00", "+0.25", "0.25\n"]


def new_event(raw: str) -> Any:
    """The optimised path, as Session.handle takes it."""
    data = parse.decode_market_frame(raw)
    if data is None:
        frame = parse.decode_frame(raw)
        model = parse.TickerMsg if frame.type == "ticker" else parse.TradeMsg
        msg, kind = parse.decode_msg(frame, model), frame.type
    else:
        msg, kind = data.msg, data.kind
    if kind == "ticker":
        return parse.ticker_event(msg, RECEIVED)
    return parse.ws_trade_event(msg, RECEIVED)


def reference_event(raw: str) -> Any:
    frame = ref.decode_frame(raw)
    if frame.type == "ticker":
        return ref.ticker_event(ref.decode_msg(frame, ref.TickerMsg), RECEIVED)
    return ref.ws_trade_event(ref.decode_msg(frame, ref.TradeMsg), RECEIVED)


def outcome(read: Any, raw: str) -> Any:
    try:
        return read(raw)
    except (parse.FrameError, ref.FrameError) as exc:
        return ("refused", type(exc).__name__)


def same(raw: str) -> None:
    assert outcome(new_event, raw) == outcome(reference_event, raw), raw


def test_real_production_frames(frames_dir):
    lines = [line for name in ("ticker", "trade")
             for line in (frames_dir / f"{name}.jsonl").read_text().splitlines() if line.strip()]
    assert len(lines) == 20
    for line in lines:
        assert parse.decode_market_frame(line) is not None  # the fast path takes them
        same(line)


def test_bench_frames_current_format():
    source = FrameSource(markets=50, seed=3)
    for raw in source.frames(3000):
        same(raw)
    same(source.next(now=RECEIVED + 0.123456))  # "ts" as a float, no "ts_ms"


def mutate(frame: dict[str, Any], rng: random.Random) -> str:
    msg = dict(frame["msg"])
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(sorted(msg))
        roll = rng.random()
        if roll < 0.5:
            msg[key] = rng.choice(NUMBERS)
        elif roll < 0.65:
            del msg[key]
        elif roll < 0.8:
            msg[key] = rng.choice([None, 7, 0.5, [], {}, True])
        else:
            msg[key] = "".join(rng.choice("0123456789.-e_ ") for _ in range(rng.randint(0, 6)))
    out = {**frame, "msg": msg}
    if rng.random() < 0.05:
        out["sid"] = rng.choice(["1", None, 1.5])
    if rng.random() < 0.05:
        out["id"] = "x"
    return json.dumps(out)


@pytest.mark.parametrize("seed", range(4))
def test_mutated_frames(seed):
    rng = random.Random(seed)
    source = FrameSource(markets=20, seed=seed)
    refused = 0
    for raw in source.frames(1500):
        mutated = mutate(json.loads(raw), rng)
        same(mutated)
        refused += isinstance(outcome(reference_event, mutated), tuple)
    assert 0 < refused < 1500  # both kinds of outcome were exercised


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.sampled_from(NUMBERS),
                 st.text(alphabet="0123456789.-+eE_ naif٠١", max_size=10),
                 st.decimals(allow_nan=False, allow_infinity=False).map(str),
                 st.floats(allow_nan=False).map(repr)))
def test_numbers_match_decimal(text):
    def read(fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except (parse.FrameError, ref.FrameError):
            return "refused"

    for none_at in (None, ref._ZERO, ref._ONE):
        assert read(parse.price, text, none_at=none_at) == read(ref.price, text, none_at=none_at)
    exact = read(ref.decimal, text)
    assert read(parse.number, text) == (exact if exact in (None, "refused") else float(exact))
