"""Private by default: the home folder is 0700, the database, its WAL and the lock 0600, set at
creation and repaired (with a warning) when found wider. POSIX only: on Windows the per-user
data folder's ACLs do this."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)
POSIX = os.name == "posix"
DIR_MODE, FILE_MODE = 0o700, 0o600


def private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) with the folder itself 0700; repair a wider one."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        if POSIX:
            os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask only downwards
        return
    _repair(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; repair a wider mode."""
    if POSIX and not path.exists():
        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        os.close(os.open(path, flags, FILE_MODE))
        return
    _repair(path, FILE_MODE)


def repair_files(*paths: Path) -> None:
    """Repair the mode of those of ``paths`` that exist (a database's -wal and -shm files)."""
    for path in paths:
        if path.exists():
            _repair(path, FILE_MODE)


def _repair(path: Path, mode: int) -> None:
    if not POSIX:
        return
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        log.warning("%s was readable by other users (mode %o); set to %o", path, current, mode)
        os.chmod(path, current & ~0o077)
