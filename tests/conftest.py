"""Shared fixtures: a real daemon in-process (port 0, temporary home), settings builders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.cli import build

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"


def base_env(home: Path, **env: str) -> dict[str, str]:
    """Raw settings for a test daemon: isolated home, free port, no simulation, no
    third-party plugins (so an installed example plugin never leaks into other tests), and the
    classic detector profile, whose hand-computed numbers the daemon tests' histories were
    built for (the gated default has its own tests: tests/plugins/test_spike_gated.py and
    tests/daemon/test_gated_daemon.py)."""
    return {"TRADE_HUNTER_HOME": str(home), "APP_PORT": "0", "ENABLE_SIMULATION": "false",
            "THIRD_PARTY_PLUGINS": "false", "QUIET_MODE": "true", "SPIKE_PROFILE": "classic",
            **env}


def make_daemon(home: Path, **env: str) -> Daemon:
    settings, host, registries = build(base_env(home, **env))
    return Daemon(settings, host, registries)


async def run_daemon(nursery: trio.Nursery, d: Daemon) -> trio.Event:
    """Start ``d`` in ``nursery`` and return an event set once it has stopped: for tests that
    stop and restart daemons on one home themselves."""
    done = trio.Event()

    async def runner(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await d.run(task_status=task_status)
        finally:
            done.set()
    await nursery.start(runner)
    return done


StartDaemon = Callable[..., Awaitable[Daemon]]


@pytest.fixture
async def start_daemon(tmp_path: Path) -> AsyncIterator[StartDaemon]:
    """``d = await start_daemon(ENV="value", ...)`` runs a real daemon until the test ends,
    then shuts it down gracefully (feeds stop, pipeline drains, store commits)."""
    daemons: list[Daemon] = []
    async with trio.open_nursery() as nursery:
        async def start(home: Path | None = None, **env: str) -> Daemon:
            d = make_daemon(home or tmp_path / f"home{len(daemons)}", **env)
            await nursery.start(d.run)
            daemons.append(d)
            return d
        yield start
        for d in daemons:
            d.request_shutdown("test finished")


@pytest.fixture
def frames_dir() -> Path:
    """Real production Kalshi frames, kept in the repository with their attribution
    (tests/data/kalshi-real-frames/README.md): a fresh clone needs nothing beside it."""
    return DATA / "kalshi-real-frames"


def http_base(d: Daemon) -> str:
    return d.dashboard_url.rstrip("/")


__all__ = ["DATA", "REPO", "Any", "base_env", "http_base", "make_daemon"]
