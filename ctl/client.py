"""The control-socket client: where a daemon listens, and one JSON-RPC call to it.

Standard library only. ``th-ctl`` uses it, and so does a starting daemon that asks the
instance already running on its home to step down (``trade_hunter.daemon.instance``).

A running daemon describes its control endpoint in ``<home>/control/endpoint.json`` (mode
0600, inside the 0700 ``control`` folder)::

    {"transport": "unix", "path": "<socket>", "pid": 123, "home": "..."}
    {"transport": "tcp", "host": "127.0.0.1", "port": 50123, "token": "...", "pid": 123, ...}

The file can outlive a daemon killed with ``kill -9``: a refused connection then means "not
running", and the next daemon on that home replaces the file.
"""

from __future__ import annotations

import itertools
import json
import ntpath
import os
import posixpath
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trade_hunter.daemon import protocol

APP_NAME = "trade-hunter"
CONTROL_DIR = "control"
ENDPOINT_FILE = "endpoint.json"
SOCKET_NAME = "control.sock"
MAX_RESPONSE = 64 * 1024 * 1024  # a reply this large is a bug, not data
DEFAULT_TIMEOUT = 10.0

_ids = itertools.count(1)


class NotRunning(Exception):
    """No daemon answers on this home (never started, stopped, or killed)."""

    def __init__(self, home: Path, detail: str = "") -> None:
        self.home, self.detail = home, detail
        super().__init__(f"Trade Hunter is not running on {home}" + (f" ({detail})" if detail
                                                                       else ""))


class CallError(Exception):
    """The daemon answered with a JSON-RPC error; ``name`` is a key of ``protocol.ERRORS``."""

    def __init__(self, code: int, name: str, message: str, data: Any = None) -> None:
        self.code, self.name, self.message, self.data = code, name, message, data
        super().__init__(message)


class ProtocolError(Exception):
    """The peer did not answer like a Trade Hunter daemon (closed early, not JSON, timeout)."""


# ---------------------------------------------------------------------- where things live
def default_home(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """``platformdirs.user_data_dir("trade-hunter", False)`` with the standard library only.

    The daemon uses platformdirs; ``th-ctl`` must find the same folder without importing it
    (tests compare the two). Linux/BSD and macOS honour an absolute ``$XDG_DATA_HOME``;
    Windows uses the local (not roaming) application data folder.
    """
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        override = env.get("WIN_PD_OVERRIDE_LOCAL_APPDATA", "").strip()
        base = override if _win_absolute(override) else env.get("LOCALAPPDATA", "")
        if not base:
            base = ntpath.join(env.get("USERPROFILE", "~"), "AppData", "Local")
        return Path(ntpath.join(ntpath.normpath(base), APP_NAME))
    xdg = env.get("XDG_DATA_HOME", "")
    if posixpath.isabs(xdg):
        return Path(posixpath.join(xdg, APP_NAME))
    user_home = env.get("HOME", "")
    if not posixpath.isabs(user_home):
        user_home = _passwd_home()
    sub = "Library/Application Support" if platform == "darwin" else ".local/share"
    return Path(posixpath.join(user_home.rstrip("/") or "/", sub, APP_NAME))


def _win_absolute(path: str) -> bool:
    drive, tail = ntpath.splitdrive(ntpath.normpath(path)) if path else ("", "")
    return bool(drive) and (drive.startswith("\\\\") or tail.startswith("\\"))


def _passwd_home() -> str:
    try:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError):  # pragma: no cover - exotic systems
        return os.path.expanduser("~")


def resolve_home(home: str | os.PathLike[str] | None = None,
                 environ: Mapping[str, str] | None = None) -> Path:
    """The home to talk to: explicit, else ``$TRADE_HUNTER_HOME``, else the default."""
    env = os.environ if environ is None else environ
    chosen = str(home) if home else env.get("TRADE_HUNTER_HOME", "").strip()
    return Path(chosen).expanduser() if chosen else default_home(env)


def control_dir(home: Path) -> Path:
    return home / CONTROL_DIR


def endpoint_path(home: Path) -> Path:
    return control_dir(home) / ENDPOINT_FILE


