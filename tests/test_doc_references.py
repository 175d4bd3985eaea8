"""Documents cited by the code, tests and docs exist in the repository, and nothing points
outside it (the shared design notes are not part of a checkout)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("daemon", "plugins", "ctl", "web", "tests", "bench", "docs")
SUFFIXES = {".py", ".md", ".toml", ".js", ".html", ".css"}
CITED = re.compile(r"(?<![\w/.-])docs/[\w./-]+\.md")
OUTSIDE = re.compile(r"\.\./shared\b")
# Written by the daemon at run time (the tuning advisor's default), not a document we ship.
RUNTIME_FILES = {"docs/TUNING-BACKLOG.md"}


def sources() -> list[Path]:
    files = [REPO / "README.md", REPO / "pyproject.toml"]
    for folder in FOLDERS:
        files += [p for p in (REPO / folder).rglob("*")
                  if p.suffix in SUFFIXES and "__pycache__" not in p.parts]
    return files


def test_every_cited_document_exists_and_nothing_points_outside():
    missing, outside = [], []
    for path in sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        where = path.relative_to(REPO)
        missing += [f"{where}: {m}" for m in CITED.findall(text)
                    if m not in RUNTIME_FILES and not (REPO / m).exists()]
        if path.name != Path(__file__).name:
            outside += [f"{where}: {m.group()}" for m in OUTSIDE.finditer(text)]
    assert not missing, missing
    assert not outside, outside
