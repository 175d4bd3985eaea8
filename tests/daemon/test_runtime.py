"""The daemon's runtime tuning: fewer collector passes (cycles still freed) and one malloc
arena (checked in a fresh process, where glibc reports its arenas)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref

import pytest

from trade_hunter.daemon.runtime import GC_THRESHOLDS, tune_collector


async def test_the_daemon_collects_cycles_less_often_but_still_collects_them(start_daemon):
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        await start_daemon()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.isenabled()

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: reference counting alone never frees it
        gone = weakref.ref(a)
        del a, b
        keep = [[] for _ in range(GC_THRESHOLDS[0] + 1)]  # enough allocations for a pass
        assert gone() is None
        del keep
        gc.set_threshold(60_000, 5, 5)
        tune_collector()  # never lowers a threshold someone raised further
        assert gc.get_threshold() == (60_000, 5, 5)
    finally:
        gc.set_threshold(*before)


ARENAS = """
import ctypes, sys, threading
from trade_hunter.daemon.runtime import single_malloc_arena
print(single_malloc_arena() if sys.argv[1] == "tuned" else None, flush=True)
def work():
    keep = [bytearray(200_000) for _ in range(4)]  # malloc'd by this thread
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def arenas(mode: str, **env: str) -> tuple[str, int]:
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", ARENAS, mode], capture_output=True, text=True,
                         env={**base, **env}, check=True, timeout=60)
    return out.stdout.strip(), out.stderr.count("Arena ")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas")
def test_every_thread_allocates_from_one_malloc_arena():
    assert arenas("default")[1] > 1  # the premise: threads get arenas of their own
    assert arenas("tuned") == ("True", 1)
    assert arenas("tuned", MALLOC_ARENA_MAX="4")[0] == "False"  # the operator's setting wins
