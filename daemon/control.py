"""The JSON-RPC control server: newline-delimited JSON-RPC 2.0 over the control socket.

Transports (``CONTROL_TRANSPORT``): ``unix`` — a socket of mode 0600 in the 0700
``<home>/control`` folder, bound under umask 077 (POSIX default); ``tcp`` — 127.0.0.1 on a
free port, every request carrying ``"auth": <token>`` from the user-only endpoint file (the
Windows default, and testable anywhere). Either way ``<home>/control/endpoint.json`` tells
clients where to connect. The wire format, its encoding and the endpoint conventions are
``trade_hunter.daemon.protocol``'s; this module only binds, reads and writes.

One task per connection; a line must arrive within ``READ_TIMEOUT``; a line over
``protocol.MAX_LINE`` is answered ``line_too_long`` and the connection closed. Every error is a
JSON-RPC error with a named code; a handler bug is logged with its traceback and answered
``internal_error`` — nothing a client sends can stop or stall the daemon.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import stat
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from trade_hunter.plugins.errors import RpcError
from trade_hunter.plugins.models import to_builtins

from . import protocol
from .protocol import SOCKET_NAME, control_dir, encode_error, endpoint_path

if TYPE_CHECKING:
    from .supervisor import ComponentHealth

# The method table's handler (``Service.call``): name and params in, a JSON-able result out.
Call = Callable[[str, dict[str, Any]], Awaitable[Any]]

log = logging.getLogger(__name__)

READ_TIMEOUT = 30.0     # a client has this long to send each request line
WRITE_TIMEOUT = 10.0    # ... and to read our answer
RECEIVE_CHUNK = 64 * 1024
SUN_PATH_MAX = 100      # sockaddr_un.sun_path is 104 (BSD/macOS) or 108 (Linux) bytes


class ControlSetupError(RuntimeError):
    """The control socket could not be set up (permissions, foreign files)."""


def transport_for(setting: str) -> str:
    """``auto`` → ``unix`` where Unix sockets exist, else ``tcp`` (Windows)."""
    if setting in ("unix", "tcp"):
        return setting
    return "unix" if hasattr(socket, "AF_UNIX") and os.name == "posix" else "tcp"


# ---------------------------------------------------------------------- files and sockets
def private_dir(path: Path) -> Path:
    """Create (or re-tighten) a 0700 folder owned by us; refuse a symlink or a foreign owner."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise ControlSetupError(f"{path} is not a folder")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise ControlSetupError(f"{path} belongs to another user")
    if os.name == "posix":
        os.chmod(path, 0o700)
    return path


