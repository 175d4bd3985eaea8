"""``th-ctl``: control a running Trade Hunter daemon over its control socket.

Standard library only for calls and ``--json``/``-o csv`` (fast to start, works when the
daemon's dependencies are broken); tables load ``rich``, ``completion`` loads ``shtab``. Every
command comes from ``protocol.METHODS``: a method with ``cli="name"`` becomes ``th-ctl name``,
its required parameters positional arguments and the others ``--options``; a few methods of
built-in plugins get a command too (:data:`PLUGIN_COMMANDS`); any method (plugin methods
included) is reachable with ``th-ctl call METHOD key=value…``.

Exit codes: 0 ok, 1 the daemon answered with an error, 2 usage, 3 the daemon is not running.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from trade_hunter.daemon import protocol

from . import client as ctl
from . import render as out
from .completion import DIRECTORY, SHELLS, script

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3
STOP_WAIT = 30.0
START_HINT = "start it with ./trade-hunter (Windows: trade-hunter.cmd)"
_TYPES = {"int": int, "float": float, "str": str}
# Commands for methods of built-in plugins (no parameters): command → (method, help).
PLUGIN_COMMANDS: dict[str, tuple[str, str]] = {
    "relays": ("relays.list", ("Relay routes (built-in and RELAYS_FILE) with their last "
                               "delivery and error counts")),
}


class UsageError(Exception):
    pass


# Valid values the method table leaves open, checked here so a typo is a usage error (exit
# 2) naming the choices. Copies of plugins.models.TIERS/TOPICS (that module needs msgspec);
# tests/ctl/test_output.py keeps them equal.
TIERS = ("high conviction flow", "notable", "watch")
TOPICS = ("crypto", "elections", "macro", "sports", "geopolitics", "general")
CHOICES: dict[str, tuple[str, ...]] = {"tier": TIERS, "topic": TOPICS}
OUTPUTS = ("table", "json", "csv")


def _common() -> argparse.ArgumentParser:
    # SUPPRESS: an option given after the command must not be reset by the sub-parser.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_const", const="json", dest="output",
                        default=argparse.SUPPRESS,
                        help="print the daemon's JSON answer (for scripts; same as -o json)")
    common.add_argument("-o", "--output", choices=OUTPUTS, default=argparse.SUPPRESS,
                        help="table (default), json, or csv (the rows of list commands)")
    common.add_argument("--wide", action="store_true", default=argparse.SUPPRESS,
                        help="never cut table cells to the terminal's width")
    home = common.add_argument("--home", default=argparse.SUPPRESS, metavar="PATH",
                               help="the daemon's TRADE_HUNTER_HOME (default: "
                                    "$TRADE_HUNTER_HOME, else the per-user data folder)")
    home.complete = DIRECTORY  # type: ignore[attr-defined]  # read by shtab
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS, metavar="SECONDS",
                        help=f"how long to wait for an answer (default {ctl.DEFAULT_TIMEOUT:g})")
    return common


def _add_param(parser: argparse.ArgumentParser, p: protocol.Param) -> None:
    text = p.help + (f" (default: {p.default})" if p.default is not None else "")
    if p.required:
        parser.add_argument(p.name, metavar=p.name.upper(), help=text)
        return
    flag = "--" + p.name.replace("_", "-")
    if p.type == "bool":
        parser.add_argument(flag, dest=p.name, action=argparse.BooleanOptionalAction,
                            default=None, help=text)
        return
    parser.add_argument(flag, *p.aliases, dest=p.name, type=_TYPES.get(p.type, str),
                        choices=p.choices or CHOICES.get(p.name) or None, default=None,
                        help=text)


def build_parser() -> argparse.ArgumentParser:
    # A fresh copy of the common options per parser: parents share Action objects, and the
    # main parser's set_defaults below would otherwise reset the sub-parsers' SUPPRESS.
    parser = argparse.ArgumentParser(
        prog="th-ctl", parents=[_common()],
        description="Control a running Trade Hunter daemon (it finds the daemon through "
                    "TRADE_HUNTER_HOME).",
        epilog="exit codes: 0 ok, 1 error from the daemon, 2 usage, 3 daemon not running. "
               "Run `th-ctl COMMAND --help` for a command's options.")
    parser.set_defaults(output="table", wide=False, home=None, timeout=ctl.DEFAULT_TIMEOUT,
                        method=None)
    parser.add_argument("--readme", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for m in protocol.METHODS:
        if not m.cli:
            continue
        cmd = sub.add_parser(m.cli, parents=[_common()], help=m.help,
                             description=f"{m.help} (method {m.name}).")
        for p in m.params:
            _add_param(cmd, p)
        cmd.set_defaults(method=m.name)
    for command, (method, help_text) in PLUGIN_COMMANDS.items():
        cmd = sub.add_parser(command, parents=[_common()], help=help_text,
                             description=f"{help_text} (plugin method {method}).")
        cmd.set_defaults(method=method)
    call = sub.add_parser("call", parents=[_common()], help="Call any method, plugin methods "
                          "included: th-ctl call METHOD key=value…",
                          description="Call any control method with named parameters: "
                                      "key=value passes a string, key:=JSON a JSON value.",
                          epilog="methods: " + ", ".join(m.name for m in protocol.METHODS) +
                                 ", and plugin methods (plugin.method)")
    call.add_argument("target", metavar="METHOD")
    call.add_argument("pairs", nargs="*", metavar="KEY=VALUE")
    sub.add_parser("methods", parents=[_common()],
                   help="List every method: the table's and, from the running daemon, "
                        "plugins'", description="Every control method with its th-ctl "
                        "command and HTTP route; plugin methods when the daemon lists them.")
    completion = sub.add_parser("completion", help="Print a shell completion script: "
                                "th-ctl completion bash|zsh|fish",
                                description="Print the completion script for SHELL, e.g. "
                                "`source <(th-ctl completion bash)` in ~/.bashrc.")
    completion.add_argument("shell", metavar="SHELL", choices=SHELLS)
    return parser


def parse_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        if ":=" in pair and pair.index(":=") + 1 == pair.index("="):
            key, raw = pair.split(":=", 1)
            try:
                value: Any = json.loads(raw)
            except ValueError:
                raise UsageError(f"{pair!r}: the value after := must be JSON") from None
        elif "=" in pair:
            key, value = pair.split("=", 1)
        else:
            raise UsageError(f"{pair!r}: expected key=value")
        if not key:
            raise UsageError(f"{pair!r}: missing parameter name")
        params[key] = value
    return params


def request_of(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The method and its checked parameters for parsed arguments (``UsageError``)."""
    if args.command == "call":
        name, params = args.target, parse_pairs(args.pairs)
    else:
        name = args.method
        table = protocol.BY_NAME.get(name)
        params = {p.name: getattr(args, p.name) for p in table.params
                  if getattr(args, p.name, None) is not None} if table else {}
    method = protocol.BY_NAME.get(name)
    if method is not None:  # check locally: a usage error, not a daemon error
        try:
            protocol.convert_params(method, params)
        except protocol.ParamError as exc:
            raise UsageError(str(exc)) from None
    elif "." not in name:
        raise UsageError(f"unknown method {name!r} (table methods: "
                         f"{', '.join(m.name for m in protocol.METHODS)}; plugin methods "
                         f"are named plugin.method)")
    return name, params


