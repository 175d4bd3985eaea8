"""The daemon: the nursery tree and the order of lifecycle calls, nothing else.

Start order: store → consumers (pipeline, analysts, outbox) → servers (web, control) →
producers (feeds). Shutdown: feeds first, the pipeline drains under one deadline, then the
servers stop and the store commits what is queued.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import trio

from trade_hunter.plugins.errors import ConfigError
from trade_hunter.plugins.models import MarketEvent, SpikeSignal
from trade_hunter.plugins.registry import PluginContext

from .advisor import Advisor, tuned_detector
from .analysis import AnalystService
from .control import serve_control
from .host import PluginHost, Registries, _version
from .live import Live
from .outbox import Outbox
from .pipeline import INGEST_BUFFER, Handoff, Pipeline
from .retention import Retention
from .runtime import tune_runtime
from .service import Service, demo_events
from .store import Store
from .supervisor import HealthBook, supervise
from .tickers import TickerBook

log = logging.getLogger(__name__)
DRAIN_DEADLINE = 5.0


class Daemon:
    def __init__(self, settings: Any, host: PluginHost, registries: Registries) -> None:
        self.settings, self.host, self.registries = settings, host, registries
        self.version = _version("trade-hunter")
        self.pid = os.getpid()
        self.store = Store(settings.home / "trade-hunter.db")
        self.live = Live()
        self.health = HealthBook()
        self.tickers = TickerBook(self.store)
        self.retention = Retention(self.store, settings.RETENTION_DAYS)
        self.service = Service(self)
        self.components: dict[str, Any] = {}
        self.extras: dict[str, Any] = {}
        self.dashboard_url = ""
        self.demo_count = 0
        self.pipeline: Pipeline | None = None
        self.analysts: AnalystService | None = None
        self.advisor: Advisor | None = None
        self.outbox: Outbox | None = None
        self._shutdown: trio.Event | None = None
        self._send: trio.MemorySendChannel[Any] | None = None
        self.stop_reason = ""

    # ------------------------------------------------------------------ plugin context
    def plugin_context(self, name: str, kind: str = "component") -> PluginContext:
        return PluginContext(settings=self.settings, health=self.health.get(name, kind),
                             tickers=self.tickers, store=self.store,
                             home=self.settings.home, components=self.components,
                             extras=self.extras)

    def _create(self, kind: str, registry: Any) -> list[tuple[str, Any]]:
        made = []
        for reg in registry.ordered():
            if reg.enabled is not None and not reg.enabled(self.settings):
                continue
            health = self.health.get(reg.name, kind)
            try:
                component = reg.factory(self.plugin_context(reg.name, kind))
            except ConfigError:
                raise  # bad settings stop start-up with one line (exit 2), not a failed pill
            except Exception as exc:
                health.set("failed", f"could not start: {type(exc).__name__}: {exc}")
                log.exception("%s %s failed to start", kind, reg.name)
                continue
            if component is None:
                health.set("disabled", "not configured")
                continue
            self.components[reg.name] = component
            made.append((reg.name, component))
        return made

    # ------------------------------------------------------------------ ingest
    def ingest(self, events: list[MarketEvent], stored: trio.Event | None = None) -> Handoff:
        """Hand events to the pipeline without waiting (relays); raises ``trio.WouldBlock``
        when the ingest buffer is full, so the caller can answer 503. The returned hand-off's
        ``stored`` event (``stored``, when given) is set once they are committed."""
        assert self._send is not None
        handoff = Handoff(events, stored)
        self._send.send_nowait(handoff)
        return handoff

    def inject_demo(self, market: str) -> list[SpikeSignal]:
        assert self.pipeline is not None
        state = self.pipeline.states.get(market)
        detector = self.pipeline.detector
        base = detector.baseline(state) if state is not None and hasattr(detector, "baseline") \
            else 60.0
        last = getattr(state, "last_price", None)
        known = self.pipeline.titles.get(market)
        return self.pipeline.process(demo_events(market, last, detector.thresholds, base, known))

    def request_shutdown(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason
        if self._shutdown is not None:
            self._shutdown.set()

    # ------------------------------------------------------------------ lifecycle
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        from trade_hunter.web.server import serve_web  # the web stack loads only here

        self._shutdown = trio.Event()
        s = self.settings
        tune_runtime()  # before the store's writer thread starts
        feeds_made = self._create("feed", self.registries.feeds)  # ConfigError: before any I/O
        self.store.health = self.health.get("store", "store")
        await trio.to_thread.run_sync(self.store.open)
        self.store.health.set("running", str(self.store.path))
        detectors = self._create("detector", self.registries.detectors)
        if not detectors:
            raise RuntimeError("no detector plugin is loaded")
        self.extras["detector"] = await tuned_detector(self, *detectors[0])  # applied tuning
        self.pipeline = pipeline = Pipeline(self.extras["detector"], self.store, self.live)
        await trio.to_thread.run_sync(pipeline.load_states)
        # Detectors have no task of their own: the one in use runs inside the pipeline.
        for n, (name, _) in enumerate(detectors):
            self.health.get(name, "detector").set(
                "running" if n == 0 else "disabled",
                "runs in the pipeline" if n == 0 else f"not used: {detectors[0][0]} is")
        await trio.to_thread.run_sync(self.live.restore, self.store)
        await trio.to_thread.run_sync(self.tickers.load, s.KALSHI_MARKETS)
        self.analysts = AnalystService(self, self._create("analyst", self.registries.analysts))
        self.outbox = Outbox(self, self._create("notifier", self.registries.notifiers))
        self.advisor = Advisor(self)
        pipeline.signal_writes.append(self.outbox.rows_for_signal)
        pipeline.signal_handoffs.append(self.outbox.wake)
        pipeline.signal_handoffs.append(self.analysts.submit)
        send, receive = trio.open_memory_channel[Any](INGEST_BUFFER)
        self._send = send

        async with trio.open_nursery() as services:
            services.start_soon(self._signals_watch)
            async with trio.open_nursery() as consumers:
                await consumers.start(supervise, self.health.get("pipeline"),
                                      lambda task_status: pipeline.run(
                                          receive, task_status=task_status))
                await consumers.start(supervise, self.health.get("analysts"),
                                      self.analysts.run)
                await consumers.start(supervise, self.health.get("outbox"),
                                      self.outbox.run)
                await services.start(supervise, self.health.get("retention"),
                                     self.retention.run)
                await services.start(supervise, self.health.get("advisor"), self.advisor.run)
                binds = await services.start(serve_web, self, s.APP_HOST, s.APP_PORT)
                self.dashboard_url = binds[0] if binds else ""
                self.health.get("web").set("running", self.dashboard_url)
                await services.start(serve_control, self)  # th-ctl works once we are ready
                async with trio.open_nursery() as feeds:
                    for name, feed in feeds_made:
                        await feeds.start(supervise, self.health.get(name, "feed"),
                                          _bind(feed, send))
                    task_status.started()
                    log.info("trade hunter %s ready at %s (%s mode)", self.version,
                             self.dashboard_url, s.active_mode)
                    await self._shutdown.wait()
                    log.info("stopping: %s", self.stop_reason)
                    feeds.cancel_scope.cancel()
                await self._drain(send)
                consumers.cancel_scope.cancel()
            services.cancel_scope.cancel()
        await trio.to_thread.run_sync(self.store.close)
        if pipeline.not_stored:
            log.warning("stopped: %d events processed, %d of them could not be stored "
                        "(see the errors above)", pipeline.processed, pipeline.not_stored)
        else:
            log.info("stopped: %d events processed and stored", pipeline.processed)

    async def _drain(self, send: trio.MemorySendChannel[Any]) -> None:
        with trio.move_on_after(DRAIN_DEADLINE):
            while send.statistics().current_buffer_used:
                await trio.sleep(0.01)
            assert self.pipeline is not None
            await self.store.flush()

    async def _signals_watch(self) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                self.request_shutdown(signal.Signals(signum).name)


def _bind(feed: Any, send: trio.MemorySendChannel[Any]) -> Any:
    async def run(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await feed.run(send.clone(), task_status=task_status)
    return run

