"""The tuning backlog file (``docs/TUNING-BACKLOG.md`` by default): the record of what the
advisor suggested and what was applied, planned or rejected.

The file is the source of truth: every change reads it first, so a status a person edited
(or a note they added under an entry) is kept; writes are atomic (a temporary file in the same
folder, fsynced, then renamed over the old one), and a change made to the file while we were
merging is merged again rather than overwritten.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("suggested", "applied", "planned", "rejected")
FIELDS = ("Status", "Date", "Knob", "Change", "Evidence", "Why", "Narrative", "Applied")
HEADER = """\
# Tuning backlog

Threshold suggestions from the Trade Hunter tuning advisor, each backed by a replay of the
stored events with the proposed value. This file is the record of what was suggested, applied,
planned and rejected: change an entry's **Status** (suggested, applied, planned or rejected)
or add notes under it, and the advisor keeps your edits. Apply a suggestion with
`th-ctl tuning-apply TB-001` or from the dashboard's Tuning Advisor panel.
"""
_ENTRY = re.compile(r"^## (TB-\d+)\b")
_FIELD = re.compile(r"^[-*] \*\*(\w+):\*\*\s?(.*)$|^[-*] (\w+):\s?(.*)$")
_CHANGE = re.compile(r"^\s*([-+0-9.eE]+)\s*(?:→|->)\s*([-+0-9.eE]+)\s*$")


@dataclass
class Entry:
    id: str
    date: str
    knob: str
    current: float
    proposed: float
    evidence: str
    status: str = "suggested"
    why: str = ""
    narrative: str = ""
    applied: str = ""
    notes: list[str] = field(default_factory=list)
    """Lines a person added under the entry: kept as they are."""

    @property
    def number(self) -> int:
        return int(self.id.split("-")[1])

    @property
    def state(self) -> str:
        """The status word (a person may write "planned (next week)")."""
        word = self.status.split()[0].lower() if self.status.split() else ""
        return word if word in STATUSES else self.status

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "date": self.date, "knob": self.knob, "from": self.current,
                "to": self.proposed, "evidence": self.evidence, "why": self.why,
                "narrative": self.narrative, "status": self.state, "applied": self.applied}


def _num(value: float) -> str:
    return f"{value:g}"


def parse(text: str) -> list[Entry]:
    """The entries of a backlog file; unreadable entries are skipped, not fatal."""
    entries: list[Entry] = []
    block: list[str] | None = None
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if _ENTRY.match(line):
            block = [line]
            blocks.append(block)
        elif line.startswith(("# ", "## ")):
            block = None
        elif block is not None:
            block.append(line)
    for lines in blocks:
        entry = _parse_entry(lines)
        if entry is not None:
            entries.append(entry)
    return entries


def _parse_entry(lines: list[str]) -> Entry | None:
    match = _ENTRY.match(lines[0])
    assert match is not None
    values: dict[str, str] = {}
    notes: list[str] = []
    for line in lines[1:]:
        m = _FIELD.match(line)
        name = (m.group(1) or m.group(3)).capitalize() if m else ""
        if m and name in FIELDS and name not in values:
            values[name] = (m.group(2) if m.group(1) else m.group(4)).strip()
        else:
            notes.append(line)
    while notes and not notes[0].strip():
        notes.pop(0)
    while notes and not notes[-1].strip():
        notes.pop()
    change = _CHANGE.match(values.get("Change", ""))
    if change is None or not values.get("Knob"):
        return None
    return Entry(id=match.group(1), date=values.get("Date", ""), knob=values["Knob"],
                 current=float(change.group(1)), proposed=float(change.group(2)),
                 evidence=values.get("Evidence", ""), status=values.get("Status", "suggested"),
                 why=values.get("Why", ""), narrative=values.get("Narrative", ""),
                 applied=values.get("Applied", ""), notes=notes)


def render(entries: Iterable[Entry]) -> str:
    parts = [HEADER]
    for e in sorted(entries, key=lambda e: e.number):
        lines = [f"## {e.id} — {e.knob} {_num(e.current)} → {_num(e.proposed)}", "",
                 f"- **Status:** {e.status}", f"- **Date:** {e.date}",
                 f"- **Knob:** {e.knob}",
                 f"- **Change:** {_num(e.current)} → {_num(e.proposed)}",
                 f"- **Evidence:** {e.evidence}"]
        if e.why:
            lines.append(f"- **Why:** {e.why}")
        if e.narrative:
            lines.append(f"- **Narrative:** {e.narrative}")
        if e.applied:
            lines.append(f"- **Applied:** {e.applied}")
        if e.notes:
            lines += ["", *e.notes]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def next_id(entries: Iterable[Entry]) -> str:
    return f"TB-{max((e.number for e in entries), default=0) + 1:03d}"


def same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


class Backlog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def load(self) -> list[Entry]:
        try:
            return parse(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []

    def update(self, change: Callable[[list[Entry]], bool]) -> list[Entry]:
        """Read the file, let ``change`` edit the entries (it returns whether it changed
        anything), write them back atomically; retried if the file changed meanwhile."""
        for _ in range(5):
            stamp = self._stamp()
            entries = self.load()
            if not change(entries):
                return entries
            if self._stamp() != stamp:
                continue  # someone saved the file while we merged: merge into their version
            self._write(render(entries))
            return entries
        raise RuntimeError(f"{self.path} keeps changing; not written")

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tuning-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def merge(self, suggestions: list[dict[str, Any]], today: str) -> tuple[list[Entry],
                                                                             list[str]]:
        """Record the advisor's latest suggestions: a change already in the backlog as
        suggested or planned gets the fresh evidence; one a person rejected (or that was
        applied) is not suggested again; anything else becomes a new entry."""
        touched: list[str] = []

        def change(entries: list[Entry]) -> bool:
            touched.clear()
            changed = False
            for s in suggestions:
                match = next((e for e in entries if e.knob == s["knob"]
                              and same(e.proposed, s["to"])), None)
                if match is None:
                    entry = Entry(id=next_id(entries), date=today, knob=s["knob"],
                                  current=s["from"], proposed=s["to"], evidence=s["evidence"],
                                  why=s.get("why", ""), narrative=s.get("narrative", ""))
                    entries.append(entry)
                    touched.append(entry.id)
                    changed = True
                elif match.state in ("suggested", "planned"):
                    new = (today, s["from"], s["evidence"], s.get("why", match.why),
                           s.get("narrative", ""))
                    old = (match.date, match.current, match.evidence, match.why,
                           match.narrative)
                    if new != old:
                        (match.date, match.current, match.evidence, match.why,
                         match.narrative) = new
                        changed = True
                    touched.append(match.id)
            return changed

        entries = self.update(change)
        return entries, list(touched)

    def mark(self, entry_id: str, status: str, *, applied: str = "") -> Entry:
        found: list[Entry] = []

        def change(entries: list[Entry]) -> bool:
            found.clear()
            for e in entries:
                if e.id == entry_id:
                    found.append(e)
                    if e.state == status and e.applied == (applied or e.applied):
                        return False
                    e.status = status
                    e.applied = applied or e.applied
                    return True
            return False

        self.update(change)
        if not found:
            raise KeyError(entry_id)
        return found[0]
