"""The tape says when a feed rolled a tracked identifier over to a successor market (the
``rolled_over_from`` its events carry, docs/architecture.md "Polymarket feed")."""

from __future__ import annotations

import time

import trio

from trade_hunter.plugins.models import MarketEvent


async def test_the_tape_names_the_market_rolled_over_from(web):
    d, client = await web(ENABLE_SIMULATION="false")
    now = time.time()
    d.ingest([MarketEvent(platform="polymarket", market_id="btc-updown-2pm-market",
                          title="Bitcoin up or down?", event_kind="quote", yes_price=0.5,
                          timestamp=now, source="polymarket",
                          metadata={"rolled_over_from": "btc-updown-1pm"}),
              MarketEvent(platform="polymarket", market_id="one-off", title="One-off?",
                          event_kind="quote", yes_price=0.3, timestamp=now,
                          source="polymarket")])
    with trio.fail_after(10):
        while len(d.live.tape) < 2:
            await trio.sleep(0.01)
    tape = {row["market_id"]: row for row in
            (await (await client.get("/api/state")).get_json())["tape"]}
    assert tape["btc-updown-2pm-market"]["rolled_from"] == "btc-updown-1pm"
    assert tape["one-off"]["rolled_from"] is None
