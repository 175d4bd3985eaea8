"""Process lifecycle around the daemon: the instance lock (and replacement), the port check,
the trio run, and the exit code.

Exit codes of ``trade-hunter``: 0 stopped cleanly; 1 failed (a logged bug, or the control
socket could not be set up); 2 configuration error (an unusable home folder or database
too: damaged, read-only, from a newer version — one line each); 3 another instance runs on this home and
was not replaced (``--no-replace``, or it did not stop in time); 4 the dashboard port is held
by another program.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import trio

from . import instance, privacy
from .app import Daemon
from .control import ControlSetupError
from .store_errors import StoreUnavailable

log = logging.getLogger(__name__)
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_RUNNING, EXIT_PORT = 0, 1, 2, 3, 4


def _say(message: str) -> None:
    print(f"trade-hunter: {message}", file=sys.stderr, flush=True)


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    if isinstance(exc, kind):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _find(inner, kind)
        if found is not None:
            return found
    return None


def run_daemon(settings: Any, host: Any, registries: Any, *, replace: bool = True) -> int:
    home = settings.home
    try:
        privacy.private_dir(home)
        lock = instance.acquire(home, replace=replace, say=_say)
    except OSError as exc:  # like a bad setting: one line, exit 2
        _say(f"cannot use the home folder {home} (TRADE_HUNTER_HOME): "
             f"{exc.strerror or exc}; make it a folder this user can read and write")
        return EXIT_CONFIG
    except instance.InstanceRunning as exc:
        _say(f"an instance is already running on {home} ({exc}); not replacing it "
             f"(--no-replace). Stop it with `th-ctl stop`.")
        return EXIT_RUNNING
    except instance.ReplaceFailed as exc:
        _say(f"{exc}; not starting")
        return EXIT_RUNNING
    try:
        instance.check_port(settings.APP_HOST, settings.APP_PORT)
        trio.run(Daemon(settings, host, registries).run)
    except instance.PortBusy as exc:
        _say(str(exc))
        return EXIT_PORT
    except StoreUnavailable as exc:
        _say(str(exc))
        return EXIT_CONFIG
    except KeyboardInterrupt:
        pass
    except BaseException as exc:
        # The pre-check can lose a race: hypercorn's own bind then fails inside the nursery
        # (so it arrives wrapped in exception groups, like a control socket failure).
        control = _find(exc, ControlSetupError)
        if control is not None:
            _say(f"cannot set up the control socket: {control}")
            return EXIT_FAILED
        bind = instance.find_bind_error(exc)
        if bind is not None:
            _say(instance.port_message(settings.APP_HOST, settings.APP_PORT, bind))
            return EXIT_PORT
        raise
    finally:
        lock.release()
    return EXIT_OK
