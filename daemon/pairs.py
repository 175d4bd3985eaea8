"""Cross-venue pairs: equivalent markets on two venues (a Kalshi market and a Polymarket
market, say), persisted in ``market_pairs`` and changed live (``th-ctl pair-add``, the API).

A pair states its side mapping: ``yes`` when YES of market a is YES of market b, ``no`` when
YES of a is NO of b (the same question asked the other way round). Suggestions come from
title similarity (rapidfuzz over the stored market titles) and are only offered: a pair
exists once someone adds it.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from rapidfuzz import fuzz, process

from trade_hunter.plugins.errors import RpcError

from .store import Store

MARKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
SUGGEST_CUTOFF = 70.0      # token-set similarity (0-100) below which nothing is offered


@dataclass(frozen=True)
class Pair:
    id: int
    a_platform: str
    a_market: str
    b_platform: str
    b_market: str
    mapping: str
    created_at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_side(b: str) -> tuple[str, str]:
    """``market[:yes|:no]`` → (market, mapping); ``yes`` when no side is stated."""
    market, _, side = b.rpartition(":") if b.lower().endswith((":yes", ":no")) else (b, "", "")
    return market, (side.lower() or "yes")


def _check(what: str, value: str) -> str:
    value = str(value).strip()
    if not MARKET_RE.match(value):
        raise RpcError(f"{what}: not a market id: {value!r} (letters, digits, '.', '_', "
                       "'-', ':')", code="invalid_params")
    return value


class PairBook:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.pairs: dict[int, Pair] = {}
        self.by_market: dict[tuple[str, str], list[Pair]] = {}
        self.version = 0
        """Bumped on every change (the divergence rule re-indexes)."""

    def load(self) -> None:
        rows = self.store.query("SELECT id, a_platform, a_market, b_platform, b_market, "
                                "mapping, created_at FROM market_pairs ORDER BY id")
        self.pairs = {r[0]: Pair(*r) for r in rows}
        self._index()

    def _index(self) -> None:
        index: dict[tuple[str, str], list[Pair]] = {}
        for p in self.pairs.values():
            index.setdefault((p.a_platform, p.a_market), []).append(p)
            index.setdefault((p.b_platform, p.b_market), []).append(p)
        self.by_market = index
        self.version += 1

    def entries(self) -> list[Pair]:
        return list(self.pairs.values())

    async def add(self, a: str, b: str, a_platform: str, b_platform: str) -> tuple[Pair, bool]:
        b_market, mapping = parse_side(str(b).strip())
        a_market = _check("a", a)
        b_market = _check("b", b_market)
        a_platform, b_platform = _check("a_platform", a_platform), _check("b_platform",
                                                                          b_platform)
        if (a_platform, a_market) == (b_platform, b_market):
            raise RpcError("a pair needs two different markets", code="invalid_params")
        for p in self.pairs.values():
            if {(p.a_platform, p.a_market), (p.b_platform, p.b_market)} == {
                    (a_platform, a_market), (b_platform, b_market)}:
                return p, False
        now = time.time()

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO market_pairs (a_platform, a_market, b_platform, b_market, mapping,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (a_platform, a_market, b_platform, b_market, mapping, now))
            return int(cur.lastrowid or 0)
        pair_id = await self.store.run(insert)
        pair = self.pairs[pair_id] = Pair(pair_id, a_platform, a_market, b_platform, b_market,
                                          mapping, now)
        self._index()
        return pair, True

    async def remove(self, pair_id: int) -> Pair:
        pair = self.pairs.pop(pair_id, None)
        if pair is None:
            raise RpcError(f"no pair {pair_id}", code="invalid_params")
        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM market_pairs WHERE id=?", (pair_id,))
            conn.execute("DELETE FROM divergence_open WHERE pair_id=?", (pair_id,))
        await self.store.run(delete)
        self._index()
        return pair

    def suggest(self, titles: Iterable[tuple[str, str, str]], a_platform: str,
                b_platform: str, limit: int = 20) -> list[dict[str, Any]]:
        """Pairs to review: for each market of ``a_platform`` the most similar title on
        ``b_platform`` (``titles``: (platform, market, title) rows), best first."""
        rows = list(titles)
        a_side = [(m, t) for p, m, t in rows if p == a_platform and t]
        b_side = {m: t for p, m, t in rows if p == b_platform and t}
        paired = set(self.by_market)
        out: list[dict[str, Any]] = []
        for market, title in a_side:
            if (a_platform, market) in paired:
                continue
            best = process.extractOne(title, b_side, scorer=fuzz.token_set_ratio,
                                      score_cutoff=SUGGEST_CUTOFF)
            if best is None or (b_platform, best[2]) in paired:
                continue
            out.append({"a_platform": a_platform, "a_market": market, "a_title": title,
                        "b_platform": b_platform, "b_market": best[2], "b_title": best[0],
                        "score": round(float(best[1]), 1)})
        out.sort(key=lambda s: -float(s["score"]))
        return out[:limit]
