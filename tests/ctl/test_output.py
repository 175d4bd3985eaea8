"""th-ctl's output: rich tables (colour only on a terminal, never with NO_COLOR, sized to the
terminal unless --wide), -o json|csv, `methods`, shell completion, bad choices as usage
errors, the tuning table."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import shutil
import struct
import subprocess
import termios
from pathlib import Path

import pytest

from trade_hunter.ctl import cli, render
from trade_hunter.plugins.models import TIERS, TOPICS

from .conftest import TH_CTL

ANSI = "\x1b["


@pytest.fixture
def daemon(shared_daemon):
    return shared_daemon


def ctl_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "COLUMNS", "LINES", "TERM", "TRADE_HUNTER_HOME")}
    return {**env, "TRADE_HUNTER_HOME": str(home), "TERM": "xterm-256color", **extra}


def on_terminal(args: list[str], env: dict[str, str], columns: int) -> str:
    """Run th-ctl with its stdout on a real pseudo-terminal of ``columns`` columns."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen([TH_CTL, *args], stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_the_choice_lists_match_the_models():
    assert cli.TIERS == TIERS and cli.TOPICS == TOPICS


@pytest.mark.parametrize(("args", "named"), [
    (["signals", "--tier", "bogus"], "'high conviction flow', 'notable', 'watch'"),
    (["signals", "--topic", "weather"], "'crypto', 'elections'"),
    (["signals", "-o", "yaml"], "'table', 'json', 'csv'"),
    (["completion", "powershell"], "'bash', 'zsh', 'fish'"),
])
def test_bad_choices_exit_2_naming_the_valid_values(tmp_path, args, named):
    done = subprocess.run([TH_CTL, *args], env=ctl_env(tmp_path), capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2 and "invalid choice" in done.stderr and named in done.stderr


def test_colour_and_width_follow_the_terminal(tmp_path):
    env = ctl_env(tmp_path / "nowhere")  # `methods` draws its table without a daemon
    coloured = on_terminal(["methods"], env, columns=70)
    assert ANSI in coloured
    lines = [line for line in coloured.splitlines() if "th-ctl " in line]
    assert lines and any("…" in line for line in lines)  # cut to 70 columns
    plain = on_terminal(["methods"], {**env, "NO_COLOR": "1"}, columns=70)
    assert ANSI not in plain and "tuning.apply" in plain
    assert max(len(line) for line in plain.splitlines()) <= 70
    wide = on_terminal(["methods", "--wide"], {**env, "NO_COLOR": "1"}, columns=70)
    assert "…" not in wide and max(len(line) for line in wide.splitlines()) > 70
    piped = subprocess.run([TH_CTL, "methods"], env=env, capture_output=True, text=True,
                           timeout=60, check=True).stdout
    assert ANSI not in piped and "…" not in piped  # a pipe: plain, whole cells
    assert "Apply a tuning suggestion to the running detector (persisted)" in piped


def test_methods_lists_the_table_with_json_and_csv(tmp_path):
    env = ctl_env(tmp_path / "nowhere")
    listed = json.loads(subprocess.run([TH_CTL, "methods", "-o", "json"], env=env,
                                       capture_output=True, text=True, timeout=60,
                                       check=True).stdout)
    names = [m["name"] for m in listed["methods"]]
    assert "signals.list" in names and "shutdown" in names and "not running" in listed["note"]
    rows = list(csv.DictReader(io.StringIO(subprocess.run(
        [TH_CTL, "methods", "-o", "csv"], env=env, capture_output=True, text=True,
        timeout=60, check=True).stdout)))
    assert [r["name"] for r in rows] == names
    assert next(r for r in rows if r["name"] == "tickers.add")["http"] == \
        "POST /api/feeds/{feed}/tracked"


def test_csv_of_signals_and_the_tuning_table(daemon):
    procs, d = daemon
    assert procs.ctl(d.home, "demo-spike").returncode == 0
    done = procs.ctl(d.home, "signals", "-o", "csv", "--limit", "5")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert 1 <= len(rows) <= 5 and {"id", "market_id", "tier", "score"} <= set(rows[0])
    assert rows[0]["tier"] in TIERS and json.loads(rows[0]["event"])["market_id"]
    tuning = procs.ctl(d.home, "tuning")
    assert tuning.returncode == 0, tuning.stderr
    assert tuning.stdout.startswith("tuning advisor:") and "SUGGESTIONS" in tuning.stdout
    assert "SPIKE_SCORE_THRESHOLD 3" in tuning.stdout


def test_tuning_suggestions_and_patterns_as_tables():
    summary = {"available": True, "state": "idle", "detail": "2 suggestions",
               "interval_seconds": 900, "window_hours": 24, "backlog_path": "/h/TB.md",
               "thresholds": {"SPIKE_SCORE_THRESHOLD": 3.0}, "labels": {"noise": 5},
               "suggestions": [{"id": "TB-001", "date": "2026-12-06",
                                "knob": "SPIKE_SCORE_THRESHOLD", "from": 3.0, "to": 4.0,
                                "evidence": "drops 4 of 5 noise, keeps 3 of 3 signal",
                                "why": "", "narrative": "", "status": "suggested",
                                "applied": ""}],
               "patterns": [{"dimension": "topic", "value": "sports", "noise": 4,
                             "total": 5, "share": 0.8, "description": "x"}]}
    text = render.render("tuning.show", summary)
    rows = text.splitlines()
    head = rows.index("SUGGESTIONS")
    assert rows[head + 1].split()[:4] == ["ID", "STATUS", "KNOB", "CHANGE"]
    assert rows[head + 2].split()[:5] == ["TB-001", "suggested", "SPIKE_SCORE_THRESHOLD",
                                          "3", "→"]
    assert "NOISE PATTERNS" in rows and "80%" in text and "noise 5" in text


def test_bash_loads_the_completion(tmp_path):
    script = subprocess.run([TH_CTL, "completion", "bash"], env=ctl_env(tmp_path),
                            capture_output=True, text=True, timeout=60, check=True).stdout
    (tmp_path / "th-ctl.bash").write_text(script)
    command = f"source {tmp_path / 'th-ctl.bash'} && complete -p th-ctl"
    loaded = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                            timeout=60, check=False)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip().endswith(" th-ctl") and "-F _shtab_th_ctl" in loaded.stdout
    # What bash does on TAB: the completion function fills COMPREPLY.
    tab = (f"source {tmp_path / 'th-ctl.bash'}; COMP_WORDS=(th-ctl signals --sort ''); "
           "COMP_CWORD=3; COMP_LINE='th-ctl signals --sort '; COMP_POINT=${#COMP_LINE}; "
           "_shtab_th_ctl th-ctl '' --sort; echo \"${COMPREPLY[@]}\"; "
           "COMP_WORDS=(th-ctl sig); COMP_CWORD=1; COMP_LINE='th-ctl sig'; COMP_POINT=10; "
           "_shtab_th_ctl th-ctl sig th-ctl; echo \"${COMPREPLY[@]}\"")
    offered = subprocess.run(["bash", "-c", tab], capture_output=True, text=True, timeout=60,
                             check=True).stdout.splitlines()
    assert offered == ["newest score", "signals"]
    for word in ("signals", "add-ticker", "methods", "completion", "tuning-apply"):
        assert word in script


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts(tmp_path, shell):
    script = subprocess.run([TH_CTL, "completion", shell], env=ctl_env(tmp_path),
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert "signals" in script and "add-ticker" in script
    if shell == "fish":
        assert "complete -c th-ctl -n '__fish_seen_subcommand_from signals' -l tier -x -a " \
               "''\"'\"'high conviction flow'\"'\"' notable watch'" in script
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed: content checked only")
    path = tmp_path / f"th-ctl.{shell}"
    path.write_text(script)
    checked = subprocess.run([binary, "-n", str(path)], capture_output=True, text=True,
                             timeout=60, check=False)
    assert checked.returncode == 0, checked.stderr
    if shell == "fish":  # what fish offers on TAB
        tab = f"source {path}; complete -C 'th-ctl sig'; complete -C 'th-ctl signals --tier '"
        offered = subprocess.run([binary, "-c", tab], capture_output=True, text=True,
                                 timeout=60, check=True)
        assert [line.split("\t")[0] for line in offered.stdout.splitlines()] == [
            "signals", "high conviction flow", "notable", "watch"]


def test_render_output_options():
    stream = io.StringIO()
    assert render.Output.for_stream(stream) == render.Output(None, False)
    text = render.table([("a" * 60, "running")], ("long", "state"), render.Output(30, False))
    assert max(len(line) for line in text.splitlines()) <= 30 and "running" in text


def test_methods_of_a_running_daemon_include_the_plugins(daemon):
    procs, d = daemon
    done = procs.ctl(d.home, "methods", "-o", "json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    rows = {m["name"]: m for m in listed["methods"]}
    assert listed["note"] == "" and rows["relays.list"]["from"] == "relays"
    assert rows["relays.list"]["command"] == "th-ctl call relays.list"


def test_pairs_read_as_venue_market_pairs_with_their_age():
    pair = {"id": 3, "a_platform": "kalshi", "a_market": "KXFED-26DEC-C25",
            "b_platform": "polymarket", "b_market": "fed-cut",
            "mapping": "no", "created_at": 1_000.0}
    listed = render.render("pairs.list", {"pairs": [pair]})
    assert "kalshi:KXFED-26DEC-C25" in listed and "polymarket:fed-cut" in listed
    assert "ago" in listed and "e+" not in listed  # a time, not a raw float
    assert render.render("pairs.add", {"pair": pair, "added": True}) == (
        "paired #3 kalshi:KXFED-26DEC-C25 ↔ polymarket:fed-cut (YES of a is NO of b)")
    assert render.render("pairs.remove", {"pair": pair, "removed": True}).startswith("removed #3")
    assert "th-ctl pair-add" in render.render("pairs.list", {"pairs": []})
