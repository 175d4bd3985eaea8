"""The POSIX launcher: creates .venv on first run, reinstalls when pyproject.toml changes,
forwards every argument. Python and pip are stand-ins that record their calls (no network)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!/bin/sh
# stand-in for a system python3: records its calls, makes a stand-in venv
echo "python $*" >> "$LOG"
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin"
    cat > "$3/bin/python" <<'EOS'
#!/bin/sh
echo "venv-python $*" >> "$LOG"
EOS
    cat > "$3/bin/trade-hunter" <<'EOS'
#!/bin/sh
echo "daemon $*" >> "$LOG"
EOS
    chmod +x "$3/bin/python" "$3/bin/trade-hunter"
fi
exit 0
"""


def make_checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(REPO / "trade-hunter", checkout / "trade-hunter")
    (checkout / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PYTHON": str(fake), "LOG": str(tmp_path / "log")}
    return checkout, env


def run(checkout: Path, env: dict[str, str], *args: str, **extra: str) -> list[str]:
    log = Path(env["LOG"])
    log.write_text("")
    subprocess.run([str(checkout / "trade-hunter"), *args], env={**env, **extra}, check=True,
                   capture_output=True, timeout=60)
    return log.read_text().splitlines()


def test_first_run_creates_the_venv_installs_and_forwards_arguments(tmp_path):
    checkout, env = make_checkout(tmp_path)
    calls = run(checkout, env, "--smoke-test", "--no-replace")
    assert calls[0].startswith("python -c")                      # version check
    assert calls[1] == f"python -m venv {checkout}/.venv"
    assert f"venv-python -m pip install --quiet -e {checkout}" in calls
    assert calls[-1] == "daemon --smoke-test --no-replace"


def test_unchanged_pyproject_does_not_reinstall(tmp_path):
    checkout, env = make_checkout(tmp_path)
    run(checkout, env)
    assert run(checkout, env, "--version") == ["daemon --version"]


def test_changed_pyproject_reinstalls(tmp_path):
    checkout, env = make_checkout(tmp_path)
    run(checkout, env)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '2'\n")
    calls = run(checkout, env)
    assert f"venv-python -m pip install --quiet -e {checkout}" in calls
    assert not any(c.startswith("python -m venv") for c in calls)   # the venv is kept


def test_extras_are_added_and_kept(tmp_path):
    checkout, env = make_checkout(tmp_path)
    calls = run(checkout, env, TH_EXTRAS="test", TH_SETUP_ONLY="1")
    assert f"venv-python -m pip install --quiet -e {checkout}[test]" in calls
    assert not any(c.startswith("daemon") for c in calls)         # set-up only
    assert run(checkout, env) == ["daemon "]                        # test extra is a superset


def test_several_extras_install_once_in_any_order(tmp_path):
    checkout, env = make_checkout(tmp_path)
    calls = run(checkout, env, TH_EXTRAS="test dev", TH_SETUP_ONLY="1")
    assert f"venv-python -m pip install --quiet -e {checkout}[dev,test]" in calls
    for extras in ("test dev", "dev test", "test", "dev"):  # all installed already
        assert run(checkout, env, TH_EXTRAS=extras, TH_SETUP_ONLY="1") == []


def test_launcher_runs_the_real_daemon():
    """Through the repository's own launcher and .venv (set up by ./run-tests)."""
    result = subprocess.run([str(REPO / "trade-hunter"), "--smoke-test"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("smoke test ok:")


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "```sh\n./run-tests\n```" in readme
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == "./run-tests"
    assert ".ci/static-checks" in ci  # ruff, mypy and the import contracts
