"""Field mappings of declarative relays: JMESPath expressions (with constants and a few
conversions) that turn another service's webhook body into PolyAlertHub-format alerts, which
are then validated exactly like ``/api/alerts/polyalerthub`` (``polyalerthub.alert_from``).

A mapping is ``target → spec`` where ``target`` is a field of the PolyAlertHub format (or
``metadata.<key>``) and ``spec`` is a JMESPath expression, or a table with ``path`` or
``const`` and optional ``convert`` and ``default``. Problems name the field *and* the path
(``yes_price (from `data.price`): expected a number from 0 to 1, got 58.0``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from trade_hunter.plugins.models import MarketEvent

from . import fields as f
from .polyalerthub import KNOWN, REQUIRED, alert_from

TARGETS = frozenset(KNOWN | {"url", "outcome"})


class MappingFileError(Exception):
    """A mistake in the relays file; the message names the route and key."""


class ConversionError(ValueError):
    """A value a conversion cannot take; the message says what was expected."""


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConversionError(f"expected a number, got {f.type_name(value)}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ConversionError(f"expected a number, got {f.show(value)}") from None
    if not math.isfinite(number):
        raise ConversionError(f"expected a finite number, got {f.show(value)}")
    return number


def _side(value: Any) -> str:
    word = str(value).strip().lower() if isinstance(value, str) else ""
    if word in ("buy", "b", "bid", "long"):
        return "buy"
    if word in ("sell", "s", "ask", "short"):
        return "sell"
    raise ConversionError(f"expected BUY or SELL, got {f.show(value)}")


def _string(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConversionError(f"expected a string or a number, got {f.type_name(value)}")
    return value if isinstance(value, str) else f"{value:g}" if isinstance(value, float) \
        else str(value)


def _lower(value: Any) -> str:
    return _string(value).strip().lower()


CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "number": _number,                          # numeric strings → numbers
    "percent": lambda v: _number(v) / 100.0,    # 64 (%) → 0.64
    "ms": lambda v: _number(v) / 1000.0,        # epoch milliseconds → seconds
    "side": _side,                              # BUY / Sell / bid … → buy / sell
    "string": _string,                          # ids sent as numbers
    "lower": _lower,                            # Yes / NO → yes / no
}


@dataclass(frozen=True)
class FieldSpec:
    target: str
    path: str = ""
    const: Any = None
    convert: str = ""
    default: Any = None
    compiled: Any = None

    @property
    def origin(self) -> str:
        return f"from `{self.path}`" if self.path else "a constant"

    def value(self, item: Any) -> Any:
        value = self.compiled.search(item) if self.compiled is not None else self.const
        if value is None:
            value = self.default
        if value is None or not self.convert:
            return value
        return CONVERSIONS[self.convert](value)


def field_spec(target: str, spec: Any, where: str) -> FieldSpec:
    """Check one mapping entry of the file; ``MappingFileError`` names what is wrong."""
    if target not in TARGETS and not (target.startswith("metadata.") and len(target) > 9):
        raise MappingFileError(f"{where}: unknown field {target!r}; fields: "
                         f"{', '.join(sorted(TARGETS))} or metadata.<key>")
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, dict):
        raise MappingFileError(f"{where}: expected a JMESPath string or a table with path or const")
    unknown = sorted(set(spec) - {"path", "const", "convert", "default"})
    if unknown:
        raise MappingFileError(f"{where}: unknown key(s) {', '.join(unknown)} (path, const, "
                         "convert, default)")
    if ("path" in spec) == ("const" in spec):
        raise MappingFileError(f"{where}: give exactly one of path and const")
    convert = spec.get("convert", "")
    if convert and convert not in CONVERSIONS:
        raise MappingFileError(f"{where}.convert: {convert!r} is not one of "
                         f"{', '.join(CONVERSIONS)}")
    path, compiled = spec.get("path", ""), None
    if "path" in spec:
        if not isinstance(path, str) or not path.strip():
            raise MappingFileError(f"{where}.path: expected a JMESPath expression")
        try:
            compiled = jmespath.compile(path)
        except JMESPathError as exc:
            first = str(exc).splitlines()[0]
            raise MappingFileError(f"{where}.path: invalid JMESPath {path!r}: {first}") from None
    return FieldSpec(target, path, spec.get("const"), convert, spec.get("default"), compiled)


class FieldMapping:
    """One route's mapping: ``parse(payload, headers)`` for a :class:`Relay`."""

    def __init__(self, source: str, specs: list[FieldSpec], items: Any = None) -> None:
        self.source, self.specs, self.items = source, specs, items
        self.summary = {"mapping": {s.target: s.path or {"const": s.const} for s in specs},
                        "required": list(REQUIRED)}

    def parse(self, payload: Any, headers: Mapping[str, str]) -> list[MarketEvent]:
        problems = f.Problems(self.summary)
        if self.items is not None:
            try:
                payload = self.items.search(payload)
            except JMESPathError as exc:
                problems.add("body", f"items (from `{self.items.expression}`): {exc}")
                problems.raise_if_any()
            if not isinstance(payload, list):
                problems.add("body", f"items (from `{self.items.expression}`): expected an "
                                     f"array, got {f.type_name(payload)}")
                problems.raise_if_any()
        return f.parse_all(payload, problems, self.one, what="alert")

    def one(self, item: Any, at: str, problems: f.Problems) -> MarketEvent | None:
        alert: dict[str, Any] = {}
        details: dict[str, Any] = {}
        before = problems.count
        for spec in self.specs:
            try:
                value = spec.value(item)
            except (ConversionError, JMESPathError) as exc:
                problems.add(f"{at}{spec.target}", f"{exc} ({spec.origin})")
                continue
            if value is None:
                continue
            if spec.target.startswith("metadata."):
                details[spec.target[9:]] = value
            else:
                alert[spec.target] = value
        if problems.count > before:
            return None
        given = alert.get("metadata")
        if details and (given is None or isinstance(given, dict)):
            alert["metadata"] = {**details, **(given or {})}  # else alert_from names it
        start = len(problems.items)
        event = alert_from(alert, at, problems, source=self.source)
        origins = {s.target: s.origin for s in self.specs}
        for problem in problems.items[start:]:  # name the path the field came from
            origin = origins.get(problem["field"][len(at):])
            problem["message"] += f" ({origin})" if origin else " (not mapped)"
        return event
