"""The daily digest: once a day at ``DIGEST_AT`` (``HH:MM``, in ``DIGEST_TIMEZONE``), one
message per notifier with the day's strongest signals and their outcomes so far, the day's
continuation rate against its baseline (the scorecard's own numbers, ``outcome_store.scorecard``:
never graded twice), counts by topic and tier, what was muted, and feed health.

* Notifiers that can send free text (optional ``notify_text(title, body)``: Discord, apprise)
  get it; others are skipped and said so.
* The day a digest went out is stored (``kv``: ``digest:<notifier>``), so a daemon stopped
  over the digest time sends it after the restart, once, and never twice a day.
* Times come from the outbox's clock (wall time moving with Trio's): tests drive the
  schedule with a virtual clock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import trio

from trade_hunter.outcomes.grading import HorizonOutcome, horizon_name
from trade_hunter.outcomes.render import lift_text, pct
from trade_hunter.plugins.errors import ConfigError

from . import outcome_store
from .supervisor import backoff

if TYPE_CHECKING:
    from .silences import MuteBook
    from .store import Store
    from .supervisor import HealthBook

log = logging.getLogger(__name__)
STRONGEST = 5
ATTEMPTS = 6


def _mark_sent(conn: Any, *, key: str, day: str) -> None:
    conn.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, day))


def parse_schedule(at: str, zone: str) -> tuple[tuple[int, int] | None, tzinfo | None]:
    """``DIGEST_AT``/``DIGEST_TIMEZONE`` → ((hour, minute) or None when off, tz or None for
    the system's local time); ``ConfigError`` naming the bad one."""
    tz: tzinfo | None = None
    if zone.strip():
        try:
            tz = ZoneInfo(zone.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("DIGEST_TIMEZONE", zone, "an IANA time zone such as "
                              "Europe/Paris or America/New_York") from None
    if not at.strip():
        return None, tz
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", at.strip())
    if match is None:
        raise ConfigError("DIGEST_AT", at, "a time of day HH:MM (24 h), e.g. 08:30")
    return (int(match[1]), int(match[2])), tz


def outcomes_line(horizons: list[HorizonOutcome]) -> str:
    """``+1m continued +2¢ · +5m reversed −1¢``; ``pending`` before the first horizon."""
    done = [h for h in horizons if h.outcome != "no data"]
    if not done:
        return "pending"
    return " · ".join(f"+{horizon_name(h.horizon)} {h.outcome} {_cents(h.change)}"
                      for h in done)


def _cents(change: float | None) -> str:
    c = round((change or 0.0) * 100, 1)
    return ("+" if c > 0 else "−" if c < 0 else "±") + f"{abs(c):g}¢"


class Digest:
    def __init__(self, *, store: Store, mutes: MuteBook, health: HealthBook,
                 notifiers: Callable[[], dict[str, Any]], clock: Callable[[], float],
                 at: tuple[int, int] | None, tz: tzinfo | None,
                 page_url: Callable[[str], str | None] = lambda market: None) -> None:
        self.store, self.mutes, self.health = store, mutes, health
        self.notifiers, self.clock, self.at, self.tz = notifiers, clock, at, tz
        self.page_url = page_url
        """A market's page on the dashboard (``daemon/links.py``)."""

    def _local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.tz).astimezone(self.tz)

    def day_start(self, ts: float) -> float:
        local = self._local(ts)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()

    # ------------------------------------------------------------------ content
    async def build(self) -> tuple[str, str]:
        now = self.clock()
        since = self.day_start(now)
        day = self._local(now).strftime("%A %d %B %Y")
        top = await self.store.aquery(
            "SELECT id, market_id, title, tier, score, topic FROM signals"
            " WHERE stored_at >= ? AND stored_at < ? ORDER BY score DESC LIMIT ?",
            (since, now + 1, STRONGEST))
        topics = await self.store.aquery(
            "SELECT topic, COUNT(*) FROM signals WHERE stored_at >= ? AND stored_at < ?"
            " GROUP BY topic ORDER BY COUNT(*) DESC", (since, now + 1))
        tiers = await self.store.aquery(
            "SELECT tier, COUNT(*) FROM signals WHERE stored_at >= ? AND stored_at < ?"
            " GROUP BY tier ORDER BY COUNT(*) DESC", (since, now + 1))
        muted = await self.mutes.muted_counts(since)
        total = sum(n for _, n in topics)
        lines = [f"{total} signal{'s' * (total != 1)} today"]
        if topics:
            lines.append("By topic: " + ", ".join(f"{t} {n}" for t, n in topics))
            lines.append("By tier: " + ", ".join(f"{t} {n}" for t, n in tiers))
        if top:
            graded = await trio.to_thread.run_sync(
                outcome_store.outcomes_of, self.store, [row[0] for row in top])
            lines += ["", "Strongest:"]
            for sid, market, title, tier, score, topic in top:
                url = self.page_url(market)
                lines.append(f"#{sid} {tier} · {market} · score {score:.2f} · {title or topic}"
                             + (f" · {url}" if url else ""))
                lines.append("  outcomes so far: " + outcomes_line(graded.get(sid, [])))
        lines += await self._continuation(since)
        lines += ["", f"Muted: {muted['alerts']} alerts by {muted['silences']} silences"]
        feeds = [h for h in self.health.as_list() if h["kind"] == "feed"]
        if feeds:
            lines += ["", "Feeds:"]
            for f in feeds:
                text = f"{f['name']}: {f['state']}"
                if f.get("restarts"):
                    text += f" · {f['restarts']} restarts"
                if f.get("last_error"):
                    text += f" · last error: {str(f['last_error'])[:120]}"
                lines.append(text)
        lines += ["", "Trade Hunter · informational only, not trading advice"]
        return f"Trade Hunter daily digest · {day}", "\n".join(lines)

    async def _continuation(self, since: float) -> list[str]:
        """The day's continuation rate at each horizon graded so far, beside its time-matched
        baseline's, with the lift and its interval: the scorecard (group ``all``) of the
        signals created since the day began (demo and relayed alerts left out, as there)."""
        card = await trio.to_thread.run_sync(outcome_store.scorecard, self.store, since, None,
                                             "all")
        total = card.get("total") or {}
        rows = [h for h in total.get("horizons", []) if h["graded"]]
        if not rows:
            return ["", "Continuation today: no signal of today graded yet"]
        head = "Continuation today (share moving the signal's way) vs its baseline, lift in points:"
        out = ["", head]
        out += [f"+{h['horizon']}: {pct(h['continuation'])} of {h['graded']} graded vs "
                f"{pct(h['baseline_continuation'])} baseline · lift {lift_text(h)}"
                for h in rows]
        return out

    # ------------------------------------------------------------------ sending
    async def send(self, only_unsent_today: bool = False) -> list[dict[str, Any]]:
        title, body = await self.build()
        today = self._local(self.clock()).date().isoformat()
        answers = []
        for name, component in self.notifiers().items():
            key = f"digest:{name}"
            if only_unsent_today and await self._sent_on(key) == today:
                continue
            send = getattr(component, "notify_text", None)
            if not callable(send):
                answers.append({"notifier": name, "ok": False,
                                "answer": "this notifier cannot send a digest"})
                continue
            answer = await self._send_one(name, send, title, body)
            if answer["ok"]:
                await self.store.run(partial(_mark_sent, key=key, day=today))
            answers.append(answer)
        return answers

    async def _send_one(self, name: str, send: Any, title: str, body: str) -> dict[str, Any]:
        error = ""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with trio.fail_after(120):
                    await send(title, body)
                return {"notifier": name, "ok": True, "answer": "delivered"}
            except Exception as exc:  # noqa: BLE001 - retried, then reported
                error = f"{type(exc).__name__}: {exc}"[:300]
                retry = getattr(exc, "retry_after", None)
                await trio.sleep(retry if retry is not None else backoff(attempt))
        log.warning("digest to %s failed: %s", name, error)
        return {"notifier": name, "ok": False, "answer": error}

    async def _sent_on(self, key: str) -> str:
        rows = await self.store.aquery("SELECT value FROM kv WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else ""

    def next_due(self, now: float) -> float:
        assert self.at is not None
        local = self._local(now)
        due = local.replace(hour=self.at[0], minute=self.at[1], second=0, microsecond=0)
        if due.timestamp() <= now:
            due += timedelta(days=1)
        return due.timestamp()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        if self.at is None:
            await trio.sleep_forever()
        # Missed while stopped: today's time has passed and it was not sent today.
        local = self._local(self.clock())
        if (local.hour, local.minute) >= self.at:
            await self.send(only_unsent_today=True)
        while True:
            now = self.clock()
            await trio.sleep(self.next_due(now) - now)
            await self.send(only_unsent_today=True)
