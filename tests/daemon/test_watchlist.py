"""Tracked identifiers per feed: the migration of the Kalshi-only list, first-start seeding
per feed, and the default-feed rule."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest

from trade_hunter.daemon import schema
from trade_hunter.daemon.store import Store
from trade_hunter.daemon.watchlist import Watchlist
from trade_hunter.plugins.builtin.kalshi.identifiers import IDENTIFIERS
from trade_hunter.plugins.errors import RpcError
from trade_hunter.plugins.registry import IdentifierSpec

SLUGS = IdentifierSpec(validate=str.lower, describe="a slug", seed_setting="SLUGS")


def old_database(path) -> None:
    """A database as the Kalshi-only releases left it: the schema before tracked identifiers
    had a feed, two tickers, and the first-start seed done."""
    conn = sqlite3.connect(path)
    before = next(i for i, script in enumerate(schema.MIGRATIONS)
                  if "tracked_by_feed" in script)
    for number, script in enumerate(schema.MIGRATIONS[:before], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.executemany("INSERT INTO tracked_tickers VALUES (?, ?, ?, ?, ?)", [
        ("KXBTC15M", 1.0, "active", "2 markets", '["KXBTC15M-A", "KXBTC15M-B"]'),
        ("KXFED", 2.0, "unresolved", "not found", "[]")])
    conn.execute("INSERT INTO kv VALUES ('tickers_seeded', '1')")
    conn.commit()
    conn.close()


async def test_the_kalshi_list_migrates_to_the_kalshi_feed_and_is_not_reseeded(tmp_path):
    old_database(tmp_path / "th.db")
    store = Store(tmp_path / "th.db")
    store.open()
    try:
        book = Watchlist(store, {"kalshi": IDENTIFIERS, "slugs": SLUGS})
        book.load(SimpleNamespace(get={"KALSHI_MARKETS": ("KXCPI",),
                                       "SLUGS": ("Rain", "snow")}.get))
        await store.flush()
        kalshi = book.list("kalshi")
        assert [(t.ticker, t.status, t.markets) for t in kalshi] == [
            ("KXBTC15M", "active", ["KXBTC15M-A", "KXBTC15M-B"]),
            ("KXFED", "unresolved", [])]  # KALSHI_MARKETS seeded it long ago: not again
        assert sorted(t.ticker for t in book.list("slugs")) == ["rain", "snow"]  # first start
        assert book.summary() == {"total": 4, "active": 1, "unresolved": 1, "pending": 2}
        assert await book.remove("kalshi", "kxfed") == "KXFED"
        added, fresh = await book.add("slugs", "HAIL")
        assert fresh and (added.feed, added.ticker) == ("slugs", "hail")
        await store.flush()
        rows = await store.aquery("SELECT feed, ticker FROM tracked_tickers ORDER BY added_at")
        assert rows[0] == ("kalshi", "KXBTC15M") and ("kalshi", "KXFED") not in rows
        assert {r for r in rows if r[0] == "slugs"} == {
            ("slugs", "rain"), ("slugs", "snow"), ("slugs", "hail")}
        seeded = await store.aquery("SELECT key FROM kv WHERE key LIKE 'watchlist_seeded:%'")
        assert sorted(seeded) == [("watchlist_seeded:kalshi",), ("watchlist_seeded:slugs",)]
    finally:
        store.close()


def test_the_default_feed_is_the_only_one_that_accepts_identifiers(tmp_path):
    store = Store(tmp_path / "th.db")
    assert Watchlist(store, {"kalshi": IDENTIFIERS}).feed_for(None) == "kalshi"
    several = Watchlist(store, {"kalshi": IDENTIFIERS, "slugs": SLUGS})
    with pytest.raises(RpcError, match=r"several feeds .*\(kalshi, slugs\).*--feed"):
        several.feed_for(None)
    assert several.feed_for("slugs") == "slugs"
    with pytest.raises(RpcError, match="no loaded feed accepts tracked identifiers"):
        Watchlist(store, {}).feed_for(None)
    with pytest.raises(RpcError, match=r"'simulated' does not .*kalshi, slugs"):
        several.feed_for("simulated")


async def test_a_component_without_identifiers_still_reads_the_only_list_with_a_warning(
        tmp_path):
    store = Store(tmp_path / "th.db")
    store.open()
    try:
        book = Watchlist(store, {"kalshi": IDENTIFIERS})
        await book.add("kalshi", "KXBTC15M")
        assert [t.ticker for t in book.view("kalshi").list()] == ["KXBTC15M"]  # its own
        legacy = book.view("mirror")  # a component written when the list was Kalshi's
        with pytest.warns(DeprecationWarning, match="register identifiers"):
            assert [t.ticker for t in legacy.list()] == ["KXBTC15M"]
        several = Watchlist(store, {"kalshi": IDENTIFIERS, "slugs": SLUGS})
        several.items = book.items
        assert several.view("mirror").list() == []  # ambiguous: nothing is borrowed
    finally:
        store.close()
