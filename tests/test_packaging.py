"""Every code folder ships: in pyproject's package list, in a built wheel, importable only
under trade_hunter.*."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = ("daemon", "plugins", "ctl", "web", "outcomes")


def declared() -> dict[str, str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert sorted(config["packages"]) == sorted(config["package-dir"])
    return config["package-dir"]


def folders() -> dict[str, str]:
    """Every folder with an __init__.py under the four roots, as package → folder."""
    found = {}
    for root in ROOTS:
        for init in sorted((REPO / root).rglob("__init__.py")):
            rel = init.parent.relative_to(REPO)
            if "__pycache__" in rel.parts or "static" in rel.parts:
                continue
            found["trade_hunter." + ".".join(rel.parts)] = rel.as_posix()
    return found


def test_every_package_folder_is_declared():
    assert declared() == folders()


def test_built_wheel_contains_every_package(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(tmp_path), str(REPO)], check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("trade_hunter-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for package, folder in folders().items():
        path = package.replace(".", "/") + "/__init__.py"
        assert path in names, f"{folder} is missing from the wheel"
    assert "trade_hunter/plugins/py.typed" in names
    assert not any(n.startswith(("daemon/", "plugins/", "web/", "ctl/", "tests/")) for n in names)
    assert not any("fake" in n for n in names)  # local test servers live in tests/ only
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "trade-hunter = trade_hunter.daemon.cli:main" in text
    assert "th-ctl = trade_hunter.ctl.cli:main" in text


@pytest.mark.parametrize("root", ROOTS)
def test_bare_name_import_is_refused(root):
    result = subprocess.run([sys.executable, "-c", f"import {root}"], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert f"import this package as 'trade_hunter.{root}'" in result.stderr
