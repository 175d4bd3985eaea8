"""Prometheus metrics: a custom collector that reads the daemon's own records at scrape time.

Nothing here sits on the event hot path. Events, feeds, notifiers, analysts and the store
already keep counters (``Live.counters``, each component's ``ComponentHealth``, the store's
commit counters); the collector turns them into metric families when ``/metrics`` is read.
Only per-signal and per-read facts that no record keeps (signals by source/tier/rule, analyst
latency) are tallied here, through the pipeline's signal hand-offs and the analyst service's
read listeners: one call per signal, not per event.

Counters restart at zero with the daemon, as Prometheus expects (``rate()`` handles resets).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from .buckets import Buckets

if TYPE_CHECKING:
    from trade_hunter.plugins.models import AnalystRead, SpikeSignal

    from .analyst_queue import AnalystService
    from .live_view import Live
    from .pipeline import Pipeline
    from .store import Store
    from .supervisor import HealthBook
    from .watchlist import Watchlist

PREFIX = "trade_hunter"
# Analyst calls take from tens of milliseconds (local rules) to the 30 s deadline.
DETECTION_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Outbox health counters → the delivery result they count.
DELIVERY_RESULTS = {"sent": "sent", "dropped": "dropped", "retries": "retried",
                    "rate_limited": "rate_limited"}
ANALYST_OUTCOMES = ("fallbacks", "provider_failures", "failed", "skipped_budget",
                    "skipped_queue_full", "record_errors")


class Tally:
    """Per-signal and per-read counts that no health record keeps."""

    def __init__(self) -> None:
        self.signals: dict[tuple[str, str, str], int] = {}
        self.reads: dict[tuple[str, str], int] = {}
        # provider → (bucket counts, count, sum of seconds)
        self.latency: dict[str, tuple[list[int], int, float]] = {}
        self.detection = Buckets(DETECTION_BUCKETS)
        """Seconds from an event's receipt to its signal being handed on."""

    def signal(self, signal: SpikeSignal) -> None:
        key = (signal.source, signal.tier, signal.rule)
        self.signals[key] = self.signals.get(key, 0) + 1
        received = signal.event.received_at
        if received and not signal.demo:
            self.detection.observe(max(time.time() - received, 0.0))

    def read(self, read: AnalystRead) -> None:
        provider = read.provider or "none"
        key = (provider, read.status)
        self.reads[key] = self.reads.get(key, 0) + 1
        if read.latency_ms is None:
            return
        seconds = read.latency_ms / 1000
        buckets, count, total = self.latency.get(
            provider, ([0] * len(LATENCY_BUCKETS), 0, 0.0))
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                buckets[i] += 1
        self.latency[provider] = (buckets, count + 1, total + seconds)


def _counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels))


def _gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels))


@dataclass
class MetricSources:
    """The records ``/metrics`` reads (``daemon/app.py`` gives them). The analyst service,
    the pipeline and the ingest channel exist once the daemon runs: asked for at scrape time
    (None before)."""

    version: str
    settings: Any
    live: Live
    tickers: Watchlist
    health: HealthBook
    store: Store
    analysts: Callable[[], AnalystService | None]
    pipeline: Callable[[], Pipeline | None]
    ingest_depth: Callable[[], int | None]


