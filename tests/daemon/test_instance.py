"""The instance lock and the replace path against a real in-process daemon (the process-level
scenarios are in tests/ctl/test_processes.py)."""

from __future__ import annotations

import errno
import json
import shutil
import socket
import stat
from pathlib import Path

import pytest
import trio

from trade_hunter.daemon import instance, protocol


def test_the_lock_is_exclusive_and_outlives_nothing(tmp_path):
    first, second = instance.InstanceLock(tmp_path), instance.InstanceLock(tmp_path)
    assert first.try_acquire() and first.held
    assert not second.try_acquire() and not second.held
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    first.release()
    assert second.try_acquire()
    second.release()
    assert first.path.exists()  # the file stays; only the OS lock matters


async def test_no_replace_names_the_running_instance(start_daemon, tmp_path):
    d = await start_daemon()
    held = instance.InstanceLock(d.settings.home)  # as the running daemon would hold it
    assert held.try_acquire()
    try:
        with pytest.raises(instance.InstanceRunning) as caught:
            await trio.to_thread.run_sync(
                lambda: instance.acquire(d.settings.home, replace=False, say=print))
    finally:
        held.release()
    assert caught.value.info["pid"] == d.pid
    assert str(caught.value) == f"pid {d.pid}, dashboard {d.dashboard_url}"
    assert not d.stop_reason  # not asked to stop


async def test_replace_asks_the_verified_instance_to_stop_then_takes_the_lock(start_daemon):
    d = await start_daemon()
    home = d.settings.home
    held = instance.InstanceLock(home)
    assert held.try_acquire()
    said: list[str] = []
    result: list[instance.InstanceLock] = []

    async def take_over() -> None:
        result.append(await trio.to_thread.run_sync(
            lambda: instance.acquire(home, replace=True, say=said.append)))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take_over)
        with trio.fail_after(15):  # the daemon stops: its control files disappear
            while protocol.endpoint_path(home).exists():
                await trio.sleep(0.05)
        assert d.stop_reason == "control request"
        held.release()  # what the old process does when its trio.run returns
    [lock] = result
    assert lock.held
    lock.release()
    assert said[0].startswith(f"replacing the instance running on {home} (pid {d.pid}")
    assert said[1] == f"previous instance (pid {d.pid}) stopped; starting"


async def test_an_unverified_endpoint_is_never_asked_to_stop(start_daemon, tmp_path):
    d = await start_daemon()
    other = tmp_path / "other-home"
    (other / "control").mkdir(parents=True)
    # Another home's endpoint file pointing at this daemon: its status names another home.
    shutil.copy(protocol.endpoint_path(d.settings.home), protocol.endpoint_path(other))
    held = instance.InstanceLock(other)
    assert held.try_acquire()
    try:
        assert await trio.to_thread.run_sync(instance.probe, other) is None
        with pytest.raises(instance.ReplaceFailed, match="does not answer"):
            await trio.to_thread.run_sync(
                lambda: instance.acquire(other, replace=True, deadline=0.3, say=print))
    finally:
        held.release()
    assert not d.stop_reason and await d.service.call("status")


async def test_a_pid_mismatch_is_not_verified(start_daemon):
    d = await start_daemon()
    path = protocol.endpoint_path(d.settings.home)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "pid": d.pid + 1}))
    assert await trio.to_thread.run_sync(instance.probe, d.settings.home) is None
    path.write_text(json.dumps(data))
    assert (await trio.to_thread.run_sync(instance.probe, d.settings.home))["pid"] == d.pid


def test_check_port():
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = foreign.getsockname()[1]
        with pytest.raises(instance.PortBusy, match=f"port {port} on 127.0.0.1 is already in "
                                                    "use by another program"):
            instance.check_port("127.0.0.1", port)
    instance.check_port("127.0.0.1", port)  # free again
    instance.check_port("127.0.0.1", 0)
    with pytest.raises(instance.PortBusy, match="APP_HOST"):
        instance.check_port("no-such-host.invalid", 8765)


def test_find_bind_error_looks_inside_exception_groups():
    busy = OSError(errno.EADDRINUSE, "Address already in use")
    nested = ExceptionGroup("outer", [ValueError("x"), ExceptionGroup("inner", [busy])])
    assert instance.find_bind_error(nested) is busy
    assert instance.find_bind_error(ExceptionGroup("g", [ValueError("x")])) is None
    assert instance.find_bind_error(OSError(errno.ENOENT, "nope")) is None
    assert "already in use" in instance.port_message("127.0.0.1", 8765, busy)


def test_same_home_follows_symlinks(tmp_path: Path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert instance.same_home(tmp_path / "link", real)
    assert not instance.same_home(tmp_path, real)


def test_a_bind_race_lost_inside_the_daemon_is_exit_4(tmp_path, monkeypatch, capsys):
    """The pre-check can pass and hypercorn's own bind still fail (another program grabbed
    the port in between): the error comes out of trio's exception groups as the same line."""
    from trade_hunter.daemon.cli import build
    from trade_hunter.daemon.lifecycle import EXIT_PORT, run_daemon

    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = foreign.getsockname()[1]
        settings, host, registries = build({
            "TRADE_HUNTER_HOME": str(tmp_path / "home"), "APP_PORT": str(port),
            "ENABLE_SIMULATION": "false", "THIRD_PARTY_PLUGINS": "false",
            "QUIET_MODE": "true"})
        monkeypatch.setattr(instance, "check_port", lambda host, port: None)  # lose the race
        assert run_daemon(settings, host, registries) == EXIT_PORT
    err = capsys.readouterr().err
    assert err.strip() == (f"trade-hunter: port {port} on 127.0.0.1 is already in use by "
                           "another program (not the Trade Hunter instance of this home); "
                           "stop that program or set APP_PORT")
    lock = instance.InstanceLock(tmp_path / "home")
    assert lock.try_acquire()  # the failed run released its lock
    lock.release()