def commands_markdown() -> str:
    """The README's command table, generated from the method table."""
    rows = ["| command | method | what it does |", "|---|---|---|"]
    for m in protocol.METHODS:
        words = [f"th-ctl {m.cli}" if m.cli else f"th-ctl call {m.name}"]
        for p in m.params:
            if p.required:
                words.append(p.name.upper())
            elif m.cli:
                flag = p.aliases[0] if p.aliases else "--" + p.name.replace("_", "-")
                words.append(f"[{flag}"
                             + (f" {{{','.join(choices)}}}" if (choices := p.choices
                                                                or CHOICES.get(p.name)) else
                                "" if p.type == "bool" else f" {p.type.upper()}") + "]")
            else:
                words.append(f"[{p.name}=…]")
        rows.append(f"| `{' '.join(words)}` | `{m.name}` | {m.help} |")
    for command, (method, help_text) in PLUGIN_COMMANDS.items():
        rows.append(f"| `th-ctl {command}` | `{method}` | {help_text} |")
    rows.append("| `th-ctl call METHOD key=value…` | any | call any method, plugin methods "
                "included (`key:=JSON` for a JSON value) |")
    rows.append("| `th-ctl methods` | — | every method: the table's, and plugin methods when "
                "the daemon lists them |")
    rows.append("| `th-ctl completion {bash,zsh,fish}` | — | print a shell completion "
                "script |")
    return "\n".join(rows)


