"""``trade-hunter service install|uninstall|status``: run the daemon under the user's service
manager — a systemd user unit on Linux, a launchd agent on macOS — and print the Task
Scheduler equivalent on Windows.

Configuration comes from one environment file (``trade-hunter.env`` in the per-user config
folder), created from the ``.env`` of the directory ``install`` runs in when there is none
yet. systemd reads it itself (``EnvironmentFile``); launchd has no such thing, so the agent
carries the values (the plist is written 0600, and ``install`` again after editing the file).

The service runs ``trade-hunter --no-replace``: it never stops an instance a person started.
A manual start while the service's instance runs refuses (``service_conflict``) unless
``--replace`` is given.
"""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from dotenv import dotenv_values

NAME = "trade-hunter"
UNIT = f"{NAME}.service"
LABEL = "io.github.trade-hunter"
ENV_FILE = f"{NAME}.env"
ENV_HEADER = ("# Trade Hunter settings for the service (KEY=value lines; see the README's "
              "Configuration).\n# After a change: systemctl --user restart trade-hunter "
              "(Linux) or `trade-hunter service install` again (macOS).\n")


@dataclass(frozen=True)
class Paths:
    """Where everything goes, for one user."""

    home: Path            # the user's home directory
    config: Path          # trade-hunter.env lives here; the service's working directory
    systemd: Path         # the systemd user unit folder

    @classmethod
    def for_user(cls, environ: dict[str, str] | None = None) -> Paths:
        env = dict(os.environ if environ is None else environ)
        home = Path(env.get("HOME") or Path.home())
        xdg = env.get("XDG_CONFIG_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".config"
        config = base / NAME if sys.platform.startswith("linux") else \
            Path(platformdirs.user_config_dir(NAME, False))
        return cls(home, config, base / "systemd" / "user")

    @property
    def env_file(self) -> Path:
        return self.config / ENV_FILE

    @property
    def unit(self) -> Path:
        return self.systemd / UNIT

    @property
    def plist(self) -> Path:
        return self.home / "Library" / "LaunchAgents" / f"{LABEL}.plist"

    @property
    def mac_log(self) -> Path:
        return self.home / "Library" / "Logs" / NAME / f"{NAME}.log"


def executable() -> list[str]:
    """The command that starts the daemon: the console script beside this interpreter (a
    venv, pipx), else the one on the PATH, else ``python -m``."""
    here = Path(sys.executable).parent
    for candidate in (here / NAME, here / f"{NAME}.exe"):
        if candidate.is_file():
            return [str(candidate)]
    found = shutil.which(NAME)
    if found:
        return [str(Path(found).resolve())]
    return [sys.executable, "-m", "trade_hunter.daemon.cli"]


def _arg(arg: str) -> str:
    """One ExecStart argument: specifiers (%) and variables ($) escaped, double-quoted when
    it has blanks, quotes or backslashes."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not any(c in arg for c in ' \t"\\\';'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _path(path: Path) -> str:
    """A path setting (not a command line): only specifiers need escaping."""
    return str(path).replace("%", "%%")


def systemd_unit(command: Sequence[str], paths: Paths) -> str:
    exec_start = " ".join(_arg(a) for a in [*command, "--no-replace"])
    return f"""[Unit]
Description=Trade Hunter: prediction-market activity monitor (informational only)
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
ExecStart={exec_start}
WorkingDirectory={_path(paths.config)}
# Settings (and secrets) come from this file only; "-": start with defaults when it is gone.
EnvironmentFile=-{_path(paths.env_file)}
Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=5
# 2: bad configuration, 3: another instance runs on this home -- retrying will not help.
RestartPreventExitStatus=2 3
# The daemon drains for 5 s on SIGTERM; leave it room.
TimeoutStopSec=30

[Install]
WantedBy=default.target
"""


def launchd_plist(command: Sequence[str], paths: Paths, env: dict[str, str]) -> bytes:
    agent = {
        "Label": LABEL,
        "ProgramArguments": [*command, "--no-replace"],
        "WorkingDirectory": str(paths.config),
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1", **env},
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart when it fails, as on Linux
        "ThrottleInterval": 5,
        "ProcessType": "Background",
        "StandardOutPath": str(paths.mac_log),
        "StandardErrorPath": str(paths.mac_log),
    }
    return plistlib.dumps(agent, sort_keys=False)


def windows_instructions(command: Sequence[str]) -> str:
    program = command[0] if len(command) == 1 else " ".join(command)
    return f"""Windows has no service manager this command drives; create a Task Scheduler task
that starts Trade Hunter at logon (run in a Command Prompt):

  schtasks /Create /TN "Trade Hunter" /SC ONLOGON /RL LIMITED /F /TR "\\"{program}\\" --no-replace"

From a checkout, use the full path of trade-hunter.cmd as the program instead. The daemon
reads .env from its "Start in" folder: set it in Task Scheduler (the task > Properties >
Actions > Edit > Start in) to the folder of your .env, or set the variables for your user.
Check it:   schtasks /Query /TN "Trade Hunter" /V /FO LIST
Start now:  schtasks /Run /TN "Trade Hunter"
Remove it:  schtasks /Delete /TN "Trade Hunter" /F
"""


# ---------------------------------------------------------------------- actions
Run = Callable[[list[str]], subprocess.CompletedProcess[str]]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(args, 127, "", str(exc))


def _private_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)


def ensure_env_file(paths: Paths, cwd: Path, say: Callable[[str], None]) -> None:
    if paths.env_file.exists():
        say(f"settings: {paths.env_file} (kept as it is)")
        return
    source = cwd / ".env"
    body = source.read_bytes() if source.is_file() else b""
    _private_write(paths.env_file, ENV_HEADER.encode() + body)
    say(f"settings: {paths.env_file} (created{' from ' + str(source) if body else ''}, "
        "mode 0600)")


def install(platform: str, paths: Paths, cwd: Path, *, start: bool, say: Callable[[str], None],
            run: Run = _run) -> int:
    command = executable()
    if platform.startswith("win"):
        say(windows_instructions(command))
        return 0
    ensure_env_file(paths, cwd, say)
    if platform == "darwin":
        env = {k: v or "" for k, v in dotenv_values(paths.env_file).items()}
        _private_write(paths.plist, launchd_plist(command, paths, env))
        paths.mac_log.parent.mkdir(parents=True, exist_ok=True)
        say(f"agent: {paths.plist}\nlogs: {paths.mac_log}")
        steps = [["launchctl", "bootout", f"gui/{os.getuid()}/{LABEL}"],
                 ["launchctl", "bootstrap", f"gui/{os.getuid()}", str(paths.plist)]]
    else:
        paths.unit.parent.mkdir(parents=True, exist_ok=True)
        paths.unit.write_text(systemd_unit(command, paths), encoding="utf-8")
        say(f"unit: {paths.unit}\nlogs: journalctl --user -u {NAME} -f")
        steps = [["systemctl", "--user", "daemon-reload"],
                 ["systemctl", "--user", "enable", "--now", UNIT]]
    if not start:
        say("not started (--files-only)")
        return 0
    for i, step in enumerate(steps):
        done = run(step)
        if done.returncode != 0 and not (platform == "darwin" and i == 0):  # bootout: not loaded
            say(f"`{' '.join(step)}` failed: {(done.stderr or done.stdout).strip()}\n"
                "The files are in place; run that command once a user session bus is there.")
            return 1
    say("started; it starts again at each login" + (
        " (to keep it running while logged out: loginctl enable-linger)"
        if platform != "darwin" else ""))
    return 0


def uninstall(platform: str, paths: Paths, *, stop: bool, say: Callable[[str], None],
              run: Run = _run) -> int:
    if platform.startswith("win"):
        say('Remove the task with: schtasks /Delete /TN "Trade Hunter" /F')
        return 0
    target = paths.plist if platform == "darwin" else paths.unit
    if stop:
        if platform == "darwin":
            run(["launchctl", "bootout", f"gui/{os.getuid()}/{LABEL}"])
        else:
            run(["systemctl", "--user", "disable", "--now", UNIT])
    if target.exists():
        target.unlink()
        say(f"removed {target}")
    else:
        say(f"{target} was not installed")
    if stop and platform != "darwin":
        run(["systemctl", "--user", "daemon-reload"])
    if paths.env_file.exists():
        say(f"kept your settings: {paths.env_file}")
    return 0


def status(platform: str, paths: Paths, *, say: Callable[[str], None], run: Run = _run) -> int:
    """0 when installed (and, where the manager answers, active), 3 when not installed."""
    if platform.startswith("win"):
        say('Windows: schtasks /Query /TN "Trade Hunter" /V')
        return 0
    target = paths.plist if platform == "darwin" else paths.unit
    if not target.exists():
        say(f"not installed ({target} does not exist); `trade-hunter service install`")
        return 3
    say(f"installed: {target}\nsettings: {paths.env_file}")
    if platform == "darwin":
        done = run(["launchctl", "print", f"gui/{os.getuid()}/{LABEL}"])
        state = next((line.split("=", 1)[1].strip() for line in done.stdout.splitlines()
                      if line.strip().startswith("state =")), "unknown")
        say(f"state: {state}\nlogs: {paths.mac_log}")
        return 0
    done = run(["systemctl", "--user", "show", UNIT,
                "-p", "UnitFileState,ActiveState,SubState,MainPID"])
    if done.returncode != 0:
        say(f"systemd: not reachable ({(done.stderr or done.stdout).strip()})")
        return 0
    say(done.stdout.strip())
    say(f"logs: journalctl --user -u {NAME}")
    return 0


# ---------------------------------------------------------------------- manual starts
def service_pid(platform: str, run: Run = _run) -> int | None:
    """The main pid of the service's daemon, when the service manager runs one."""
    if platform == "darwin":
        done = run(["launchctl", "print", f"gui/{os.getuid()}/{LABEL}"])
        for line in done.stdout.splitlines():
            if line.strip().startswith("pid ="):
                return int(line.split("=", 1)[1])
        return None
    if not shutil.which("systemctl"):
        return None
    done = run(["systemctl", "--user", "show", UNIT, "-p", "MainPID", "--value"])
    text = done.stdout.strip()
    return int(text) if done.returncode == 0 and text.isdigit() and int(text) else None


def service_conflict(home: Path, platform: str = sys.platform, run: Run = _run) -> int | None:
    """The pid of the instance running on ``home`` *as the service*, else None. Asked only
    when an endpoint file says something may run there (so a normal start costs nothing)."""
    try:
        endpoint = json.loads((home / "control" / "endpoint.json").read_text())
        pid = int(endpoint["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if platform.startswith("win") or pid == os.getpid():
        return None
    return pid if service_pid(platform, run) == pid else None
