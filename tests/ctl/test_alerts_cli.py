"""``th-ctl`` for the alert workflow against a real daemon process: silence add/list/expire,
snooze, ack, ``signals --unread``; a malformed matcher is a usage error (exit 2), not stored."""

from __future__ import annotations

import json


def test_silence_snooze_and_ack_commands(procs):
    d = procs.start()
    bad = procs.ctl(d.home, "silence", "add", "colour=red", "topic=cryptoo")
    assert bad.returncode == 2, bad.stderr
    assert "colour=red" in bad.stderr and "topic=cryptoo" in bad.stderr
    added = procs.ctl(d.home, "--json", "silence", "add", "topic=crypto", "market=KX*",
                      "--duration", "2h", "--comment", "busy night")
    assert added.returncode == 0, added.stderr
    silence = json.loads(added.stdout)["silence"]
    assert silence["matchers"] == ["topic=crypto", "market=KX*"]
    snoozed = procs.ctl(d.home, "snooze", "KXBTC15M", "90m")
    assert snoozed.returncode == 0, snoozed.stderr
    assert procs.ctl(d.home, "snooze", "KXBTC15M", "soon").returncode == 2

    listed = procs.ctl(d.home, "silence", "list")
    assert listed.returncode == 0, listed.stderr
    assert "0 alerts muted by 0 silences today" in listed.stdout
    assert "topic=crypto market=KX*" in listed.stdout and "KXBTC15M" in listed.stdout
    expired = procs.ctl(d.home, "--json", "silence", "expire", str(silence["id"]))
    assert json.loads(expired.stdout)["silence"]["state"] == "expired"
    assert procs.ctl(d.home, "silence", "expire", "999").returncode == 1

    spiked = json.loads(procs.ctl(d.home, "--json", "demo-spike").stdout)
    [sid] = spiked["signals"]
    unread = json.loads(procs.ctl(d.home, "--json", "signals", "--unread").stdout)
    assert sid in [s["id"] for s in unread["signals"]]
    acked = procs.ctl(d.home, "--json", "ack", str(sid), "123456")
    assert acked.returncode == 0, acked.stderr
    assert json.loads(acked.stdout)["acked"] == [sid, 123456]
    unread = json.loads(procs.ctl(d.home, "--json", "signals", "--unread").stdout)
    assert sid not in [s["id"] for s in unread["signals"]]
    assert procs.ctl(d.home, "ack", "x1").returncode == 2
