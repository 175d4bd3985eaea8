"""The documented third-party story, for real: the example plugin in docs/examples is
pip-installed (into a throwaway folder put on ``sys.path`` for this test only, so it cannot
leak into other tests), found through its ``trade_hunter`` entry point by a running daemon,
and seen working end to end: its feed's events reach the store and its notifier receives the
alert. Its own tests (the way docs/plugins.md says to test a plugin) pass too."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from trade_hunter.plugins import hookspecs
from trade_hunter.plugins.models import MarketEvent, to_json

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "trade-hunter-jsonl"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install`` of the example (a copy: building writes into the source folder)."""
    base = tmp_path_factory.mktemp("example-plugin")
    source, target = base / "src", base / "site"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                   "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True, timeout=300)
    assert (target / "trade_hunter_jsonl" / "__init__.py").is_file()
    return target


@pytest.fixture
def on_path(installed: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(installed))  # also invalidates the import caches
    yield installed
    sys.modules.pop("trade_hunter_jsonl", None)
    importlib.invalidate_caches()


def replay_file(path: Path) -> Path:
    kw = {"platform": "polymarket", "market_id": "jsonl-rain", "title": "Will it rain?",
          "event_kind": "trade", "trade_side": "yes"}
    events = [MarketEvent(yes_price=0.40, volume=10.0, timestamp=1_700_000_000.0 + i, **kw)
              for i in range(5)]
    events.append(MarketEvent(yes_price=0.50, volume=500.0, timestamp=1_700_000_010.0, **kw))
    path.write_text("\n".join(to_json(e).decode() for e in events) + "\n")
    return path


async def test_an_installed_plugin_works_in_a_running_daemon(on_path, start_daemon, tmp_path):
    notify = tmp_path / "alerts.jsonl"
    d = await start_daemon(THIRD_PARTY_PLUGINS="true",
                           JSONL_REPLAY_PATH=str(replay_file(tmp_path / "replay.jsonl")),
                           JSONL_NOTIFY_PATH=str(notify))
    [info] = [p for p in d.host.report() if p["name"] == "jsonl"]
    assert (info["status"], info["origin"], info["version"]) == ("loaded", "entry point",
                                                                 "0.1.0")
    assert {"th_add_settings", "th_register_feeds", "th_register_notifiers"} <= \
        set(info["hooks"])
    assert "jsonl-replay" in d.components and "jsonl" in d.components

    with trio.fail_after(30):  # the feed's events reach the store ...
        while len(await d.store.aquery("SELECT id FROM events WHERE source='jsonl'")) < 6:
            await d.store.flush()
        # ... the detector fires on them, and the plugin's notifier gets the alert.
        while not notify.exists() or not notify.read_text().strip() or \
                not d.health.get("jsonl").counters.get("sent"):
            await trio.sleep(0.05)
    # Whole lines only: the analyst's follow-up may be being appended right now.
    lines = [json.loads(line) for line in notify.read_text().split("\n")[:-1]]
    detector = [x for x in lines if x["kind"] == "detector"]
    assert [x["signal"]["market_id"] for x in detector] == ["jsonl-rain"], lines
    assert detector[0]["signal"]["source"] == "jsonl"
    feed = d.health.get("jsonl-replay").as_dict()
    assert feed["state"] == "connected" and feed["counters"]["events"] == 6


async def test_third_party_autoload_can_be_switched_off(on_path, start_daemon):
    d = await start_daemon(JSONL_NOTIFY_PATH="/tmp/never")  # THIRD_PARTY_PLUGINS=false
    assert "jsonl" not in {p["name"] for p in d.host.report()}
    assert "jsonl" not in d.components


def test_the_examples_own_tests_pass(installed):
    path = os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": path}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(EXAMPLE), "-c", str(EXAMPLE / "pyproject.toml"), str(EXAMPLE / "tests")],
        check=False, capture_output=True, text=True, env=env, timeout=300, cwd=installed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def hook_signatures() -> dict[str, str]:
    """``name(arg: Type) -> None`` for every hook spec, from the code."""
    out = {}
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("th_") or not hasattr(fn, "trade_hunter_spec"):
            continue
        sig = inspect.signature(fn)  # annotations are strings (postponed evaluation)
        params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
        out[name] = f"{name}({params}) -> {sig.return_annotation}"
    return out


def test_docs_list_every_hook_with_its_exact_signature():
    documented = re.findall(r"^### `(th_\w+\(.*\) -> \w+)`$",
                            (REPO / "docs" / "plugins.md").read_text(), re.MULTILINE)
    expected = hook_signatures()
    assert len(expected) == 7 and "th_register_relays" in expected
    assert sorted(documented) == sorted(expected.values())


