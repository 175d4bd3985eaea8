"""Process lifecycle around the daemon: the instance lock and the trio run."""

from __future__ import annotations

import logging
import sys
from typing import Any

import trio
from filelock import FileLock, Timeout

from .app import Daemon

log = logging.getLogger(__name__)
EXIT_RUNNING = 3


def run_daemon(settings: Any, host: Any, registries: Any, *, replace: bool = True) -> int:
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(home / "trade-hunter.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"trade-hunter: another instance already runs on {home}", file=sys.stderr)
        return EXIT_RUNNING
    try:
        daemon = Daemon(settings, host, registries)
        trio.run(daemon.run)
    except KeyboardInterrupt:
        pass
    finally:
        lock.release()
    return 0
