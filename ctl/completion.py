"""``th-ctl completion bash|zsh|fish``: shell completion generated from th-ctl's own argument
parser (itself generated from the method table), so a new method completes with no change here.

bash and zsh come from ``shtab``; shtab has no fish output, so fish's ``complete`` lines are
written here from the same parser. ``shtab`` is imported only by this command.
"""

from __future__ import annotations

import argparse
import shlex

SHELLS = ("bash", "zsh", "fish")
# shtab's "complete a directory" marker, written out so building the parser imports nothing.
DIRECTORY = {"bash": "_shtab_compgen_dirs", "zsh": "_files -/", "tcsh": "d"}


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    if shell == "fish":
        return fish(parser)
    import shtab

    return shtab.complete(parser, shell=shell)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help(parser: argparse.ArgumentParser, name: str) -> str:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.dest == name:
                    return choice.help or ""
    return ""


def _options(parser: argparse.ArgumentParser, prog: str, condition: str) -> list[str]:
    lines = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        words = [f"complete -c {prog}"]
        if condition:
            words.append(f"-n {shlex.quote(condition)}")
        for flag in action.option_strings:
            if flag.startswith("--"):
                words.append(f"-l {flag[2:]}")
            else:
                words.append(f"-s {flag[1:]}")
        if getattr(action, "complete", None) == DIRECTORY:
            words.append("-x -a '(__fish_complete_directories)'")
        elif action.choices:
            words.append("-x -a " + shlex.quote(" ".join(shlex.quote(str(c))
                                                        for c in action.choices)))
        elif action.nargs != 0:
            words.append("-r")
        if action.help:
            words.append("-d " + shlex.quote(" ".join(action.help.split())[:80]))
        lines.append(" ".join(words))
    return lines


def fish(parser: argparse.ArgumentParser) -> str:
    prog = parser.prog
    commands = _subcommands(parser)
    names = " ".join(commands)
    where = f"~/.config/fish/completions/{prog}.fish"
    lines = [f"# fish completion for {prog} (th-ctl completion fish > {where})",
             f"complete -c {prog} -f"]
    lines += _options(parser, prog, "")
    for name, sub in commands.items():
        first = shlex.quote("not __fish_seen_subcommand_from " + names)
        about = shlex.quote(" ".join(_help(parser, name).split())[:80])
        lines.append(f"complete -c {prog} -n {first} -a {shlex.quote(name)} -d {about}")
        lines += _options(sub, prog, f"__fish_seen_subcommand_from {name}")
        for action in sub._actions:  # positional choices (completion SHELL)
            if not action.option_strings and action.choices:
                lines.append(f"complete -c {prog} -n "
                             f"{shlex.quote('__fish_seen_subcommand_from ' + name)} -a "
                             f"{shlex.quote(' '.join(map(str, action.choices)))}")
    return "\n".join(lines) + "\n"
