"""Dashboard sessions and the login throttle.

A session id is 256 random bits, held only in this process's memory: logging out revokes it
at once, and a changed ``DASHBOARD_TOKEN`` (which takes a restart) revokes every session.
Wrong logins are throttled globally, not per client: past ``MAX_FAILURES`` within
``FAILURE_WINDOW`` seconds, logins are refused with 429 *before* the token is compared, so
parallel guessing gains nothing.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque

SESSION_MAX_AGE = 30 * 86400
MAX_SESSIONS = 1000       # the oldest is dropped beyond this (one per browser that logged in)
MAX_FAILURES = 10         # wrong logins ...
FAILURE_WINDOW = 60.0     # ... within this many seconds lock logins for everyone


class Sessions:
    def __init__(self) -> None:
        self._clock = time.monotonic
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def create(self) -> str:
        sid = secrets.token_urlsafe(32)
        self._expiry[sid] = self._clock() + SESSION_MAX_AGE
        while len(self._expiry) > MAX_SESSIONS:
            self._expiry.popitem(last=False)
        return sid

    def valid(self, sid: str) -> bool:
        # A dict lookup by the secret itself: the id is random, so its timing tells nothing.
        expiry = self._expiry.get(sid) if sid else None
        if expiry is None:
            return False
        if expiry < self._clock():
            del self._expiry[sid]
            return False
        return True

    def revoke(self, sid: str) -> None:
        self._expiry.pop(sid, None)

    def __len__(self) -> int:
        return len(self._expiry)


class LoginThrottle:
    """Counts wrong logins over everyone; ``wait()`` > 0 means refuse for that long."""

    def __init__(self) -> None:
        self._failures: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._failures and now - self._failures[0] > FAILURE_WINDOW:
            self._failures.popleft()

    def wait(self) -> float:
        now = time.monotonic()
        self._trim(now)
        if len(self._failures) < MAX_FAILURES:
            return 0.0
        return max(0.1, FAILURE_WINDOW - (now - self._failures[0]))

    def failed(self) -> None:
        self._failures.append(time.monotonic())