class DaemonCollector(Collector):
    """Everything ``/metrics`` shows, built from the daemon's records when scraped."""

    def __init__(self, sources: MetricSources, tally: Tally) -> None:
        self.sources, self.tally = sources, tally

    def collect(self) -> Iterator[Metric]:
        yield from self._process()
        yield from self._events()
        yield from self._components()
        yield from self._feeds()
        yield from self._outbox()
        yield from self._analysts()
        yield from self._store()

    # ------------------------------------------------------------------ families
    def _process(self) -> Iterator[Metric]:
        d = self.sources
        info = _gauge("info", "Version and mode of the running daemon (always 1)",
                      ("version", "mode"))
        info.add_metric([d.version, d.settings.active_mode], 1)
        yield info
        yield GaugeMetricFamily(f"{PREFIX}_uptime_seconds", "Seconds since the daemon started",
                                value=round(time.time() - d.live.started_at, 3))

    def _events(self) -> Iterator[Metric]:
        live = self.sources.live
        by_source = _counter("events", "Market events processed by the pipeline", ("source",))
        for source, n in sorted(live.by_source.items()):
            by_source.add_metric([source], n)
        yield by_source
        kinds = _counter("events_by_kind", "Market events processed, by kind", ("kind",))
        kinds.add_metric(["trade"], live.counters.get("trades", 0))
        kinds.add_metric(["quote"], live.counters.get("quotes", 0))
        yield kinds
        signals = _counter("signals", "Spike signals raised", ("source", "tier", "rule"))
        for (source, tier, rule), n in sorted(self.tally.signals.items()):
            signals.add_metric([source, tier, rule], n)
        yield signals
        detection = self.tally.detection
        yield HistogramMetricFamily(
            f"{PREFIX}_signal_detection_seconds", "From an event's receipt by the daemon to "
            "its signal being handed to the notifiers and the analyst (the detector's latency)",
            buckets=detection.pairs(), sum_value=detection.total)
        yield GaugeMetricFamily(f"{PREFIX}_markets", "Markets seen since start (up to 2,000)",
                                value=len(live.tape))
        if live.last_event_at is not None:
            yield GaugeMetricFamily(f"{PREFIX}_last_event_timestamp_seconds",
                                    "When the pipeline last received an event (epoch)",
                                    value=live.last_event_at)
        tickers = _gauge("tickers", "Tracked tickers by resolution status", ("status",))
        for status, count in sorted(self.sources.tickers.summary().items()):
            if status != "total" and isinstance(count, int):
                tickers.add_metric([status], count)
        yield tickers

    def _components(self) -> Iterator[Metric]:
        records = list(self.sources.health.components.values())
        state = _gauge("component_state", "1 for each component's current state",
                       ("component", "kind", "state"))
        restarts = _counter("component_restarts", "Restarts by the supervisor",
                            ("component", "kind"))
        counters = _counter("component_counter", "Every counter of a component's health "
                            "record (th-ctl status shows the same)",
                            ("component", "kind", "counter"))
        for h in records:
            state.add_metric([h.name, h.kind, h.state], 1)
            restarts.add_metric([h.name, h.kind], h.restarts)
            for name, n in sorted(h.counters.items()):
                counters.add_metric([h.name, h.kind, name], n)
        yield state
        yield restarts
        yield counters

    def _feeds(self) -> Iterator[Metric]:
        feeds = [h for h in self.sources.health.components.values() if h.kind == "feed"]
        messages = _counter("feed_messages", "Messages received by a feed, by type",
                            ("feed", "type"))
        reconnects = _counter("feed_reconnects", "Reconnections of a feed", ("feed",))
        connected = _gauge("feed_connected", "1 while the feed is connected or running",
                           ("feed",))
        for h in feeds:
            typed = {k[4:]: n for k, n in h.counters.items() if k.startswith("msg_")}
            if not typed and "events" in h.counters:  # feeds without message types
                typed = {"event": h.counters["events"]}
            for kind, n in sorted(typed.items()):
                messages.add_metric([h.name, kind], n)
            reconnects.add_metric([h.name], h.counters.get("reconnects", 0))
            connected.add_metric([h.name], 1 if h.state in ("connected", "running") else 0)
        yield messages
        yield reconnects
        yield connected

    def _outbox(self) -> Iterator[Metric]:
        notifiers = [h for h in self.sources.health.components.values() if h.kind == "notifier"]
        pending = _gauge("outbox_pending", "Notifications waiting to be delivered",
                         ("notifier",))
        oldest = _gauge("outbox_oldest_pending_seconds", "Age of the oldest waiting "
                        "notification", ("notifier",))
        results = _counter("notifier_deliveries", "Delivery attempts by result",
                           ("notifier", "result"))
        for h in notifiers:
            pending.add_metric([h.name], float(h.info.get("pending") or 0))
            oldest.add_metric([h.name], float(h.info.get("oldest_pending_s") or 0))
            for counter, result in DELIVERY_RESULTS.items():
                results.add_metric([h.name, result], h.counters.get(counter, 0))
        yield pending
        yield oldest
        yield results

    def _analysts(self) -> Iterator[Metric]:
        reads = _counter("analyst_reads", "Final analyst reads by provider and status",
                         ("provider", "status"))
        for (provider, status), n in sorted(self.tally.reads.items()):
            reads.add_metric([provider, status], n)
        yield reads
        latency = HistogramMetricFamily(f"{PREFIX}_analyst_latency_seconds",
                                        "Duration of the provider call that answered",
                                        labels=["provider"])
        for provider, (buckets, count, total) in sorted(self.tally.latency.items()):
            pairs = [(f"{b:g}", float(n)) for b, n in zip(LATENCY_BUCKETS, buckets, strict=True)]
            latency.add_metric([provider], pairs + [("+Inf", float(count))], total)
        yield latency
        service = self.sources.analysts()
        if service is None:
            return
        outcomes = _counter("analyst_outcomes", "Analyst fallbacks, failures and skips",
                            ("outcome",))
        for name in ANALYST_OUTCOMES:
            outcomes.add_metric([name], service.health.counters.get(name, 0))
        yield outcomes
        yield GaugeMetricFamily(f"{PREFIX}_analyst_budget_remaining",
                                "Paid analyst calls left in the sliding hour",
                                value=service.budget.available())
        yield GaugeMetricFamily(f"{PREFIX}_analyst_budget_limit",
                                "ANALYST_MAX_CALLS_PER_HOUR", value=service.budget.limit)
        yield GaugeMetricFamily(f"{PREFIX}_analyst_queued", "Signals queued or being analysed",
                                value=float(service.health.info.get("queued") or 0))

    def _store(self) -> Iterator[Metric]:
        store, pipeline = self.sources.store, self.sources.pipeline()
        yield CounterMetricFamily(f"{PREFIX}_store_commits", "SQLite transactions committed "
                                  "by the writer thread", value=store.commits)
        yield CounterMetricFamily(f"{PREFIX}_store_write_errors", "Store writes that failed",
                                  value=store.write_errors)
        yield CounterMetricFamily(f"{PREFIX}_store_write_cpu_seconds", "CPU time of the "
                                  "writer thread", value=round(store.write_cpu, 6))
        for name, doc, buckets in (
                ("store_commit_seconds", "Wall time of each writer transaction",
                 store.commit_seconds),
                ("store_batch_writes", ("Queued writes per writer transaction (a pipeline "
                 "batch of events counts as one)"), store.batch_writes)):
            yield HistogramMetricFamily(f"{PREFIX}_{name}", doc, buckets=buckets.pairs(),
                                        sum_value=buckets.total)
        if pipeline is None:
            return
        yield CounterMetricFamily(f"{PREFIX}_store_committed_events", "Events committed to "
                                  "SQLite (their mean batch: this / commits)",
                                  value=pipeline.committed)
        yield GaugeMetricFamily(f"{PREFIX}_store_uncommitted_events", "Events queued to the "
                                "store and not committed yet (backpressure above 10,000)",
                                value=max(pipeline.submitted - pipeline.committed, 0))
        depth = self.sources.ingest_depth()
        if depth is not None:
            yield GaugeMetricFamily(f"{PREFIX}_ingest_queue_depth", "Items waiting in the "
                                    "ingest channel (32 slots)", value=depth)


def registry_for(sources: MetricSources, tally: Tally) -> CollectorRegistry:
    """A registry of its own (not the global default one: several daemons may live in one
    test process): our collector and the standard ``process_*`` metrics (Linux only)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DaemonCollector(sources, tally))
    ProcessCollector(registry=registry)
    return registry
