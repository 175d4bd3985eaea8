"""What the store does with SQLite's errors: which ones are the environment's (retry until they
clear, the store is ``degraded`` meanwhile), the one-line messages of start-up failures, and
the rows of a batch that could not be written (``RowFailures``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Primary result codes (https://sqlite.org/rescode.html) that say nothing about the rows being
# written: the disk, the file or another process is in the way, and retrying later can work.
_ENVIRONMENT = {
    5: "the database is locked by another process",        # SQLITE_BUSY
    6: "the database is locked",                           # SQLITE_LOCKED
    7: "SQLite ran out of memory",                         # SQLITE_NOMEM
    8: "the database is read-only",                        # SQLITE_READONLY
    10: "disk I/O error",                                  # SQLITE_IOERR
    13: "the disk is full",                                # SQLITE_FULL
    14: "the database file cannot be opened",              # SQLITE_CANTOPEN
    15: "the database lock protocol failed",               # SQLITE_PROTOCOL
}
_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


class StoreUnavailable(Exception):
    """The database cannot be used at start-up; the message is one line for the user."""


def primary_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def environmental(exc: BaseException) -> bool:
    """True for errors of the disk or file (retry the same writes later), False for errors of
    the rows themselves (isolate them)."""
    if not isinstance(exc, sqlite3.Error):
        return False
    code = primary_code(exc)
    if code is None:  # no code: "database is locked" style OperationalErrors
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
    return code in _ENVIRONMENT or code in _DAMAGED


def cause(exc: BaseException) -> str:
    """A short, user-facing cause: "the disk is full (SQLITE_FULL)"."""
    code = primary_code(exc)
    name = getattr(exc, "sqlite_errorname", "") or type(exc).__name__
    what = _ENVIRONMENT.get(code or -1) or ("the database file is damaged"
                                            if code in _DAMAGED else str(exc))
    return f"{what} ({name})"


def open_failure(path: Path, exc: BaseException) -> StoreUnavailable:
    """The one-line start-up error for ``exc`` raised while opening ``path``."""
    code = primary_code(exc)
    if code in _DAMAGED:
        return StoreUnavailable(f"{path} is not a Trade Hunter database or is damaged; move it "
                                "aside or restore a backup")
    if isinstance(exc, PermissionError) or code in (8, 14):
        return StoreUnavailable(
            f"cannot write the database {path}: "
            f"{cause(exc) if code else getattr(exc, 'strerror', None) or exc}; make "
            f"the file and its folder {path.parent} writable by this user, or set "
            "TRADE_HUNTER_HOME to another folder")
    if isinstance(exc, OSError):
        return StoreUnavailable(f"cannot use the home folder {path.parent}: {exc.strerror or exc}")
    return StoreUnavailable(f"cannot open the database {path}: {cause(exc)}")


class RowFailures:
    """The rows of a batch that could not be written (their event ids; other rows by name)."""

    def __init__(self) -> None:
        self.ids: list[int | str] = []
        self.error = ""

    def __bool__(self) -> bool:
        return bool(self.ids)