# --------------------------------------------------------------------------- identifiers
def slug(raw: str) -> str:
    """A third-party feed's identifiers: lower-case slugs (not Kalshi tickers)."""
    text = raw.strip()
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", text):
        raise ValueError(f"not a slug: {raw!r} (lower-case letters, digits and '-')")
    return text


async def th_ctl(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    th = str(Path(sys.executable).parent / "th-ctl")
    return await trio.to_thread.run_sync(lambda: subprocess.run(
        [th, "--home", str(home), *args], check=False, capture_output=True, text=True,
        timeout=60))


async def test_a_third_party_feed_watches_identifiers_added_with_th_ctl(tmp_path):
    from trade_hunter.daemon.app import Daemon
    from trade_hunter.daemon.cli import build
    from trade_hunter.plugins import IdentifierSpec
    from trade_hunter.plugins.testing import FakesPlugin, WatchingFeed
    from trade_hunter.web.app import create_app

    from .conftest import base_env

    feed = WatchingFeed()
    plugin = FakesPlugin(feed=feed, name="slugs", identifiers=IdentifierSpec(
        validate=slug, describe="a lower-case slug, e.g. rain-2026"))
    home = tmp_path / "home"
    d = Daemon(*build(base_env(home), [("slugs", plugin)]))  # the Kalshi plugin loaded too
    async with trio.open_nursery() as nursery:
        await nursery.start(d.run)
        # Kalshi and Polymarket are loaded but not enabled: the enabled one is the default.
        default = await th_ctl(home, "add-ticker", "Rain 2026")
        assert default.returncode == 1 and "not a slug: 'Rain 2026'" in default.stderr
        bad = await th_ctl(home, "add-ticker", "--feed", "slugs", "Rain 2026")
        assert bad.returncode == 1 and "not a slug: 'Rain 2026'" in bad.stderr
        unknown = await th_ctl(home, "add-ticker", "--feed", "simulated", "rain-2026")
        assert unknown.returncode == 1 and "feeds that do: kalshi, polymarket, slugs" in unknown.stderr

        added = await th_ctl(home, "add-ticker", "--feed", "slugs", "rain-2026")
        assert added.returncode == 0 and "now tracking rain-2026" in added.stdout
        with trio.fail_after(10):
            await feed.wait_watching(["rain-2026"])  # the running feed saw it
        client = create_app(d.web_parts()).test_client()
        posted = await client.post("/api/feeds/slugs/tracked", json={"ticker": "snow-2026"})
        assert posted.status_code == 200
        refused = await client.post("/api/feeds/slugs/tracked", json={"ticker": "KXBTC"})
        assert refused.status_code == 422 and "not a slug" in (await refused.get_json())["error"]
        with trio.fail_after(10):
            await feed.wait_watching(["rain-2026", "snow-2026"])
        listed = json.loads((await th_ctl(home, "tickers", "--feed", "slugs", "--json")).stdout)
        assert {(t["feed"], t["ticker"], t["status"]) for t in listed["tickers"]} == {
            ("slugs", "rain-2026", "active"), ("slugs", "snow-2026", "active")}
        assert {"name": "slugs", "running": True, "search": False,  # it offers no search
                "accepts": "a lower-case slug, e.g. rain-2026"} in listed["feeds"]
        kalshi = await (await client.get("/api/kalshi/markets")).get_json()
        assert kalshi["tickers"] == []  # each feed has its own list

        removed = await th_ctl(home, "remove-ticker", "--feed", "slugs", "rain-2026")
        assert removed.returncode == 0 and "stopped tracking rain-2026" in removed.stdout
        with trio.fail_after(10):
            await feed.wait_watching(["snow-2026"])
        await d.store.flush()
        rows = await d.store.aquery("SELECT feed, ticker, status FROM tracked_tickers")
        assert rows == [("slugs", "snow-2026", "active")]
        d.request_shutdown("done")

    # Alone, it is the default feed: no --feed needed.
    d = Daemon(*build(base_env(home, DISABLED_PLUGINS="kalshi"), [("slugs", plugin)]))
    async with trio.open_nursery() as nursery:
        await nursery.start(d.run)
        alone = await th_ctl(home, "add-ticker", "hail-2026")
        assert alone.returncode == 0 and "now tracking hail-2026" in alone.stdout
        listed = json.loads((await th_ctl(home, "tickers", "--json")).stdout)
        assert sorted(t["ticker"] for t in listed["tickers"]) == ["hail-2026", "snow-2026"]
        d.request_shutdown("done")