def read_endpoint(home: Path) -> dict[str, Any]:
    """The endpoint a daemon on ``home`` published; ``NotRunning`` if there is none."""
    try:
        data = json.loads(endpoint_path(home).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotRunning(home) from None
    except (OSError, ValueError) as exc:
        raise NotRunning(home, f"unreadable {endpoint_path(home)}: {exc}") from None
    if not isinstance(data, dict) or data.get("transport") not in ("unix", "tcp"):
        raise NotRunning(home, f"unrecognised {endpoint_path(home)}")
    return data


# ---------------------------------------------------------------------- one call
def connect(endpoint: Mapping[str, Any], home: Path, timeout: float) -> socket.socket:
    """Open the control connection; ``NotRunning`` when nothing listens there any more."""
    try:
        if endpoint["transport"] == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(str(endpoint["path"]))
            except BaseException:
                sock.close()
                raise
            return sock
        return socket.create_connection((str(endpoint["host"]), int(endpoint["port"])),
                                        timeout=timeout)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        pid = endpoint.get("pid")
        raise NotRunning(home, f"stale control endpoint of pid {pid}: {exc.strerror}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise NotRunning(home, f"bad control endpoint: {exc}") from None


class Client:
    """A synchronous JSON-RPC client for the daemon on one home (a connection per call)."""

    def __init__(self, home: str | os.PathLike[str] | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.home = resolve_home(home)
        self.timeout = timeout
        self.endpoint: dict[str, Any] | None = None

    def call(self, method: str, params: Mapping[str, Any] | None = None, *,
             timeout: float | None = None) -> Any:
        """Call ``method``; returns its result or raises ``CallError``/``NotRunning``/
        ``ProtocolError``."""
        self.endpoint = endpoint = read_endpoint(self.home)
        request: dict[str, Any] = {"jsonrpc": "2.0", "id": next(_ids), "method": method,
                                   "params": dict(params or {})}
        if endpoint["transport"] == "tcp":
            request["auth"] = endpoint.get("token", "")
        line = json.dumps(request, separators=(",", ":")).encode() + b"\n"
        if len(line) > protocol.MAX_LINE:
            raise CallError(protocol.ERRORS["line_too_long"], "line_too_long",
                            f"the request is longer than {protocol.MAX_LINE} bytes")
        wait = self.timeout if timeout is None else timeout
        with connect(endpoint, self.home, wait) as sock:
            try:
                sock.sendall(line)
                raw = _read_line(sock)
            except TimeoutError:
                raise ProtocolError(f"no answer from the daemon within {wait:g}s") from None
            except OSError as exc:
                raise ProtocolError(f"control connection failed: {exc}") from None
        return _unpack(raw, request["id"])


def _read_line(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = sock.recv(256 * 1024)
        if not chunk:
            raise ProtocolError("the daemon closed the connection without answering")
        end = chunk.find(b"\n")
        if end >= 0:
            chunks.append(chunk[:end])
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE:
            raise ProtocolError("the answer is too large")


def _unpack(raw: bytes, request_id: int) -> Any:
    try:
        reply = json.loads(raw)
    except ValueError:
        raise ProtocolError("the answer is not JSON") from None
    if not isinstance(reply, dict) or reply.get("jsonrpc") != "2.0":
        raise ProtocolError("the answer is not a JSON-RPC 2.0 response")
    error = reply.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise ProtocolError("malformed error object")
        data = error.get("data")
        name = data.get("name") if isinstance(data, dict) else None
        code = error.get("code", protocol.ERRORS["internal_error"])
        return _raise(code, name or _name_of(code), str(error.get("message", "")), data)
    if reply.get("id") != request_id:
        raise ProtocolError("the answer does not match the request id")
    return reply.get("result")


def _raise(code: Any, name: str, message: str, data: Any) -> Any:
    raise CallError(code if isinstance(code, int) else protocol.ERRORS["internal_error"],
                    name, message, data)


def _name_of(code: Any) -> str:
    for name, value in protocol.ERRORS.items():
        if value == code:
            return name
    return "error"
