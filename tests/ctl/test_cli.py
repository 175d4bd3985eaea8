"""Every th-ctl command against a real daemon process, through the installed console script."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.fixture
def daemon(shared_daemon):
    return shared_daemon


def ok(daemon, *args: str) -> str:
    procs, d = daemon
    done = procs.ctl(d.home, *args)
    assert done.returncode == 0, f"th-ctl {' '.join(args)}: {done.stderr}"
    return done.stdout


def js(daemon, *args: str):
    return json.loads(ok(daemon, *args, "--json"))


def fails(daemon, code: int, *args: str) -> str:
    procs, d = daemon
    done = procs.ctl(d.home, *args)
    assert done.returncode == code, (done.stdout, done.stderr)
    return done.stderr


def test_status(daemon):
    _, d = daemon
    text = ok(daemon, "status")
    assert "simulation mode" in text and f"(pid {d.proc.pid})" in text
    assert f"dashboard  {d.url}" in text and "FEEDS" in text and "simulated" in text
    status = js(daemon, "status")
    assert status["pid"] == d.proc.pid and Path(status["home"]) == d.home
    assert status["mode"] == "simulation" and status["dashboard"] == d.url
    assert {"uptime", "version", "feeds", "components", "counters", "tickers"} <= set(status)
    assert any(c["name"] == "control" and c["state"] == "running"
               for c in status["components"])


def test_tickers_add_list_remove(daemon):
    assert "now tracking KXBTC15M (pending)" in ok(daemon, "add-ticker", "kxbtc15m")
    assert "already tracking KXBTC15M" in ok(daemon, "add-ticker", "KXBTC15M")
    table = ok(daemon, "tickers")
    assert "TICKER" in table and "KXBTC15M" in table
    listed = js(daemon, "tickers")
    assert [t["ticker"] for t in listed["tickers"]] == ["KXBTC15M"]
    assert "stopped tracking KXBTC15M" in ok(daemon, "remove-ticker", "KXBTC15M")
    assert js(daemon, "tickers")["tickers"] == []
    assert "no tracked tickers" in ok(daemon, "tickers")
    err = fails(daemon, 1, "remove-ticker", "KXBTC15M")
    assert "KXBTC15M is not tracked [invalid_params]" in err
    assert "not a ticker" in fails(daemon, 1, "add-ticker", "no spaces!")


def test_demo_spike_then_signals(daemon):
    text = ok(daemon, "demo-spike")
    assert text.startswith("injected a spike on DEMO-SPIKE-") and "signal #" in text
    market = text.split()[4].rstrip(":")
    newest = js(daemon, "signals", "--limit", "500")["signals"]
    assert any(s["market_id"] == market and s["demo"] for s in newest)
    by_score = js(daemon, "signals", "--sort", "score", "--limit", "2")["signals"]
    assert 1 <= len(by_score) <= 2
    assert [s["score"] for s in by_score] == sorted((s["score"] for s in by_score),
                                                    reverse=True)
    table = ok(daemon, "signals", "--limit", "500")
    assert table.splitlines()[0].split()[:4] == ["ID", "WHEN", "TIER", "SCORE"]
    assert market in table
    spiked = js(daemon, "demo-spike", "--market-id", "MY-MARKET")
    assert spiked["market_id"] == "MY-MARKET" and spiked["signals"]
    assert re.search(r" [+−]\d+(\.\d)?¢ ", table)  # the move as the dashboard shows it


def test_signals_from_the_stored_history_as_csv(daemon):
    spiked = js(daemon, "demo-spike", "--market-id", "CSV-MARKET")
    deadline = time.monotonic() + 10
    while True:  # stored within a batch (250 ms)
        text = ok(daemon, "signals", "--market", "CSV-MARKET", "--since", "2020-01-01",
                  "--until", "2999-01-01T00:00:00Z", "--csv")
        if len(text.splitlines()) > 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["id"]) for r in rows] == sorted(spiked["signals"], reverse=True)
    assert rows[0]["market_id"] == "CSV-MARKET" and rows[0]["created_at"].endswith("Z")
    assert rows[0]["why"] and rows[0]["demo"] == "true"
    assert ok(daemon, "signals", "--market", "NO-SUCH", "--csv").splitlines() == [
        ",".join(next(csv.reader([text.splitlines()[0]])))]
    assert "since: 'yesterday' is neither" in fails(daemon, 1, "signals", "--since",
                                                    "yesterday")


def test_plugins(daemon):
    text = ok(daemon, "plugins")
    assert "spike" in text and "simulated" in text and "th_register_feeds" in text
    names = {p["name"]: p for p in js(daemon, "plugins")["plugins"]}
    assert names["spike"]["status"] == "loaded" and names["spike"]["origin"] == "builtin"


def test_generic_call(daemon):
    _, d = daemon
    assert js(daemon, "call", "status")["pid"] == d.proc.pid
    got = js(daemon, "call", "signals.list", "limit=1", "sort=score")
    assert len(got["signals"]) == 1
    assert js(daemon, "call", "signals.list", "limit:=3")["signals"]
    err = fails(daemon, 1, "call", "nosuch.method")
    assert "unknown method 'nosuch.method' [method_not_found]" in err
    assert "limit must be from 1 to 500" in fails(daemon, 1, "call", "signals.list", "limit=0")
    procs, d = daemon
    done = procs.ctl(d.home, "call", "nosuch.method", "--json")
    assert done.returncode == 1 and done.stdout == ""
    error = json.loads(done.stderr)["error"]  # the error object alone, on stderr
    assert error["name"] == "method_not_found" and error["code"] == -32601


@pytest.mark.parametrize("args", [
    ("signals", "--sort", "loudest"),            # not a choice
    ("signals", "--limit", "many"),              # not an int
    ("add-ticker",),                             # missing TICKER
    ("call", "signals.list", "bogus=1"),         # unknown parameter
    ("call", "signals.list", "limit"),           # not key=value
    ("call", "status-please"),                   # neither a table method nor plugin.method
    ("frobnicate",),
])
def test_usage_errors_exit_2(daemon, args):
    assert "usage: th-ctl" in fails(daemon, 2, *args)


def test_th_ctl_imports_only_the_standard_library(daemon):
    _, d = daemon
    code = ("import sys\n"
            "from trade_hunter.ctl.cli import main\n"
            f"rc = main(['--home', {str(d.home)!r}, 'status', '--json'])\n"
            "extra = {m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names)\n"
            "extra = {m for m in extra if not m.startswith(('__editable__', '_distutils'))}\n"
            "print('MODULES', sorted(extra - {'__main__', 'trade_hunter'}))\n"
            "sys.exit(rc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "MODULES []"
    assert json.loads(done.stdout[:done.stdout.rindex("MODULES")])["pid"] == d.proc.pid


def test_not_running_exits_3_with_a_hint(procs, tmp_path):
    done = procs.ctl(tmp_path / "nowhere", "status")
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.strip() == (f"th-ctl: Trade Hunter is not running on {tmp_path}/nowhere;"
                                   " start it with ./trade-hunter (Windows: trade-hunter.cmd)")
