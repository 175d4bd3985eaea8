"""Plugin control methods (``th_register_rpc_methods``) through the socket and ``th-ctl call``,
with the plugin registered through the real hook."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.config import core_registry, load_settings
from trade_hunter.daemon.host import PluginHost, Registries
from trade_hunter.plugins import RpcError, hookimpl

TH_CTL = str(Path(sys.executable).parent / "th-ctl")


class EchoPlugin:
    """A third-party-style plugin with three control methods."""

    @hookimpl
    def th_register_rpc_methods(self, registry: Any) -> None:
        async def categories(ctx: Any, q: str = "") -> dict[str, Any]:
            names = ["Crypto", "Economics", "Politics"]
            return {"q": q, "categories": [{"name": n} for n in names if q.lower() in
                                           n.lower()], "has_store": ctx.store is not None}

        async def refuse(ctx: Any) -> None:
            raise RpcError("the feed is not running", code="not_available")

        async def bug(ctx: Any) -> None:
            raise ZeroDivisionError("secret detail")

        registry.add("echo.categories", categories, params={"q": "filter"}, help="list")
        registry.add("echo.refuse", refuse)
        registry.add("echo.bug", bug)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    host = PluginHost()
    host.load(third_party=False)
    host.pm.register(EchoPlugin(), name="echo")
    registries = Registries(settings=core_registry())
    host.collect(registries)
    raw = {"TRADE_HUNTER_HOME": str(tmp_path / "home"), "APP_PORT": "0",
           "ENABLE_SIMULATION": "false", "QUIET_MODE": "true"}
    d = Daemon(load_settings(registries.settings.items.values(), raw), host, registries)
    async with trio.open_nursery() as nursery:
        await nursery.start(d.run)
        yield d
        d.request_shutdown("test finished")


async def th_ctl(d: Daemon, *args: str) -> tuple[int, str, str]:
    done = await trio.run_process([TH_CTL, "--home", str(d.settings.home), *args],
                                  capture_stdout=True, capture_stderr=True, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def test_th_ctl_call_reaches_a_plugin_method(daemon):
    code, out, err = await th_ctl(daemon, "call", "echo.categories", "q=Crypto", "--json")
    assert code == 0, err
    assert json.loads(out) == {"q": "Crypto", "categories": [{"name": "Crypto"}],
                               "has_store": True}
    code, out, _ = await th_ctl(daemon, "call", "echo.categories", "q=o")
    assert code == 0
    assert out.splitlines()[:2] == ["q: o", "categories:"] and "Economics" in out


async def test_plugin_method_errors(daemon, caplog):
    code, _, err = await th_ctl(daemon, "call", "echo.categories", "nope=1")
    assert code == 1 and "unknown parameter(s) nope [invalid_params]" in err
    code, _, err = await th_ctl(daemon, "call", "echo.refuse")
    assert code == 1 and "the feed is not running [not_available]" in err
    code, out, err = await th_ctl(daemon, "call", "echo.bug", "--json")
    assert code == 1 and "secret detail" not in out + err
    assert out == "" and json.loads(err)["error"]["name"] == "internal_error"  # on stderr
    assert any("ZeroDivisionError" in (r.exc_text or "") for r in caplog.records)
    code, out, _ = await th_ctl(daemon, "status", "--json")  # still serving
    assert code == 0 and json.loads(out)["pid"] == daemon.pid


async def test_rpc_discover_lists_the_table_and_the_plugins_methods(start_daemon):
    d = await start_daemon()
    for name in ("rpc.discover", "system.methods"):
        listed = {m["name"]: m for m in (await d.service.call(name))["methods"]}
        assert listed["status"]["from"] == "core"
        assert listed["signals.list"]["params"][:2] == ["sort", "limit"]
        assert listed["relays.list"]["from"] == "relays"  # a built-in plugin's method
