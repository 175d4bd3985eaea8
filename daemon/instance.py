"""One daemon per home: the OS-level instance lock and the clean replacement of a running one.

The lock is ``<home>/trade-hunter.lock``, held with ``flock`` (POSIX) or ``LockFileEx``
(Windows) for the life of the process. The OS drops it when the process dies, even on
``kill -9``, so a stale lock never blocks a start — no pidfile guessing.

When the lock is taken, the starting process talks to the holder over the control socket
(the wire format of ``trade_hunter.daemon.protocol``): it must answer ``status`` with our home
and the pid of the endpoint file — only then is it a verified Trade Hunter instance. Replace: ask that pid to
``shutdown`` and wait for the lock. ``--no-replace``: report it and stop. Nothing is ever
signalled or killed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import lock_descriptor, unlock_descriptor

from . import protocol
from .privacy import repair_files

LOCK_FILE = "trade-hunter.lock"
REPLACE_DEADLINE = 30.0   # the old instance drains for up to 5 s; this leaves ample margin
POLL = 0.1


class InstanceRunning(Exception):
    """Another verified instance runs on this home and we may not replace it."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        super().__init__(f"pid {info.get('pid')}, dashboard {info.get('dashboard') or '-'}")


class ReplaceFailed(Exception):
    """The lock did not come free before the deadline."""


class PortBusy(Exception):
    """The dashboard port is held by another program."""


class InstanceLock:
    """An exclusive lock on ``<home>/trade-hunter.lock`` (the file itself stays in place)."""

    def __init__(self, home: Path) -> None:
        self.path = home / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, 0o600)
        repair_files(self.path)  # one made by an older version may be world-readable
        try:
            if lock_descriptor(fd, blocking=False):
                self._fd = fd
                return True
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        return False

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                unlock_descriptor(fd)
            os.close(fd)


def same_home(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


# What a call to a daemon that is gone, or is not a daemon, raises (ValueError, KeyError,
# TypeError: a bad endpoint file; LineTooLong is a ValueError).
CALL_FAILED = (protocol.ProtocolError, protocol.CallError, OSError, ValueError, KeyError,
               TypeError)


def ask(home: Path, method: str, params: dict[str, Any] | None = None, *,
        timeout: float) -> Any:
    """One blocking JSON-RPC call to the daemon published on ``home``; raises one of
    ``CALL_FAILED`` (th-ctl's client is ``trade_hunter.ctl.client``; the daemon does not
    import it)."""
    endpoint = protocol.parse_endpoint(protocol.endpoint_path(home).read_text("utf-8"))
    token = None
    if endpoint["transport"] == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address: Any = str(endpoint["path"])
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address, token = (str(endpoint["host"]), int(endpoint["port"])), endpoint.get("token")
    with sock:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.sendall(protocol.encode_request(1, method, params, token))
        buffer = bytearray()
        while (line := protocol.take_line(buffer, protocol.MAX_RESPONSE)) is None:
            chunk = sock.recv(64 * 1024)
            if not chunk:
                raise protocol.ProtocolError("closed without answering")
            buffer += chunk
    return protocol.decode_response(line, 1)


def probe(home: Path, *, timeout: float = 2.0) -> dict[str, Any] | None:
    """The ``status`` of the verified Trade Hunter instance on ``home``, or ``None`` when
    nothing (or something else) answers there."""
    try:
        endpoint = protocol.parse_endpoint(protocol.endpoint_path(home).read_text("utf-8"))
        status = ask(home, "status", timeout=timeout)
    except CALL_FAILED:
        return None
    if not isinstance(status, dict) or not isinstance(status.get("pid"), int):
        return None
    if status["pid"] != endpoint.get("pid") or not same_home(str(status.get("home", "")), home):
        return None
    return status


def acquire(home: Path, *, replace: bool, deadline: float = REPLACE_DEADLINE,
            say: Callable[[str], None] = print) -> InstanceLock:
    """Take the lock of ``home``, replacing (or refusing to replace) a running instance.

    Raises ``InstanceRunning`` (``replace=False`` and a verified instance answers) or
    ``ReplaceFailed`` (the lock stayed taken until the deadline).
    """
    lock = InstanceLock(home)
    if lock.try_acquire():
        return lock
    started = time.monotonic()
    asked: dict[str, Any] | None = None
    while True:
        if lock.try_acquire():
            if asked is not None:
                say(f"previous instance (pid {asked['pid']}) stopped; starting")
            return lock
        if asked is None:
            info = probe(home)
            if info is not None:
                if not replace:
                    raise InstanceRunning(info)
                say(f"replacing the instance running on {home} (pid {info['pid']}, "
                    f"dashboard {info.get('dashboard') or '-'})")
                with contextlib.suppress(*CALL_FAILED):
                    # Scoped: the daemon refuses unless it is this very pid.
                    ask(home, "shutdown", {"pid": info["pid"]}, timeout=5)
                asked = info
        if time.monotonic() - started > deadline:
            if asked is not None:
                raise ReplaceFailed(f"the instance on {home} (pid {asked['pid']}) did not "
                                    f"stop within {deadline:g}s")
            raise ReplaceFailed(f"{lock.path} is locked by a process that does not answer on "
                                f"its control socket (still starting, or not Trade Hunter)")
        time.sleep(POLL)


def check_port(host: str, port: int) -> None:
    """Raise ``PortBusy`` if ``host:port`` cannot be bound (port 0 always can)."""
    if not port:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortBusy(f"cannot resolve APP_HOST={host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        if os.name == "posix":
            # As hypercorn does: a previous instance's TIME_WAIT connections must not count.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise PortBusy(port_message(host, port, exc)) from None


def port_message(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE or getattr(exc, "winerror", None) == 10048:
        return (f"port {port} on {host} is already in use by another program (not the Trade "
                f"Hunter instance of this home); stop that program or set APP_PORT")
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def find_bind_error(exc: BaseException) -> OSError | None:
    """The ``OSError`` of a failed bind inside ``exc`` (possibly an exception group)."""
    if isinstance(exc, OSError) and exc.errno in (errno.EADDRINUSE, errno.EACCES,
                                                  errno.EADDRNOTAVAIL):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = find_bind_error(inner)
            if found is not None:
                return found
    return None
