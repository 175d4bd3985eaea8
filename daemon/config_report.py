"""What the configuration really is: look-alike variables that are not ours ("did you mean"),
and ``trade-hunter config``, the effective value of every setting with its source.

A variable in ``.env`` is meant for us, so every unknown one there is reported. The
environment holds everybody's variables, so only those that look like ours are: a near miss
of a declared name (``SPIKE_SCORE_THRESHHOLD``, ``ENABLE_SIMULATON``, ``app_port``) or a name
under one of our own prefixes (``SPIKE_``, ``KALSHI_``, ``DISCORD_``, …).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from trade_hunter.plugins.registry import Setting

# Prefixes other programs use too: a variable under them is not reported for its prefix only.
SHARED_PREFIXES = frozenset({"APP", "HTTP", "LOG", "ANTHROPIC", "PERPLEXITY", "ENABLE"})
OWN_PREFIXES = ("TRADE_HUNTER_",)
NEAR_MISS = 0.85       # difflib ratio for a name in the environment to count as a typo
SUGGEST = 0.6          # ... and for the suggestion given about a .env name
MASK = "********"


def own_prefixes(names: Iterable[str]) -> tuple[str, ...]:
    """``FAMILY_`` for each first word that two or more of our settings share."""
    counts: dict[str, int] = {}
    for name in names:
        head = name.split("_", 1)[0]
        counts[head] = counts.get(head, 0) + 1
    return OWN_PREFIXES + tuple(sorted(f"{head}_" for head, n in counts.items()
                                       if n >= 2 and head not in SHARED_PREFIXES))


def suggestion(name: str, declared: Iterable[str], cutoff: float) -> str | None:
    names = list(declared)
    if name.upper() in names:
        return name.upper()
    close = difflib.get_close_matches(name.upper(), names, n=1, cutoff=cutoff)
    return close[0] if close else None


def unknown_variables(declared: Iterable[str], dotenv: Mapping[str, str],
                      environ: Mapping[str, str]) -> list[str]:
    """One warning per variable that looks meant for us but is not a setting."""
    names = set(declared)
    prefixes = own_prefixes(names)
    warnings = []
    for origin, layer in ((".env", dotenv), ("the environment", environ)):
        for variable in sorted(layer):
            if variable in names:
                continue
            in_dotenv = origin == ".env"
            guess = suggestion(variable, names, SUGGEST if in_dotenv else NEAR_MISS)
            if not (in_dotenv or guess or variable.upper().startswith(prefixes)):
                continue
            hint = f"; did you mean {guess}?" if guess else "; it is ignored"
            warnings.append(f"{variable} (in {origin}) is not a Trade Hunter setting{hint}")
    return warnings


def shown_value(setting: Setting, value: Any) -> str:
    if value in ("", None, ()):
        return ""
    if setting.secret:
        return MASK
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def rows(settings: Any, dotenv: Mapping[str, str], environ: Mapping[str, str]
         ) -> list[dict[str, str]]:
    """Each declared setting: name, shown value (secrets masked), source, declaring plugin."""
    out = []
    for name, setting in settings.declared.items():
        source = "environment" if name in environ else ".env" if name in dotenv else "default"
        value = settings.get(name)
        if name == "TRADE_HUNTER_HOME" and source == "default":
            source = "default (per-user data folder)"
        out.append({"name": name, "value": shown_value(setting, value), "source": source,
                    "plugin": setting.plugin})
    return out


def render(settings: Any, dotenv: Mapping[str, str], environ: Mapping[str, str],
           dotenv_path: Path, *, as_json: bool = False) -> str:
    table = rows(settings, dotenv, environ)
    warnings = unknown_variables(settings.declared, dotenv, environ)
    if as_json:
        return json.dumps({"mode": settings.active_mode, "settings": table,
                           "warnings": warnings}, indent=2)
    widths = [max(len(r[k]) for r in table) for k in ("name", "value", "source")]
    head = ("VARIABLE", "VALUE", "SOURCE")
    widths = [max(w, len(h)) for w, h in zip(widths, head, strict=True)]
    where = dotenv_path if dotenv_path.is_file() else "none"
    lines = [f"# mode: {settings.active_mode}; .env: {where} (the environment wins)",
             "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + "  FROM"]
    for r in table:
        lines.append(f"{r['name'].ljust(widths[0])}  {(r['value'] or '-').ljust(widths[1])}  "
                     f"{r['source'].ljust(widths[2])}  {r['plugin']}")
    lines += [f"warning: {w}" for w in warnings]
    return "\n".join(lines)
