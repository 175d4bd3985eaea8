"""The tuning backlog file: stable ids, a person's edits kept through rewrites, atomic
writes, and where the file lives."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from trade_hunter.daemon.backlog import Backlog, parse, render
from trade_hunter.daemon.tuning_advisor import backlog_path

VOLUME = {"knob": "SPIKE_MIN_VOLUME_DELTA", "from": 120.0, "to": 160.0, "why": "small noise",
          "evidence": "\u221245 % alerts (11 → 6); drops 4 of 4 noise, keeps 5 of 6 signal"}
MOVE = {"knob": "SPIKE_MIN_PRICE_MOVE", "from": 0.03, "to": 0.04, "why": "small moves",
        "evidence": "\u221220 % alerts (10 → 8); drops 2 of 3 noise, keeps 7 of 7 signal",
        "narrative": "Most noisy alerts moved the price by only the minimum."}


def test_new_suggestions_get_stable_ids_and_all_fields(tmp_path):
    b = Backlog(tmp_path / "docs" / "TUNING-BACKLOG.md")
    entries, touched = b.merge([VOLUME, MOVE], "2026-11-27")
    assert touched == ["TB-001", "TB-002"] and len(entries) == 2
    text = b.path.read_text()
    assert text.startswith("# Tuning backlog\n")
    assert "## TB-002 — SPIKE_MIN_PRICE_MOVE 0.03 → 0.04" in text
    [one, two] = parse(text)
    assert one.as_dict() == {"id": "TB-001", "date": "2026-11-27",
                             "knob": "SPIKE_MIN_VOLUME_DELTA", "from": 120.0, "to": 160.0,
                             "evidence": VOLUME["evidence"], "why": "small noise",
                             "narrative": "", "status": "suggested", "applied": ""}
    assert two.narrative == MOVE["narrative"]
    # The same suggestion again keeps its id; a new one gets the next.
    again = dict(VOLUME, evidence="\u221250 % alerts (12 → 6)")
    _, touched = b.merge([again, dict(MOVE, to=0.05)], "2026-11-28")
    assert touched == ["TB-001", "TB-003"]
    assert [e.id for e in b.load()] == ["TB-001", "TB-002", "TB-003"]
    assert b.load()[0].evidence == "\u221250 % alerts (12 → 6)"
    assert b.load()[0].date == "2026-11-28"


def test_a_persons_edits_survive_a_rewrite(tmp_path):
    b = Backlog(tmp_path / "TUNING-BACKLOG.md")
    b.merge([VOLUME, MOVE], "2026-11-27")
    text = b.path.read_text()
    head, tail = text.split("## TB-002")
    # By hand: TB-001 planned with a remark, TB-002 rejected with a note under it.
    head = head.replace("- **Status:** suggested", "- **Status:** planned (after the Fed)")
    tail = tail.replace("- **Status:** suggested", "- Status: rejected")
    b.path.write_text(head + "## TB-002" + tail + "\nWe want every 3c move.\n")

    fresher = dict(VOLUME, evidence="\u221250 % alerts (12 → 6)")
    _, touched = b.merge([fresher, MOVE], "2026-11-29")  # a rewrite
    assert touched == ["TB-001"]  # the rejected one is not suggested again
    one, two = b.load()
    assert one.status == "planned (after the Fed)" and one.state == "planned"
    assert one.evidence == "\u221250 % alerts (12 → 6)"
    assert two.state == "rejected" and two.notes == ["We want every 3c move."]
    assert "We want every 3c move." in b.path.read_text()

    b.mark("TB-001", "applied", applied="2026-11-29 10:00 UTC")
    one, two = b.load()
    assert (one.state, one.applied) == ("applied", "2026-11-29 10:00 UTC")
    assert two.state == "rejected" and two.notes == ["We want every 3c move."]
    _, touched = b.merge([VOLUME], "2026-11-30")
    assert touched == [] and len(b.load()) == 2  # applied: not suggested again


def test_writes_are_atomic_and_a_concurrent_edit_is_merged(tmp_path):
    b = Backlog(tmp_path / "TUNING-BACKLOG.md")
    b.merge([VOLUME], "2026-11-27")
    calls = []

    def change(entries):
        calls.append(len(entries))
        if len(calls) == 1:  # a person saves the file while we are merging
            b.path.write_text(b.path.read_text().replace("suggested", "rejected") + "\n")
        for e in entries:
            e.evidence = "fresh"
        return True

    b.update(change)
    assert calls == [1, 1]  # merged again, into the person's version
    [entry] = b.load()
    assert (entry.state, entry.evidence) == ("rejected", "fresh")
    assert [p.name for p in tmp_path.iterdir()] == ["TUNING-BACKLOG.md"]  # no temp files


def test_parse_skips_what_it_cannot_read_and_render_round_trips(tmp_path):
    text = render(parse(""))
    assert parse(text) == []
    b = Backlog(tmp_path / "b.md")
    b.merge([VOLUME, MOVE], "2026-11-27")
    broken = b.path.read_text().replace("- **Change:** 120 → 160", "- **Change:** more")
    entries = parse(broken)
    assert [e.id for e in entries] == ["TB-002"]
    assert parse(render(entries)) == entries


def test_where_the_backlog_lives(tmp_path, monkeypatch):
    home = tmp_path / "home"
    settings = SimpleNamespace(home=home, get=lambda name, default=None: None)
    monkeypatch.chdir(tmp_path)
    # Not a checkout: the state folder, never a file in whatever directory we started from.
    assert backlog_path(settings) == home / "TUNING-BACKLOG.md"
    (tmp_path / "docs").mkdir()  # a docs folder alone is somebody else's project
    assert backlog_path(settings) == home / "TUNING-BACKLOG.md"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "another"\n')
    assert backlog_path(settings) == home / "TUNING-BACKLOG.md"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "trade-hunter"\n')
    assert backlog_path(settings) == tmp_path / "docs" / "TUNING-BACKLOG.md"
    configured = SimpleNamespace(home=home, get=lambda name, default=None: Path("notes/tb.md"))
    assert backlog_path(configured) == tmp_path / "notes" / "tb.md"
