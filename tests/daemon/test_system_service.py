"""``trade-hunter service``: the generated systemd unit and launchd agent, the Windows steps,
install/status/uninstall of the files, and a manual start refused while the service runs."""

from __future__ import annotations

import configparser
import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from trade_hunter.daemon.system_service import (
    LABEL,
    Paths,
    launchd_plist,
    service_conflict,
    systemd_unit,
    windows_instructions,
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd: Linux")


def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path, tmp_path / "config" / "trade-hunter",
                 tmp_path / "config" / "systemd" / "user")


def parse_unit(text: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(text)
    return unit


def test_the_systemd_unit(tmp_path):
    p = paths(tmp_path)
    unit = parse_unit(systemd_unit(["/opt/my venv/bin/trade-hunter"], p))
    service = unit["Service"]
    assert service["ExecStart"] == '"/opt/my venv/bin/trade-hunter" --no-replace'
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == f"-{p.env_file}"
    assert service["WorkingDirectory"] == str(p.config)
    assert service["RestartPreventExitStatus"] == "2 3"  # bad config, another instance
    assert unit["Install"]["WantedBy"] == "default.target"
    odd = parse_unit(systemd_unit(["/home/a$b/100%/trade-hunter"], p))["Service"]["ExecStart"]
    assert odd == "/home/a$$b/100%%/trade-hunter --no-replace"  # no expansion by systemd


@linux_only
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    p = paths(tmp_path)
    p.config.mkdir(parents=True)
    p.systemd.mkdir(parents=True)
    exe = Path(sys.executable).parent / "trade-hunter"
    assert exe.is_file()
    p.unit.write_text(systemd_unit([str(exe)], p))
    done = subprocess.run(["systemd-analyze", "verify", str(p.unit)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert str(p.unit) not in done.stderr and "trade-hunter.service" not in done.stderr, \
        done.stderr


def test_the_launchd_agent(tmp_path):
    p = paths(tmp_path)
    agent = plistlib.loads(launchd_plist(["/Users/a/.local/bin/trade-hunter"], p,
                                         {"APP_PORT": "8800", "QUIET_MODE": "true"}))
    assert agent["Label"] == LABEL
    assert agent["ProgramArguments"] == ["/Users/a/.local/bin/trade-hunter", "--no-replace"]
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["EnvironmentVariables"]["APP_PORT"] == "8800"
    assert agent["WorkingDirectory"] == str(p.config)
    assert agent["StandardErrorPath"].endswith("Library/Logs/trade-hunter/trade-hunter.log")


def test_windows_gets_task_scheduler_steps():
    text = windows_instructions([r"C:\Users\a\pipx\venvs\trade-hunter\Scripts\trade-hunter.exe"])
    assert 'schtasks /Create /TN "Trade Hunter" /SC ONLOGON' in text
    assert r"trade-hunter.exe\" --no-replace" in text and "trade-hunter.cmd" in text
    assert 'schtasks /Delete /TN "Trade Hunter" /F' in text


def cli(*args: str, tmp_path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    return subprocess.run([sys.executable, "-m", "trade_hunter.daemon.cli", *args], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@linux_only
def test_install_status_uninstall_files(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / ".env").write_text("APP_PORT=8801\nANTHROPIC_API_KEY=sk-ant-service-test\n")
    p = paths(tmp_path)
    assert cli("service", "status", tmp_path=tmp_path, cwd=work).returncode == 3

    done = cli("service", "install", "--files-only", tmp_path=tmp_path, cwd=work)
    assert done.returncode == 0, done.stderr
    assert str(p.unit) in done.stdout and "journalctl --user -u trade-hunter" in done.stdout
    unit = parse_unit(p.unit.read_text())
    exe = unit["Service"]["ExecStart"].split(" --no-replace")[0].strip('"')
    assert Path(exe).is_file()  # an absolute path to this installation's console script
    assert "APP_PORT=8801" in p.env_file.read_text()  # copied from the .env of the cwd
    assert stat.S_IMODE(p.env_file.stat().st_mode) == 0o600
    assert "sk-ant-service-test" not in done.stdout + done.stderr

    shown = cli("service", "status", tmp_path=tmp_path, cwd=work)
    assert shown.returncode == 0 and f"installed: {p.unit}" in shown.stdout

    (work / ".env").write_text("APP_PORT=1\n")  # the existing settings file is kept
    assert cli("service", "install", "--files-only", tmp_path=tmp_path, cwd=work).returncode == 0
    assert "APP_PORT=8801" in p.env_file.read_text()

    removed = cli("service", "uninstall", "--files-only", tmp_path=tmp_path, cwd=work)
    assert removed.returncode == 0 and not p.unit.exists() and p.env_file.exists()
    assert "kept your settings" in removed.stdout


def test_install_refuses_a_bad_configuration(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / ".env").write_text("APP_PORT=seventy\nQUIET_MODE=perhaps\n")
    done = cli("service", "install", "--files-only", tmp_path=tmp_path, cwd=work)
    assert done.returncode == 2
    assert "APP_PORT='seventy'" in done.stderr and "QUIET_MODE='perhaps'" in done.stderr
    assert not (tmp_path / "config").exists()


def systemctl_show(main_pid: int):
    """``systemctl --user show trade-hunter.service -p MainPID --value`` as systemd answers."""
    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        assert args[:3] == ["systemctl", "--user", "show"] and "MainPID" in args
        return subprocess.CompletedProcess(args, 0, f"{main_pid}\n", "")
    return run


@linux_only
@pytest.mark.skipif(shutil.which("systemctl") is None, reason="no systemctl")
def test_a_manual_start_is_refused_only_when_the_service_runs_this_home(tmp_path):
    home = tmp_path / "home"
    (home / "control").mkdir(parents=True)
    assert service_conflict(home, "linux", systemctl_show(4242)) is None  # nothing runs
    (home / "control" / "endpoint.json").write_text(json.dumps({"pid": 4242}))
    assert service_conflict(home, "linux", systemctl_show(4242)) == 4242
    assert service_conflict(home, "linux", systemctl_show(0)) is None  # service not running
    assert service_conflict(home, "linux", systemctl_show(77)) is None  # a manual instance
