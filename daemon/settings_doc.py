"""The README's configuration table, generated from the declared settings (core + plugins).

``python -m trade_hunter.daemon.settings_doc --write`` rewrites the table in README.md;
a test fails when the README and the declarations disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from trade_hunter.plugins.registry import Setting

START, END = "<!-- configuration-table:start -->", "<!-- configuration-table:end -->"
INTRO = (
    "## Configuration\n\n"
    "Read from the environment and from a `.env` file in the working directory (the "
    "environment wins). Bad values stop start-up with exit code 2 and one line each naming "
    "the variable, the value and what was expected, all reported at once. A variable that "
    "looks like one of these but is not (`SPIKE_SCORE_THRESHHOLD`, anything unknown in "
    "`.env`) is warned about at start-up with a \"did you mean\". `trade-hunter config` "
    "prints every setting's effective value and its source (default, `.env`, environment), "
    "secrets masked. Secrets are never logged, shown by an API or stored.\n\n"
    "`ACTIVE_MODE` is derived: `live` when `ENABLE_KALSHI` is true (simulation is then "
    "suppressed entirely), else `simulation` when `ENABLE_SIMULATION` is true, else "
    "`ingest-only` (relays and the HTTP ingest only).\n"
)


def _default(s: Setting) -> str:
    if s.default in ("", None, ()):
        return "—"
    if isinstance(s.default, bool):
        return "`true`" if s.default else "`false`"
    return f"`{s.default:g}`" if isinstance(s.default, float) else f"`{s.default}`"


def _type(s: Setting) -> str:
    if s.kind == "choice":
        return " \\| ".join(s.choices)
    text = {"list": "comma list", "bool": "true/false"}.get(s.kind, s.kind)
    if s.minimum is not None and s.maximum is not None:
        text += f" {s.minimum:g}–{s.maximum:g}"
    elif s.minimum is not None:
        text += f" ≥ {s.minimum:g}"
    return text + (", secret" if s.secret else "")


def table(settings: list[Setting]) -> str:
    lines = ["| variable | default | type | what | from |", "|---|---|---|---|---|"]
    for s in settings:
        help_ = s.help.replace("|", "\\|")
        lines.append(f"| `{s.name}` | {_default(s)} | {_type(s)} | {help_} | {s.plugin} |")
    return "\n".join(lines)


def section() -> str:
    from .cli import build
    _, _, registries = build({"THIRD_PARTY_PLUGINS": "false", "TRADE_HUNTER_HOME": "/tmp"})
    return f"{START}\n{INTRO}\n{table(list(registries.settings.items.values()))}\n{END}"


def rewrite(readme: Path) -> bool:
    text = readme.read_text()
    start, end = text.index(START), text.index(END) + len(END)
    new = text[:start] + section() + text[end:]
    readme.write_text(new)
    return new != text


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        readme = Path.cwd() / "README.md"
        print("README.md updated" if rewrite(readme) else "README.md already current")
    else:
        print(section())
