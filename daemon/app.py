"""The daemon: the nursery tree and the order of lifecycle calls, nothing else.

It is the one place that wires the parts: every service, the method table (``Service``), the
metrics collector and the web layer (``WebParts``) receive only the collaborators they use.
No other module holds the daemon; only the entry points build one (``daemon/cli.py`` through
``lifecycle.py``, ``smoke.py``, ``config_check.py``, and ``web/readme.py``'s generator) — an
import contract in ``pyproject.toml`` keeps it so.

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
from trade_hunter.plugins.models import MarketEvent
from trade_hunter.plugins.registry import PluginContext
from trade_hunter.web.parts import WebParts

from . import divergence_store
from .analyst_queue import AnalystService
from .config import ConfigErrors
from .control import ControlServer, serve_control
from .digest import Digest, parse_schedule
from .divergence import DivergenceRule
from .grader import Grader
from .host import PluginHost, Registries, _version
from .incidents import Incidents
from .links import DashboardLinks, parse_public_url
from .live_view import Live
from .logs import STARTUP_LOGGER, log_signal
from .metrics import MetricSources, Tally, registry_for
from .outbox import Outbox
from .pairs import PairBook
from .pipeline import INGEST_BUFFER, Handoff, Pipeline
from .retention import Retention
from .rpc_handlers import About, Service
from .runtime import tune_runtime
from .scorecards import Scorecards
from .settlement import Settler, capable
from .silences import MuteBook
from .store import Store
from .supervisor import HealthBook, supervise
from .tuning_advisor import Advisor, tuned_detector
from .watchlist import Watchlist

log = logging.getLogger(__name__)


def _checked_extras(s: Any) -> tuple[Any, Any, str]:
    """The settings the table cannot check alone (a time of day, a zone, a URL), all of
    them: every bad one is reported at once."""
    problems: list[ConfigError] = []
    digest_at, digest_tz, public_url = None, None, ""
    try:
        digest_at, digest_tz = parse_schedule(s.DIGEST_AT, s.DIGEST_TIMEZONE)
    except ConfigError as exc:
        problems.append(exc)
    try:
        public_url = parse_public_url(s.DASHBOARD_PUBLIC_URL)
    except ConfigError as exc:
        problems.append(exc)
    if problems:
        raise problems[0] if len(problems) == 1 else ConfigErrors(problems)
    return digest_at, digest_tz, public_url
DRAIN_DEADLINE = 5.0


def default_feed(watching: list[Any], settings: Any) -> str | None:
    """The feed ``add-ticker`` without ``--feed`` means: the only enabled feed that accepts
    identifiers; the first registered one when none is enabled (as before several built-in
    feeds accepted identifiers); none when several are enabled (then the caller names one)."""
    on = [r.name for r in watching if r.enabled is None or r.enabled(settings)]
    if len(on) == 1:
        return str(on[0])
    return str(watching[0].name) if watching and not on else None


class Daemon:
    def __init__(self, settings: Any, host: PluginHost, registries: Registries) -> None:
        self.settings, self.host, self.registries = settings, host, registries
        self.about = About(_version("trade-hunter"), os.getpid())
        self.store = Store(settings.home / "trade-hunter.db")
        self.live = Live()
        self.tally = Tally()  # per-signal/per-read counts for /metrics
        self.health = HealthBook()
        watching = [r for r in registries.feeds.ordered() if r.identifiers is not None]
        self.tickers = Watchlist(self.store, {r.name: r.identifiers for r in watching
                                              if r.identifiers is not None},
                                 default=default_feed(watching, settings))
        self.pairs = PairBook(self.store)
        self.retention = Retention(self.store, settings.RETENTION_DAYS)
        self.scorecards = Scorecards(self.store)
        self.mutes = MuteBook(self.store)
        self.components: dict[str, Any] = {}
        self.extras: dict[str, Any] = {}
        self.service = Service(settings=settings, about=self.about, store=self.store,
                               live=self.live, health=self.health, tickers=self.tickers,
                               pairs=self.pairs, mutes=self.mutes, scorecards=self.scorecards,
                               retention=self.retention.status, host=host, rpc=registries.rpc,
                               contexts=self.plugin_context, components=self.components,
                               feed_plugins={name: reg.plugin for name, reg
                                             in registries.feeds.items.items()},
                               stop=self.request_shutdown)
        self.metrics = registry_for(MetricSources(
            self.about.version, settings, self.live, self.tickers, self.health, self.store,
            analysts=lambda: self.analysts, pipeline=lambda: self.pipeline,
            ingest_depth=self._ingest_depth), self.tally)
        self.pipeline: Pipeline | None = None
        self.analysts: AnalystService | None = None
        self.advisor: Advisor | None = None
        self.outbox: Outbox | None = None
        self.grader: Grader | None = None
        self.incidents: Incidents | None = None
        self.digest: Digest | None = None
        self._shutdown: trio.Event | None = None
        self._send: trio.MemorySendChannel[Any] | None = None
        self.stop_reason = ""

    # ------------------------------------------------------------------ who we are
    @property
    def version(self) -> str:
        return self.about.version

    @property
    def pid(self) -> int:
        return self.about.pid

    @property
    def dashboard_url(self) -> str:
        return self.about.dashboard_url

    def web_parts(self) -> WebParts:
        """What the web layer is given (``web/parts.py``)."""
        return WebParts(settings=self.settings, version=self.about.version,
                        call=self.service.call, rpc=self.registries.rpc,
                        relays=self.registries.relays.items, extras=self.extras,
                        store=self.store, live=self.live, health=self.health,
                        tickers=self.tickers, pairs=self.pairs, components=self.components,
                        retention=self.retention.status, mutes=self.mutes,
                        incidents=lambda: self.incidents,
                        advisor=lambda: self.advisor or self.extras.get("advisor"),
                        ingest=self.ingest, metrics=self.metrics)

    # ------------------------------------------------------------------ plugin context
    def plugin_context(self, name: str, kind: str = "component") -> PluginContext:
        return PluginContext(settings=self.settings, health=self.health.get(name, kind),
                             tickers=self.tickers.view(name), store=self.store,
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

    def _ingest_depth(self) -> int | None:
        """Items waiting in the ingest channel (None before it exists)."""
        return self._send.statistics().current_buffer_used if self._send is not None else None

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
        digest_at, digest_tz, public_url = _checked_extras(s)  # ConfigError: before any I/O
        links = DashboardLinks(public_url, lambda: self.dashboard_url)
        self.extras["market_page_url"] = links.market  # notifiers link to the market page
        self.store.health = self.health.get("store", "store")
        await trio.to_thread.run_sync(self.store.open)
        self.store.health.set("running", str(self.store.path))
        detectors = self._create("detector", self.registries.detectors)
        if not detectors:
            raise RuntimeError("no detector plugin is loaded")
        name, detector = detectors[0]
        detector = await tuned_detector(self.store, s, detector)  # applied tuning
        self.components[name] = self.extras["detector"] = detector
        self.pipeline = pipeline = Pipeline(detector, self.store, self.live)
        await trio.to_thread.run_sync(pipeline.load_states)
        # Detectors have no task of their own: the one in use runs inside the pipeline (its
        # pill says so with its profile and settings), any other is not used.
        show_detector(self.health.get(name, "detector"), detector)
        for other, _ in detectors[1:]:
            self.health.get(other, "detector").set("disabled", f"not used: {name} is")
        await trio.to_thread.run_sync(self.live.restore, self.store)
        await trio.to_thread.run_sync(self.tickers.load, s)
        await trio.to_thread.run_sync(self.pairs.load)
        divergence = DivergenceRule(self.pairs, s.DIVERGENCE_MIN_GAP, s.DIVERGENCE_MIN_SECONDS)
        await trio.to_thread.run_sync(divergence_store.restore, divergence, self.store)
        pipeline.signal_sources.append(divergence.observe)
        pipeline.signal_writes.append(divergence_store.rows_for_signal)  # open divergences
        providers = self._create("analyst", self.registries.analysts)
        self.outbox = Outbox(self._create("notifier", self.registries.notifiers),
                             store=self.store, health=self.health)
        await trio.to_thread.run_sync(self.mutes.load)
        self.mutes.clock, self.outbox.mute = self.outbox.now, self.mutes.mute_key
        self.incidents = Incidents(self.outbox, self.store, pipeline,
                                   window=s.ALERT_GROUP_WINDOW_SECONDS,
                                   wait=s.ALERT_GROUP_WAIT_SECONDS, repeat=s.ALERT_REPEAT_SECONDS,
                                   event_of=self.tickers.event_of)
        await trio.to_thread.run_sync(self.incidents.load)
        outbox = self.outbox
        self.digest = Digest(store=self.store, mutes=self.mutes, health=self.health,
                             notifiers=lambda: outbox.notifiers, clock=outbox.now,
                             at=digest_at, tz=digest_tz, page_url=links.market)
        self.analysts = AnalystService(providers, settings=s, store=self.store,
                                       health=self.health.get("analysts"), live=self.live,
                                       batches=pipeline, follow_ups=self.outbox)
        # The first provider that can phrase a suggestion (Perplexity among the built-ins).
        narrator = next((p for _, p in providers if hasattr(p, "narrate")), None)
        self.advisor = Advisor(settings=s, store=self.store, health=self.health.get("advisor"),
                               detector=RunningDetector(self.components, self.extras, pipeline,
                                                        self.health.get(name, "detector")),
                               narrator=narrator, budget=self.analysts.budget)
        pipeline.signal_writes.append(self.incidents.rows_for_signal)  # → outbox rows
        pipeline.signal_handoffs.append(self.analysts.submit)
        pipeline.signal_handoffs.append(self.tally.signal)
        pipeline.signal_handoffs.append(log_signal)
        settling = capable(feeds_made)
        self.grader = Grader(self.store, self.health.get("outcomes"),
                             k=s.OUTCOME_BASELINE_K, band=s.OUTCOME_FLAT_BAND,
                             published=self.live.set_outcomes,
                             settle=Settler(self.store, settling, self.health.get("outcomes"))
                             if settling else None,  # no feed can tell: nothing to ask
                             warm=self.scorecards.warm, commits=pipeline)
        pipeline.signal_handoffs.append(self.grader.submit)
        self.analysts.read_listeners.append(self.tally.read)
        service = self.service  # the method table's parts that exist from now on
        service.pipeline, service.advisor = pipeline, self.advisor
        service.notifiers, service.digest = self.outbox.notifiers, self.digest
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
                await consumers.start(supervise, self.health.get("incidents"),
                                      self.incidents.run)
                await services.start(supervise, self.health.get("retention"),
                                     self.retention.run)
                await services.start(supervise, self.health.get("advisor"), self.advisor.run)
                await services.start(supervise, self.health.get("outcomes"), self.grader.run)
                await services.start(supervise, self.health.get("digest"), self.digest.run)
                binds = await services.start(serve_web, self.web_parts(), s.APP_HOST,
                                             s.APP_PORT)
                self.about.dashboard_url = binds[0] if binds else ""
                self.health.get("web").set("running", self.about.dashboard_url)
                about = {"pid": self.pid, "version": self.version,
                         "dashboard": self.about.dashboard_url}
                control = ControlServer(self.service.call, lambda: self.stop_reason)
                await services.start(serve_control, s.home, s.get("CONTROL_TRANSPORT", "auto"),
                                     about, control, self.health.get("control"))  # th-ctl last
                async with trio.open_nursery() as feeds:
                    for name, feed in feeds_made:
                        await feeds.start(supervise, self.health.get(name, "feed"),
                                          _bind(feed, send))
                    task_status.started()
                    # its own logger: QUIET_MODE keeps this line (the dashboard's address)
                    logging.getLogger(STARTUP_LOGGER).info(
                        "trade hunter %s ready at %s (%s mode)", self.version,
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


class RunningDetector:
    """The advisor's view of the detector: where it runs (the pipeline), where the web and
    the plugins find it (``extras["detector"]``, ``components``)."""

    def __init__(self, components: dict[str, Any], extras: dict[str, Any],
                 pipeline: Pipeline, health: Any) -> None:
        self.components, self.extras, self.pipeline = components, extras, pipeline
        self.health = health

    def current(self) -> Any:
        return self.extras.get("detector")

    def install(self, detector: Any) -> None:
        old = self.extras.get("detector")
        self.pipeline.set_detector(detector)
        self.extras["detector"] = detector
        for name, component in list(self.components.items()):
            if component is old:
                self.components[name] = detector
        show_detector(self.health, detector)


def show_detector(health: Any, detector: Any) -> None:
    """The detector's pill, /api/health and th-ctl status: running, with its profile and
    settings (a detector that can describe itself says so in words)."""
    describe = getattr(detector, "describe", None)
    health.set("running", describe() if callable(describe) else "runs in the pipeline")
    health.put("thresholds", dict(getattr(detector, "thresholds", {}) or {}))


def _bind(feed: Any, send: trio.MemorySendChannel[Any]) -> Any:
    async def run(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await feed.run(send.clone(), task_status=task_status)
    return run

