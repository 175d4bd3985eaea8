"""The method table drives the daemon's handlers, th-ctl's commands and the README: every
entry must have all three."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from trade_hunter.ctl import cli
from trade_hunter.daemon import protocol
from trade_hunter.daemon.rpc_handlers import Service

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("method", protocol.METHODS, ids=lambda m: m.name)
def test_every_method_has_a_handler_taking_its_params(method):
    handler = getattr(Service, method.handler_name, None)
    assert handler is not None, f"Service.{method.handler_name} is missing"
    assert inspect.iscoroutinefunction(handler)
    params = [p for p in inspect.signature(handler).parameters if p != "self"]
    assert params == [p.name for p in method.params]


@pytest.mark.parametrize("method", protocol.METHODS, ids=lambda m: m.name)
def test_every_method_has_a_th_ctl_command(method):
    parser = cli.build_parser()
    if method.cli is None:  # reachable through the generic call
        args = parser.parse_args(["call", method.name])
        assert cli.request_of(args)[0] == method.name
        return
    given = {p.name: "7" if p.type == "int" else f"X{p.name}"
             for p in method.params if p.required}
    args = parser.parse_args([method.cli, *given.values()])
    name, params = cli.request_of(args)
    assert name == method.name
    assert params == given


def test_command_names_are_unique_and_help_comes_from_the_table():
    names = [m.cli for m in protocol.METHODS if m.cli]
    assert len(names) == len(set(names)) and "call" not in names
    help_text = " ".join(cli.build_parser().format_help().split())
    for m in protocol.METHODS:
        if m.cli:
            assert f"{m.cli} {' '.join(m.help.split())}" in help_text


def test_every_method_is_documented_in_the_readme():
    readme = (REPO / "README.md").read_text()
    start, end = "<!-- th-ctl-commands:start -->", "<!-- th-ctl-commands:end -->"
    documented = readme[readme.index(start) + len(start):readme.index(end)].strip()
    assert documented == cli.commands_markdown(), \
        "the README's th-ctl table is stale: paste the output of `th-ctl --readme`"
    for m in protocol.METHODS:
        command = f"th-ctl {m.cli}" if m.cli else f"th-ctl call {m.name}"
        assert re.search(rf"`{re.escape(command)}[ `]", readme), command


def test_error_names_are_unique_codes():
    codes = list(protocol.ERRORS.values())
    assert len(codes) == len(set(codes))
    assert protocol.ERRORS["parse_error"] == -32700  # the JSON-RPC 2.0 reserved codes
    assert protocol.ERRORS["method_not_found"] == -32601
