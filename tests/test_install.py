"""The package as a user gets it: a wheel built without warnings, installed into a fresh
virtual environment outside the checkout, whose ``trade-hunter`` and ``th-ctl`` work from
an unrelated directory (dashboard files from the wheel, nothing written into that directory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import urllib.request
import venv
from pathlib import Path

import pytest

from .conftest import REPO

# What setuptools prints for a deprecated or ambiguous configuration (license table, data
# folders that look like undeclared packages).
BUILD_WARNINGS = ("deprecat", "SetuptoolsWarning", "WARNING", "!!")


def build_wheel(out: Path) -> tuple[Path, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                           "--outdir", str(out), str(REPO)], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    [wheel] = out.glob("trade_hunter-*.whl")
    return wheel, done.stdout + done.stderr


def test_the_build_prints_no_setuptools_warnings(tmp_path):
    _wheel, output = build_wheel(tmp_path)
    found = [line for line in output.splitlines()
             if any(w.lower() in line.lower() if w == "deprecat" else w in line
                    for w in BUILD_WARNINGS)]
    assert not found, "\n".join(found)


@pytest.mark.slow
def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    wheel, _ = build_wheel(tmp_path / "dist")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    # Offline: the dependencies come from this test's own environment (a .pth naming its
    # site-packages; the editable install's hook there is not run, so trade_hunter is the
    # wheel's), the wheel itself with --no-index.
    purelib = subprocess.run([str(bin_dir / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
           "--no-index", "--no-deps"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, timeout=900)

    work = tmp_path / "somewhere"  # an unrelated directory, with a docs folder of its own
    (work / "docs").mkdir(parents=True)
    home = tmp_path / "state"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith(("TH_", "APP_"))}
    env.update(TRADE_HUNTER_HOME=str(home), APP_PORT="0", SIMULATION_SEED="5",
               THIRD_PARTY_PLUGINS="false", LOG_FORMAT="json", PATH=str(bin_dir))
    version = subprocess.run([str(bin_dir / "trade-hunter"), "--version"], env=env, cwd=work,
                             capture_output=True, text=True, timeout=60, check=True)
    assert version.stdout.startswith("trade-hunter ")
    daemon = subprocess.Popen([str(bin_dir / "trade-hunter")], env=env, cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert daemon.stderr is not None
        for line in daemon.stderr:
            record = json.loads(line)
            if record["logger"] == "trade_hunter.startup":
                break
        url = record["message"].split(" ready at ")[1].split(" ")[0].rstrip("/")
        with urllib.request.urlopen(f"{url}/", timeout=10) as page:
            assert b"Trade Hunter" in page.read()  # index.html, from inside the wheel
        with urllib.request.urlopen(f"{url}/static/js/app.js", timeout=10) as script:
            assert script.status == 200
        ctl = [str(bin_dir / "th-ctl"), "--home", str(home), "--json"]
        status = subprocess.run([*ctl, "status"], env=env, cwd=work, capture_output=True,
                                text=True, timeout=60, check=True)
        assert json.loads(status.stdout)["mode"] == "simulation"
        trade_hunter = json.loads(status.stdout)
        assert Path(trade_hunter["home"]) == home
        subprocess.run([*ctl, "stop"], env=env, cwd=work, capture_output=True, timeout=60,
                       check=True)
        assert daemon.wait(timeout=60) == 0
    finally:
        daemon.kill()
        daemon.communicate(timeout=30)
    assert [p.name for p in work.iterdir()] == ["docs"] and not any((work / "docs").iterdir())
    where = "import trade_hunter.web as w, pathlib; print(pathlib.Path(w.__path__[0]).resolve())"
    installed = subprocess.run([str(bin_dir / "python"), "-c", where], env=env, cwd=work,
                               capture_output=True, text=True, check=True)
    assert Path(installed.stdout.strip()).is_relative_to(env_dir.resolve())