def methods_result(client: ctl.Client) -> dict[str, Any]:
    """The table's methods, plus the daemon's own list (plugin methods) when it gives one."""
    rows = [{"name": m.name, "command": f"th-ctl {m.cli}" if m.cli else
             f"th-ctl call {m.name}", "http": " ".join(m.http) if m.http else "",
             "from": "core", "help": m.help} for m in protocol.METHODS]
    note = ""
    try:
        discovered = client.call("rpc.discover", {})
    except ctl.NotRunning:
        note = "the daemon is not running: plugin methods are not listed"
    except (ctl.CallError, ctl.ProtocolError):
        note = "this daemon does not list its methods (rpc.discover): plugin methods not shown"
    else:
        known = {r["name"] for r in rows}
        for m in (discovered.get("methods") if isinstance(discovered, dict) else None) or []:
            name = m.get("name") if isinstance(m, dict) else None
            if name and name not in known and not name.startswith("rpc."):
                rows.append({"name": name, "command": f"th-ctl call {name}", "http": "",
                             "from": name.split(".", 1)[0],
                             "help": m.get("summary") or m.get("description") or ""})
    return {"methods": rows, "note": note}


def _err(message: str) -> None:
    print(f"th-ctl: {message}", file=sys.stderr)


def _wait_stopped(client: ctl.Client, deadline: float) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            client.call("status", timeout=2)
        except ctl.NotRunning:
            return True
        except (ctl.ProtocolError, ctl.CallError):
            pass  # closing down mid-answer
        time.sleep(0.1)
    return False


def _print(text: str) -> int:
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `th-ctl signals | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


def _show(name: str, result: Any, args: argparse.Namespace) -> int:
    if args.output == "json":
        return _print(json.dumps(result, indent=2))
    if args.output == "csv":
        return _print(out.to_csv(name, result))
    out.OUTPUT = out.Output.for_stream(sys.stdout, wide=args.wide)
    return _print(out.render(name, result))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.readme:
        print(commands_markdown())
        return EXIT_OK
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command == "completion":
        return _print(script(parser, args.shell))
    if args.command == "methods":
        return _show("methods", methods_result(ctl.Client(args.home, timeout=args.timeout)),
                     args)
    try:
        name, params = request_of(args)
    except UsageError as exc:
        parser.error(str(exc))  # exits 2
    client = ctl.Client(args.home, timeout=args.timeout)
    try:
        result = client.call(name, params)
    except ctl.NotRunning as exc:
        _err(f"{exc}; {START_HINT}")
        return EXIT_NOT_RUNNING
    except ctl.CallError as exc:
        if args.output == "json":  # the error object alone, on stderr, for scripts
            print(json.dumps({"error": {"code": exc.code, "name": exc.name,
                                        "message": exc.message, "data": exc.data}}, indent=2),
                  file=sys.stderr)
        else:
            _err(f"{exc.message} [{exc.name}]")
        return EXIT_ERROR
    except ctl.ProtocolError as exc:
        _err(f"{exc} ({client.home})")
        return EXIT_ERROR
    _show(name, result, args)
    if name == "shutdown":
        if not _wait_stopped(client, STOP_WAIT):
            _err(f"the daemon still answers {STOP_WAIT:g}s after the stop request")
            return EXIT_ERROR
        if args.output == "table":
            print("stopped")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