def socket_path(home: Path) -> Path:
    """``<home>/control/control.sock``, or a short per-user runtime path when that is too
    long for ``sun_path`` (deep temporary folders)."""
    path = control_dir(home) / SOCKET_NAME
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        return path
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    base = Path(runtime) if runtime and os.path.isdir(runtime) else Path(tempfile.gettempdir())
    digest = hashlib.sha256(os.fsencode(home.resolve())).hexdigest()[:20]
    return base / f"trade-hunter-{os.geteuid()}" / f"{digest}.sock"


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON readable by its owner only, atomically (never half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def bind_unix(path: Path) -> socket.socket:
    """Listen on ``path`` (0600). We hold the instance lock: a file there is stale."""
    private_dir(path.parent)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _umask(0o177):  # no window in which the socket is group/world accessible
            sock.bind(os.fspath(path))
        os.chmod(path, 0o600)
        sock.listen(64)
    except BaseException:
        sock.close()
        raise
    return sock


def bind_tcp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
    except BaseException:
        sock.close()
        raise
    return sock


# ---------------------------------------------------------------------- the server
class ControlServer:
    """Parses JSON-RPC lines and hands each request to ``call`` (the daemon's method table);
    ``stopping()`` is the reason the daemon is stopping, or ``""``."""

    def __init__(self, call: Call, stopping: Callable[[], str], *,
                 token: str | None = None) -> None:
        self.call_method, self.stopping = call, stopping
        self.token = token  # None: no auth (the Unix socket's permissions guard it)
        self.connections = 0

    # -------------------------------------------------------------- connections
    async def handle(self, stream: trio.abc.Stream) -> None:
        self.connections += 1
        try:
            await self._serve(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away mid-answer
        except Exception:  # never let one connection take the server down
            log.exception("control connection failed")
        finally:
            self.connections -= 1
            with trio.move_on_after(1) as cleanup:
                cleanup.shield = True
                await stream.aclose()

    async def _serve(self, stream: trio.abc.Stream) -> None:
        buffer = bytearray()
        while True:
            line = None
            with trio.move_on_after(READ_TIMEOUT):
                line = await self._read_line(stream, buffer)
            if line is None:  # EOF, timeout, or a line over the cap (answered)
                return
            reply, close = await self.dispatch_line(line)
            if reply is not None:
                with trio.move_on_after(WRITE_TIMEOUT) as scope:
                    await stream.send_all(reply)
                if scope.cancelled_caught:
                    return
            if close:
                return

    async def _read_line(self, stream: trio.abc.Stream, buffer: bytearray) -> bytes | None:
        while True:
            try:
                line = protocol.take_line(buffer, protocol.MAX_LINE)
            except protocol.LineTooLong:
                # Answer once, then close: the rest of the stream cannot be trusted to
                # line up with request boundaries.
                with trio.move_on_after(WRITE_TIMEOUT):
                    await stream.send_all(encode_error(None, "line_too_long",
                                                       f"request line longer than "
                                                       f"{protocol.MAX_LINE} bytes"))
                return None
            if line is not None:
                return line
            chunk = await stream.receive_some(RECEIVE_CHUNK)
            if not chunk:
                return None
            buffer += chunk

    # -------------------------------------------------------------- requests
    async def dispatch_line(self, line: bytes) -> tuple[bytes | None, bool]:
        """One request line → (the encoded answer or ``None`` for notifications, close?)."""
        if not line.strip():
            return None, False
        try:
            messages, batch = protocol.decode_line(line)
        except protocol.RequestError as refused:
            return refused.answer, refused.close
        answers: list[bytes] = []
        close = False
        for message in messages:
            try:
                request = protocol.decode_request(message, self.token)
            except protocol.RequestError as refused:
                reply, close = refused.answer, close or refused.close
            else:
                reply = await self.call(request.id, request.method, request.params)
                if request.notification:
                    reply = None
            if reply is not None:
                answers.append(reply)
        if batch:
            return protocol.encode_batch(answers), close
        return (answers[0] if answers else None), close

    async def call(self, request_id: Any, name: str, params: dict[str, Any]) -> bytes:
        method = protocol.BY_NAME.get(name)
        reason = self.stopping()
        if reason and method is not None and method.mutating and name != "shutdown":
            return encode_error(request_id, "shutting_down",
                                f"the daemon is stopping ({reason})")
        try:
            result = await self.call_method(name, params)
        except RpcError as exc:
            code = exc.code if exc.code in protocol.ERRORS else "internal_error"
            return encode_error(request_id, code, str(exc), exc.data)
        except Exception:
            log.exception("control method %s failed", name)
            return encode_error(request_id, "internal_error",
                                f"{name} failed inside the daemon (its log has the details)")
        try:
            return protocol.encode_result(request_id, result, default=_json_default)
        except (TypeError, ValueError):
            log.exception("control answer is not JSON-serialisable")
            return encode_error(request_id, "internal_error",
                                "the answer could not be encoded")


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return to_builtins(value)


# ---------------------------------------------------------------------- serve
async def serve_control(home: Path, transport_setting: str, about: dict[str, Any],
                        server: ControlServer, health: ComponentHealth, *,
                        task_status: trio.TaskStatus[dict[str, Any]] = trio.TASK_STATUS_IGNORED
                        ) -> None:
    """Listen until cancelled; ``task_status.started(endpoint)`` once clients can connect.
    ``about`` (pid, version, dashboard) goes into the endpoint file, whose ``pid`` must be
    ours. The endpoint file and the socket are removed when the server stops."""
    transport = transport_for(transport_setting)
    endpoint: dict[str, Any] = {"transport": transport, **about, "home": str(home)}
    pid = int(about["pid"])
    token = None
    try:
        private_dir(control_dir(home))
        if transport == "unix":
            path = socket_path(home)
            raw = bind_unix(path)
            endpoint["path"] = str(path)
        else:
            token = protocol.new_token()
            raw = bind_tcp()
            endpoint.update(host="127.0.0.1", port=raw.getsockname()[1], token=token)
    except OSError as exc:
        raise ControlSetupError(f"{type(exc).__name__}: {exc}") from exc
    listener = trio.SocketListener(trio.socket.from_stdlib_socket(raw))
    server.token = token
    try:
        write_private(endpoint_path(home), endpoint)
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, server.handle, [listener])
            where = endpoint.get("path") or f"{endpoint['host']}:{endpoint['port']}"
            health.set("running", f"{transport} {where}")
            task_status.started({k: v for k, v in endpoint.items() if k != "token"})
    finally:
        health.set("stopped")
        with contextlib.suppress(OSError):
            raw.close()
        _remove_own(endpoint_path(home), pid)
        if transport == "unix":
            with contextlib.suppress(FileNotFoundError):
                Path(endpoint["path"]).unlink()


def _remove_own(path: Path, pid: int) -> None:
    """Remove the endpoint file only if it is still ours."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()


__all__ = ["ControlServer", "ControlSetupError", "serve_control", "socket_path",
           "transport_for"]
