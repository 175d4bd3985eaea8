"""The analyst queue: each signal gets at most one read, off the hot path, from the first
provider (in priority order) that answers."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import trio

from trade_hunter.plugins.errors import AnalystError
from trade_hunter.plugins.models import AnalystRead, SpikeSignal

from .store import write_read

if TYPE_CHECKING:
    from .app import Daemon

log = logging.getLogger(__name__)
QUEUE_SIZE = 200
CONCURRENCY = 2
CALL_TIMEOUT = 30.0


class AnalystService:
    def __init__(self, daemon: Daemon, providers: list[tuple[str, Any]]) -> None:
        self.d = daemon
        self.providers = providers
        self._send, self._receive = trio.open_memory_channel[SpikeSignal](QUEUE_SIZE)

    def submit(self, signal: SpikeSignal) -> None:
        if not self.providers:
            return
        try:
            self._send.send_nowait(signal)
        except trio.WouldBlock:
            self._record(AnalystRead(signal_id=signal.id or 0, status="skipped",
                                     error="skipped: analyst queue full",
                                     created_at=time.time()))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        limiter = trio.CapacityLimiter(CONCURRENCY)
        async with trio.open_nursery() as nursery:
            task_status.started()
            async for signal in self._receive:
                await limiter.acquire_on_behalf_of(signal)
                nursery.start_soon(self._analyze, signal, limiter)

    async def _analyze(self, signal: SpikeSignal, limiter: trio.CapacityLimiter) -> None:
        try:
            self._record(await self.analyze(signal))
        finally:
            limiter.release_on_behalf_of(signal)

    async def analyze(self, signal: SpikeSignal) -> AnalystRead:
        errors = []
        for name, provider in self.providers:
            started = time.monotonic()
            try:
                with trio.fail_after(CALL_TIMEOUT):
                    read: AnalystRead = await provider.analyze(signal)
            except (AnalystError, trio.TooSlowError) as exc:
                errors.append(f"{name}: {exc or 'timeout'}")
                continue
            except Exception as exc:
                log.exception("analyst %s crashed", name)
                errors.append(f"{name}: {type(exc).__name__}")
                continue
            read.signal_id = signal.id or 0
            read.provider = read.provider or name
            if read.latency_ms is None:
                read.latency_ms = round((time.monotonic() - started) * 1000, 1)
            read.created_at = read.created_at or time.time()
            return read
        return AnalystRead(signal_id=signal.id or 0, status="failed",
                           error="; ".join(errors)[:500], created_at=time.time())

    def _record(self, read: AnalystRead) -> None:
        self.d.store.submit(write_read(read))
        self.d.live.set_read(read)
