"""``trade-hunter backtest --kalshi``: an event's public trade history downloaded from the
local fake exchange (unsigned, paginated two items a page, through a 429), cached, then run."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time

import trio
from th_kalshi_fake.market import trade_record

from trade_hunter.outcomes.backtest.cli import main


async def test_download_paginates_survives_429_caches_and_runs(start_fake, tmp_path,
                                                               monkeypatch):
    fake = await start_fake()
    fake.add_series("KXTEST", "Test", "Economics")
    fake.add_event("KXTEST-26JAN02", "KXTEST", "Will the test pass?")
    t0 = time.time() - 7200
    for ticker, prices in (("KXTEST-26JAN02-A", [0.50, 0.51, 0.50, 0.58, 0.60]),
                           ("KXTEST-26JAN02-B", [0.30, 0.31])):
        fake.add_market(ticker, "KXTEST-26JAN02", ticker[-1], close_ts=t0 + 86_400)
        for i, price in enumerate(prices):
            size = 500 if i == 3 else 10
            fake.trades.append(trade_record(f"{ticker}-{i}", ticker, price, size, "yes",
                                            t0 + 60 * i))
    fake.fail_next = [429]
    monkeypatch.setenv("KALSHI_API_BASE", fake.rest_url)
    monkeypatch.delenv("TRADE_HUNTER_HOME", raising=False)
    out, err = io.StringIO(), io.StringIO()
    args = ["--kalshi", "KXTEST-26JAN02", "--home", str(tmp_path / "home"), "--json",
            "--set", "SPIKE_PROFILE=classic"]
    code = await trio.to_thread.run_sync(lambda: main(args, out, err))
    assert code == 0, err.getvalue()
    cache = tmp_path / "home" / "backtest"
    with gzip.open(cache / "kalshi-KXTEST-26JAN02.csv.gz", "rt") as f:
        rows = list(csv.DictReader(f))
    assert [r["trade_id"] for r in rows[:2]] == ["KXTEST-26JAN02-A-0", "KXTEST-26JAN02-B-0"]
    assert len(rows) == 7 and rows[0]["yes_price_dollars"] == "0.5000"
    markets = list(csv.DictReader(io.StringIO(
        (cache / "kalshi-KXTEST-26JAN02-markets.csv").read_text())))
    assert [m["ticker"] for m in markets] == ["KXTEST-26JAN02-A", "KXTEST-26JAN02-B"]
    assert all(m["close_time"] for m in markets)
    data = json.loads(out.getvalue())
    assert data["data"]["events"] == 7 and data["scorecard"]["signals"] >= 1
    trade_requests = [r for r in fake.requests if r.path.endswith("/markets/trades")]
    assert len(trade_requests) >= 4 and all(not r.signed for r in fake.requests)
    assert fake.requests[0].status == 429
    assert "7 trades of 2 markets cached" in err.getvalue()

    # the second run reads the cache: no request reaches the exchange
    before = len(fake.requests)
    out2 = io.StringIO()
    code = await trio.to_thread.run_sync(lambda: main(args, out2, io.StringIO()))
    assert code == 0 and len(fake.requests) == before
    assert json.loads(out2.getvalue())["scorecard"] == data["scorecard"]


async def test_unknown_ticker_is_one_line(start_fake, tmp_path, monkeypatch):
    fake = await start_fake()
    monkeypatch.setenv("KALSHI_API_BASE", fake.rest_url)
    err = io.StringIO()
    code = await trio.to_thread.run_sync(lambda: main(
        ["--kalshi", "NOPE", "--home", str(tmp_path)], io.StringIO(), err))
    assert code == 2
    assert err.getvalue() == ("trade-hunter backtest: Kalshi knows no market, event or series "
                              "'NOPE'\n")
