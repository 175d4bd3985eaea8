"""th-ctl's control-socket client: which home to talk to, and one JSON-RPC call to it.

Standard library only (``th-ctl`` must start fast without the daemon's dependencies). The
wire format and the endpoint file (``<home>/control/endpoint.json``) are defined in
``trade_hunter.daemon.protocol``; this module only finds the home and does the socket I/O.
A stale endpoint file (after ``kill -9``) means "not running": the connection is refused.
"""

from __future__ import annotations

import itertools
import ntpath
import os
import posixpath
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trade_hunter.daemon import protocol

# Re-exported: th-ctl's command line catches these from here.
from trade_hunter.daemon.protocol import CallError, ProtocolError, control_dir, endpoint_path

APP_NAME = "trade-hunter"
DEFAULT_TIMEOUT = 10.0

_ids = itertools.count(1)


class NotRunning(Exception):
    """No daemon answers on this home (never started, stopped, or killed)."""

    def __init__(self, home: Path, detail: str = "") -> None:
        self.home, self.detail = home, detail
        super().__init__(f"Trade Hunter is not running on {home}" + (f" ({detail})" if detail
                                                                       else ""))


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


def read_endpoint(home: Path) -> dict[str, Any]:
    """The endpoint a daemon on ``home`` published; ``NotRunning`` if there is none."""
    try:
        return protocol.parse_endpoint(endpoint_path(home).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotRunning(home) from None
    except (OSError, ValueError) as exc:
        raise NotRunning(home, f"unreadable {endpoint_path(home)}: {exc}") from None


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
        request_id = next(_ids)
        token = str(endpoint.get("token", "")) if endpoint["transport"] == "tcp" else None
        line = protocol.encode_request(request_id, method, params, token)
        wait = self.timeout if timeout is None else timeout
        with connect(endpoint, self.home, wait) as sock:
            try:
                sock.sendall(line)
                raw = _read_line(sock)
            except TimeoutError:
                raise ProtocolError(f"no answer from the daemon within {wait:g}s") from None
            except OSError as exc:
                raise ProtocolError(f"control connection failed: {exc}") from None
        return protocol.decode_response(raw, request_id)


def _read_line(sock: socket.socket) -> bytes:
    buffer = bytearray()
    while True:
        try:
            line = protocol.take_line(buffer, protocol.MAX_RESPONSE)
        except protocol.LineTooLong:
            raise ProtocolError("the answer is too large") from None
        if line is not None:
            return line
        chunk = sock.recv(256 * 1024)
        if not chunk:
            raise ProtocolError("the daemon closed the connection without answering")
        buffer += chunk


__all__ = ["CallError", "Client", "NotRunning", "ProtocolError", "connect", "control_dir",
           "default_home", "endpoint_path", "read_endpoint", "resolve_home"]
