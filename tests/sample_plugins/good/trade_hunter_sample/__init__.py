"""A third-party plugin: one setting and a feed that sends a few events then idles."""

from __future__ import annotations

import time

import trio

from trade_hunter.plugins import MarketEvent, hookimpl


class SampleFeed:
    def __init__(self, count: int) -> None:
        self.count = count

    async def run(self, send_channel, *, task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()
        now = time.time()
        await send_channel.send([
            MarketEvent(platform="sample", market_id=f"SAMPLE-{i}", title="Sample market",
                        yes_price=0.5, volume=1.0, event_kind="trade", trade_side="yes",
                        source="sample", timestamp=now)
            for i in range(self.count)])
        await trio.sleep_forever()


@hookimpl
def th_add_settings(settings):
    settings.add("SAMPLE_EVENTS", "int", 3, "events the sample feed sends", minimum=1)


@hookimpl
def th_register_feeds(registry):
    registry.add("sample", lambda ctx: SampleFeed(ctx.settings.SAMPLE_EVENTS))
