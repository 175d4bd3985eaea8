"""The plugin host: built-ins registered like third parties, entry points loaded one by one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trade_hunter.daemon.cli import build
from trade_hunter.daemon.config import core_registry
from trade_hunter.daemon.host import BUILTINS, PluginHost, PluginLoadError, Registries

SAMPLES = Path(__file__).resolve().parents[1] / "sample_plugins"


def test_builtins_are_registered_by_name_with_their_hooks(tmp_path):
    _, host, registries = build({"TRADE_HUNTER_HOME": str(tmp_path),
                                 "THIRD_PARTY_PLUGINS": "false"})
    report = {p["name"]: p for p in host.report()}
    for module in BUILTINS:
        name = module.rsplit(".", 1)[-1]
        assert report[name]["status"] == "loaded" and report[name]["origin"] == "builtin"
        assert host.pm.get_plugin(name) is not None
    assert "th_register_detectors" in report["spike"]["hooks"]
    assert "spike" in registries.detectors.items and "simulated" in registries.feeds.items
    assert registries.detectors.items["spike"].plugin == "spike"


def test_disabled_plugins_are_not_registered(tmp_path):
    _, host, registries = build({"TRADE_HUNTER_HOME": str(tmp_path),
                                 "THIRD_PARTY_PLUGINS": "false",
                                 "DISABLED_PLUGINS": "simulated"})
    report = {p["name"]: p for p in host.report()}
    assert report["simulated"]["status"] == "disabled"
    assert "simulated" not in registries.feeds.items


def test_each_plugin_manager_is_its_own():
    a, b = PluginHost(), PluginHost()
    a.load(third_party=False)
    b.load(third_party=False, builtins=())
    assert a.pm.get_plugins() and not b.pm.get_plugins()


def test_a_builtin_with_a_misspelled_hook_stops_start_up(tmp_path):
    sys.path.insert(0, str(SAMPLES / "misspelled"))
    try:
        host = PluginHost()
        with pytest.raises(PluginLoadError, match="misspelled.*th_register_feedz"):
            host.load(third_party=False, builtins=("trade_hunter_misspelled",))
    finally:
        sys.path.remove(str(SAMPLES / "misspelled"))
        sys.modules.pop("trade_hunter_misspelled", None)


def test_a_raising_third_party_hook_is_reported_not_fatal():
    class Bad:
        from trade_hunter.plugins import hookimpl

        @staticmethod
        @hookimpl
        def th_register_feeds(registry):
            raise ValueError("cannot register")

    host = PluginHost()
    host.load(third_party=False)
    from trade_hunter.daemon.host import PluginInfo
    host.plugins["bad"] = PluginInfo("bad", "x", "1", "entry point")
    host.pm.register(Bad, name="bad")
    registries = Registries(settings=core_registry())
    host.collect(registries)
    assert host.plugins["bad"].status == "failed"
    assert "cannot register" in host.plugins["bad"].error
    assert "simulated" in registries.feeds.items


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The sample distributions pip-installed into a throwaway target folder."""
    target = tmp_path_factory.mktemp("site")
    sources = tmp_path_factory.mktemp("sources")  # builds write build/ dirs: not in the tree
    shutil.copytree(SAMPLES, sources, dirs_exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target),
                    str(sources / "good"), str(sources / "broken"), str(sources / "misspelled")],
                   check=True, timeout=300, capture_output=True)
    return target


RUNNER = r"""
import json, sys, time, trio
from trade_hunter.daemon.cli import build
from trade_hunter.daemon.app import Daemon

async def main():
    raw = {"TRADE_HUNTER_HOME": sys.argv[1], "APP_PORT": "0", "ENABLE_SIMULATION": "false",
           "QUIET_MODE": "true", "DISABLED_PLUGINS": sys.argv[2]}
    settings, host, registries = build(raw)
    d = Daemon(settings, host, registries)
    async with trio.open_nursery() as nursery:
        await nursery.start(d.run)
        with trio.fail_after(10):
            while True:
                await d.store.flush()
                rows = await d.store.aquery("SELECT COUNT(*) FROM events WHERE source='sample'")
                if rows[0][0] >= 3:
                    break
                await trio.sleep(0.05)
        plugins = await d.service.call("plugins.list")
        status = await d.service.call("status")
        d.request_shutdown("done")
    print(json.dumps({"plugins": plugins["plugins"], "events": rows[0][0],
                      "feeds": status["feeds"]}))

trio.run(main)
"""


def test_third_party_plugins_load_through_entry_points(site, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "home"), "misspelled"],
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    plugins = {p["name"]: p for p in out["plugins"]}
    good, broken = plugins["sample"], plugins["broken"]
    assert good["status"] == "loaded" and good["origin"] == "entry point"
    assert good["version"] == "1.2.3"
    assert good["hooks"] == ["th_add_settings", "th_register_feeds"]
    assert broken["status"] == "failed" and "broken on purpose" in broken["error"]
    assert plugins["misspelled"]["status"] == "disabled"
    assert out["events"] == 3  # the daemon ran on, with the good plugin's feed
    assert [f["name"] for f in out["feeds"]] == ["sample"]


def test_misspelled_third_party_hook_is_a_one_line_start_up_error(site, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(site), "TRADE_HUNTER_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "trade_hunter.daemon.cli"], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    assert result.returncode == 2
    [error] = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert "'misspelled'" in error and "th_register_feedz" in error
    assert "Traceback" not in result.stderr  # (the broken plugin's warning may precede it)


def test_third_party_autoload_can_be_switched_off(site, tmp_path):
    code = ("import json,sys; from trade_hunter.daemon.cli import build;"
            "s,h,r=build({'TRADE_HUNTER_HOME': sys.argv[1], 'THIRD_PARTY_PLUGINS': 'false'});"
            "print(json.dumps([p['name'] for p in h.report()]))")
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    names = json.loads(result.stdout)
    assert "sample" not in names and "broken" not in names
