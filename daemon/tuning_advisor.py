"""The tuning advisor, daemon side: runs the advisor (``daemon/tuning_rules.py``)
periodically and on demand, keeps the backlog file, and applies suggestions.

* A run reads the window's signals and reads from the store, replays the detector over the
  stored events in a worker thread (the hot path never waits on it), lets Perplexity phrase
  the narrative when it is configured (the numbers stay the replay's), and merges the
  suggestions into the backlog file.
* Applying a suggestion swaps the running detector for one with the new threshold
  (``Pipeline.set_detector``), records the override in the store's ``kv`` table so it survives
  restarts (:func:`tuned_detector` at start-up), and marks the entry ``applied``. An override
  is dropped at start-up when the setting itself was changed since: the person's explicit
  configuration wins.
* :meth:`Advisor.summary` is what the dashboard's Tuning Advisor panel shows (``/api/state``
  key ``tuning``): memory only, no I/O.
"""

from __future__ import annotations

import json
import logging
import re
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import trio

from trade_hunter.plugins.errors import AnalystError, RpcError
from trade_hunter.plugins.models import MarketEvent

from . import tuning_rules as logic
from .backlog import Backlog, Entry
from .outcome_store import scored_signals

if TYPE_CHECKING:
    from .analyst_queue import Budget
    from .store import Store
    from .supervisor import ComponentHealth

log = logging.getLogger(__name__)
KV_KEY = "tuning.overrides"
LAST_RUN_KEY = "tuning.last_run"
SHOWN = 20
NARRATIVE_TIMEOUT = 20.0
_ID = re.compile(r"^TB-(\d+)$", re.IGNORECASE)


# ---------------------------------------------------------------------- thresholds on disk
def load_overrides(store: Store) -> dict[str, dict[str, Any]]:
    rows = store.query("SELECT value FROM kv WHERE key=?", (KV_KEY,))
    try:
        data = json.loads(rows[0][0]) if rows else {}
    except ValueError:
        log.warning("ignoring unreadable %s in the store", KV_KEY)
        return {}
    return data if isinstance(data, dict) else {}


def _save(overrides: dict[str, dict[str, Any]]) -> Any:
    text = json.dumps(overrides, sort_keys=True)
    return lambda conn: conn.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value=excluded.value", (KV_KEY, text))


async def tuned_detector(store: Store, settings: Any, detector: Any) -> Any:
    """The detector with the applied tuning overrides (start-up); ``detector`` itself when
    there are none."""
    saved = await trio.to_thread.run_sync(load_overrides, store)
    keep: dict[str, dict[str, Any]] = {}
    for knob, o in saved.items():
        if knob not in detector.thresholds or not isinstance(o, dict) or "value" not in o:
            continue
        if o.get("setting") != settings.get(knob):
            log.info("%s was changed in the settings since %s was applied: the setting wins",
                     knob, o.get("id", "a tuning suggestion"))
            continue
        keep[knob] = o
    if keep != saved:
        await store.run(_save(keep))
    if not keep:
        return detector
    tuned = detector.with_thresholds(**{k: float(o["value"]) for k, o in keep.items()})
    log.info("detector %s runs with applied tuning: %s", getattr(detector, "name", "?"),
             ", ".join(f"{k}={o['value']:g} ({o.get('id', '?')})" for k, o in keep.items()))
    return tuned


def backlog_path(settings: Any) -> Path:
    """``TUNING_BACKLOG_PATH``; by default ``docs/TUNING-BACKLOG.md`` when the daemon runs in
    a Trade Hunter checkout (what the launcher does), else ``TUNING-BACKLOG.md`` in the state
    folder: an installed daemon never writes into whatever directory it was started from."""
    configured = settings.get("TUNING_BACKLOG_PATH")
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else Path.cwd() / path
    cwd = Path.cwd()
    if in_checkout(cwd):
        return cwd / "docs" / "TUNING-BACKLOG.md"
    return settings.home / "TUNING-BACKLOG.md"


def in_checkout(folder: Path) -> bool:
    """A source checkout of this project: its ``pyproject.toml`` names it, and has ``docs/``."""
    try:
        project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False
    return project.get("project", {}).get("name") == "trade-hunter" and \
        (folder / "docs").is_dir()


# ---------------------------------------------------------------------- events of a market
EVENTS_SQL = (
    "SELECT e.ts, e.received_at, e.platform, e.market_id, e.kind, e.yes_price, e.volume,"
    " e.volume_kind, e.trade_side, e.trade_size, e.yes_bid, e.yes_ask, e.source, e.ext_id,"
    " COALESCE(m.title, ''), m.topic FROM events e LEFT JOIN markets m"
    " ON m.market_id = e.market_id WHERE e.market_id = ? AND e.ts >= ? AND e.ts < ?"
    " ORDER BY e.ts, e.id")


