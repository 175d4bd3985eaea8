"""The control methods of the alert workflow (acknowledge, snooze, silences), mixed into
``Service``: the same handlers serve th-ctl, the JSON-RPC socket and the web API."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import trio

from trade_hunter.plugins.errors import RpcError

from .matchers import Matcher, MatcherError, parse_duration, parse_matchers, parse_target
from .notify_test import send_tests
from .outbox import muted_since
from .silences import MuteBook, local_midnight

if TYPE_CHECKING:
    from .digest import Digest
    from .live_view import Live
    from .store import Store


class AlertMethods:
    """Its collaborators are ``Service``'s (``daemon/rpc_handlers.py``)."""

    live: Live
    mutes: MuteBook
    store: Store
    notifiers: dict[str, Any]
    digest: Digest | None

    @property
    def _mutes(self) -> MuteBook:
        return self.mutes

    async def signals_ack(self, ids: str) -> dict[str, Any]:
        live = [s.id for s in self.live.signals.values() if s.id is not None]
        if ids.strip().lower() == "all":
            wanted = live
        else:
            parts = [p for p in re.split(r"[\s,]+", ids.strip()) if p]
            bad = [p for p in parts if not p.isdigit()]
            if bad or not parts:
                raise RpcError(f"signals.ack: ids must be signal numbers or 'all' (bad: "
                               f"{', '.join(bad) or 'none given'})", code="invalid_params")
            wanted = [int(p) for p in parts]
        new = await self._mutes.ack(wanted)
        return {"acked": new, "already": sorted(set(wanted) - set(new)),
                "unread": self.unread_count()}

    def unread_count(self) -> int:
        acked = self._mutes.acked
        return sum(1 for s in self.live.signals.values() if s.id not in acked)

    async def snooze_add(self, target: str, duration: str = "1h", comment: str = ""
                         ) -> dict[str, Any]:
        try:
            ticker, seconds = parse_target(target), parse_duration(duration)
        except MatcherError as exc:
            raise RpcError(f"snooze: {exc}", code="invalid_params") from None
        silence = await self._mutes.add("snooze", (Matcher("market", ticker),), seconds,
                                        comment.strip()[:500])
        return {"snooze": silence.as_dict(self._mutes.clock())}

    async def silence_add(self, matchers: str, duration: str = "2h", comment: str = ""
                          ) -> dict[str, Any]:
        try:
            parsed, seconds = parse_matchers(matchers), parse_duration(duration)
        except MatcherError as exc:
            raise RpcError(f"silence: {exc}", code="invalid_params") from None
        silence = await self._mutes.add("silence", parsed, seconds, comment.strip()[:500])
        return {"silence": silence.as_dict(self._mutes.clock())}

    async def silence_list(self) -> dict[str, Any]:
        book = self._mutes
        counts = await book.muted_counts(local_midnight(book.clock()))
        return {"silences": book.listing(), "muted_today": counts,
                "unread": self.unread_count()}

    async def silence_expire(self, id: int) -> dict[str, Any]:
        silence = await self._mutes.expire(id)
        if silence is None:
            raise RpcError(f"no silence or snooze {id}", code="invalid_params")
        return {"silence": silence.as_dict(self._mutes.clock())}

    async def silence_delete(self, id: int) -> dict[str, Any]:
        if not await self._mutes.delete(id):
            raise RpcError(f"no silence or snooze {id}", code="invalid_params")
        return {"deleted": id}

    async def alerts_state(self) -> dict[str, Any]:
        """The dashboard's view: which live signals are read or muted, and the counts. A
        signal shows muted when the outbox muted its alert, or while a silence matches it."""
        book = self._mutes
        signals = [s for s in self.live.signals.values() if s.id is not None]
        oldest = min((s.created_at for s in signals), default=0.0)
        by_row = await trio.to_thread.run_sync(muted_since, self.store,
                                               min(oldest, book.clock()) - 86400)
        keyed = {s.key: s for s in book.silences.values()}
        acked, muted = [], {}
        for s in signals:
            if s.id in book.acked:
                acked.append(s.id)
            silence = keyed.get(by_row.get(s.id, "")) or book.muted_by(s)
            if silence is not None:
                muted[str(s.id)] = {"kind": silence.kind, "id": silence.id,
                                    "until": silence.ends_at if silence.expired_at is None
                                    else silence.expired_at}
        return {"acked": acked, "muted": muted, "unread": self.unread_count(),
                "latest_id": max((s.id for s in signals if s.id is not None), default=0),
                **await self.silence_list()}

    async def notify_test(self, notifier: str | None = None) -> dict[str, Any]:
        notifiers = self.notifiers
        if notifier is not None and notifier not in notifiers:
            raise RpcError(f"no notifier {notifier!r} is running (running: "
                           f"{', '.join(notifiers) or 'none'})", code="invalid_params")
        if not notifiers:
            raise RpcError("no notifier is configured (DISCORD_WEBHOOK_URL, APPRISE_URLS)",
                           code="not_available")
        return {"results": await send_tests(notifiers, notifier)}

    async def digest_run(self, now: bool | None = None, dry_run: bool | None = None
                         ) -> dict[str, Any]:
        digest = self.digest
        if digest is None:
            raise RpcError("the digest is not ready", code="not_available")
        title, body = await digest.build()
        out: dict[str, Any] = {"title": title, "body": body}
        if now and not dry_run:
            out["results"] = await digest.send()
        return out