def market_events(store: Store, market_id: str, since: float, until: float
                  ) -> list[MarketEvent]:
    """One market's stored events, in order (replayed one market at a time: bounded memory)."""
    return [MarketEvent(
        timestamp=r[0], received_at=r[1], platform=r[2], market_id=r[3],
        event_kind="trade" if r[4] == "T" else "quote", yes_price=r[5], volume=r[6],
        volume_kind=r[7], trade_side=r[8], trade_size=r[9], yes_bid=r[10], yes_ask=r[11],
        source=r[12], ext_id=r[13], title=r[14], topic=r[15])
        for r in store.query(EVENTS_SQL, (market_id, since, until))]


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


# ---------------------------------------------------------------------- the runner
class DetectorSlot(Protocol):
    """Where the running detector lives: read it, or install a tuned one everywhere it runs."""

    def current(self) -> Any: ...

    def install(self, detector: Any) -> None: ...


class Narrator(Protocol):
    """A provider that phrases a suggestion's evidence (the Perplexity analyst)."""

    async def narrate(self, facts: str) -> str: ...


class Advisor:
    def __init__(self, *, settings: Any, store: Store, health: ComponentHealth,
                 detector: DetectorSlot, narrator: Narrator | None = None,
                 budget: Budget | None = None) -> None:
        self.settings, self.store, self.detector = settings, store, detector
        self.narrator, self.budget = narrator, budget
        s = settings
        # Declared by the advisor plugin: disabling that plugin disables the advisor.
        self.enabled = "ADVISOR_INTERVAL_SECONDS" in s.declared
        self.interval = float(s.get("ADVISOR_INTERVAL_SECONDS", 900.0))
        self.window = float(s.get("ADVISOR_WINDOW_HOURS", 24.0)) * 3600
        self.backlog = Backlog(backlog_path(s))
        self.health = health
        self.entries: list[Entry] = []
        self.report: logic.Report | None = None
        self.latest: list[str] = []
        self.state = "idle" if self.enabled else "disabled"
        self.last_run_at: float | None = None
        self.last_message = ""
        """The last run's message, kept in the store (the panel says it after a restart)."""
        self.next_run_at: float | None = None
        self.last_error = ""
        self._lock = trio.Lock()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        if not self.enabled:
            self.health.set("disabled", "the advisor plugin is not loaded")
            task_status.started()
            return
        await self.refresh()
        self.health.set("running", f"every {self.interval:g}s; backlog {self.backlog.path}")
        task_status.started()
        while True:
            self.next_run_at = time.time() + self.interval
            await trio.sleep(self.interval)
            try:
                await self.run_once()
            except Exception as exc:  # one bad run is reported, the next one tries again
                log.exception("tuning advisor run failed")
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.health.set("degraded", self.last_error)

    async def refresh(self) -> None:
        """Re-read the backlog file (a person may have edited it) and the last run."""
        self.entries = await trio.to_thread.run_sync(self.backlog.load)
        rows = await self.store.aquery("SELECT value FROM kv WHERE key=?", (LAST_RUN_KEY,))
        if rows and self.last_run_at is None:
            try:
                last = json.loads(rows[0][0])
                self.last_run_at, self.last_message = float(last["at"]), str(last["message"])
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring unreadable %s in the store", LAST_RUN_KEY)

    # ------------------------------------------------------------------ a run
    async def run_once(self) -> dict[str, Any]:
        """Look at the window, replay the candidates, update the backlog; the new summary."""
        self._require()
        async with self._lock:
            self.state = "running"
            try:
                detector = self.detector.current()
                report = await trio.to_thread.run_sync(self._compute, detector)
                suggestions = [s.as_dict() for s in report.suggestions]
                for item in suggestions:
                    item["narrative"] = await self._narrate(item)
                if suggestions:  # the file is only created once there is something in it
                    self.entries, self.latest = await trio.to_thread.run_sync(
                        self.backlog.merge, suggestions, _today())
                else:
                    self.entries, self.latest = await trio.to_thread.run_sync(
                        self.backlog.load), []
                self.report = report
                self.last_run_at = time.time()
                self.last_message = report.message or \
                    f"{len(suggestions)} suggestion(s) from the replay"
                record = json.dumps({"at": self.last_run_at, "message": self.last_message})
                await self.store.run(lambda conn: conn.execute(
                    "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)",
                    (LAST_RUN_KEY, record)))
                self.last_error = ""
                self.health.count("runs")
                self.health.set("running", report.message or
                                f"{len(suggestions)} suggestion(s): {', '.join(self.latest)}")
            finally:
                self.state = "idle"
        return self.summary()

    def _compute(self, detector: Any) -> logic.Report:
        end = time.time()
        start = end - self.window
        store = self.store
        past = logic.past_signals(store.signals_between(start, end))
        outcomes = {logic.key_of(o.market_id, o.created_at): o
                    for o in scored_signals(store, start, end)}
        return logic.advise(detector, past,
                            lambda m, a, b: market_events(store, m, a, b), start, end,
                            outcomes=outcomes)

    async def _narrate(self, item: dict[str, Any]) -> str:
        """Perplexity phrases the evidence when configured and the budget allows; the
        numbers shown are always the replay's (they are in ``evidence``)."""
        provider, budget = self.narrator, self.budget
        if provider is None or budget is None or not budget.take():
            return ""
        facts = (f"Change {item['knob']} from {item['from']:g} to {item['to']:g}. Pattern: "
                 f"{item['why']}. Replay of the stored events: {item['evidence']}.")
        try:
            with trio.fail_after(NARRATIVE_TIMEOUT):
                return str(await provider.narrate(facts))
        except (AnalystError, trio.TooSlowError) as exc:
            log.info("no narrative for %s: %s", item["knob"], exc or "timed out")
            return ""

    # ------------------------------------------------------------------ applying
    async def apply(self, entry_id: str) -> dict[str, Any]:
        self._require()
        match = _ID.match(entry_id.strip())
        if match is None:
            raise RpcError(f"tuning.apply: {entry_id!r} is not a backlog id like TB-001")
        entry_id = f"TB-{int(match.group(1)):03d}"  # "tb-7" is TB-007
        async with self._lock:
            entries = await trio.to_thread.run_sync(self.backlog.load)
            entry = next((e for e in entries if e.id == entry_id), None)
            if entry is None:
                raise RpcError(f"tuning.apply: no suggestion {entry_id} in "
                               f"{self.backlog.path}")
            detector = self.detector.current()
            if entry.knob not in detector.thresholds:
                raise RpcError(f"tuning.apply: {entry.knob} is not a threshold of the "
                               f"{detector.name} detector")
            previous = detector.thresholds[entry.knob]
            overrides = await trio.to_thread.run_sync(load_overrides, self.store)
            overrides[entry.knob] = {"value": entry.proposed, "id": entry.id,
                                     "setting": self.settings.get(entry.knob),
                                     "applied_at": time.time()}
            await self.store.run(_save(overrides))  # persisted before it takes effect
            tuned = detector.with_thresholds(**{entry.knob: entry.proposed})
            self.detector.install(tuned)
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            await trio.to_thread.run_sync(lambda: self.backlog.mark(entry.id, "applied",
                                                                    applied=stamp))
            self.entries = await trio.to_thread.run_sync(self.backlog.load)
        log.info("applied %s: %s %g → %g", entry.id, entry.knob, previous, entry.proposed)
        return {"id": entry.id, "knob": entry.knob, "from": previous, "to": entry.proposed,
                "status": "applied", "thresholds": dict(tuned.thresholds)}

    async def reject(self, entry_id: str) -> dict[str, Any]:
        """Mark a suggestion rejected in the backlog (a person's decision, kept there)."""
        self._require()
        match = _ID.match(entry_id.strip())
        if match is None:
            raise RpcError(f"tuning.reject: {entry_id!r} is not a backlog id like TB-001")
        entry_id = f"TB-{int(match.group(1)):03d}"
        async with self._lock:
            entries = await trio.to_thread.run_sync(self.backlog.load)
            if not any(e.id == entry_id for e in entries):
                raise RpcError(f"tuning.reject: no suggestion {entry_id} in "
                               f"{self.backlog.path}")
            await trio.to_thread.run_sync(lambda: self.backlog.mark(entry_id, "rejected"))
            self.entries = await trio.to_thread.run_sync(self.backlog.load)
        log.info("rejected %s", entry_id)
        return {"id": entry_id, "status": "rejected"}

    def _require(self) -> None:
        if not self.enabled:
            raise RpcError("the tuning advisor is disabled (its plugin is not loaded)",
                           code="not_available")

    # ------------------------------------------------------------------ the panel
    def summary(self) -> dict[str, Any]:
        """The Tuning Advisor panel (``/api/state`` key ``tuning``); memory only."""
        report = self.report
        detector = self.detector.current()
        newest = sorted(self.entries, key=lambda e: e.number, reverse=True)[:SHOWN]
        if not self.enabled:
            detail = "The tuning advisor is off: its plugin is not loaded."
        elif report is None and self.last_run_at is not None:
            detail = f"Last run (before the daemon restarted): {self.last_message}"
        elif report is None:
            detail = (f"No advisor run yet: the first runs in {self.interval:g}s "
                      f"(or run it now with th-ctl tuning-run).")
        else:
            detail = report.message
        return {
            "available": self.enabled,
            "state": self.state,
            "detail": detail,
            "last_run_at": self.last_run_at,
            "next_run_at": self.next_run_at,
            "last_error": self.last_error,
            "interval_seconds": self.interval,
            "window_hours": self.window / 3600,
            "backlog_path": str(self.backlog.path),
            "labels": dict(report.labels) if report else {},
            "replay": dict(report.baseline) if report else {},
            "patterns": [p.as_dict() for p in report.patterns[:10]] if report else [],
            "thresholds": dict(detector.thresholds) if detector is not None else {},
            "latest": list(self.latest),
            "suggestions": [e.as_dict() for e in newest],
        }
