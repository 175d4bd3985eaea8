"""Logging set-up (``LOG_LEVEL``, ``LOG_FORMAT``, ``LOG_FILE``, ``QUIET_MODE``) through
``logging.config.dictConfig``, and the filter that keeps secrets out of every log line.

* stderr always (the journal, under systemd); ``LOG_FILE`` too when set, rotated by size.
* ``LOG_FORMAT=json``: one JSON object per line (python-json-logger) with ``timestamp``,
  ``level``, ``logger``, ``message`` and any ``extra`` fields (signals carry ``market``,
  ``tier``, ``score``).
* ``QUIET_MODE`` raises the level to warning; the start-up line with the dashboard address is
  logged by ``STARTUP_LOGGER``, which stays at info.
* ``RedactSecrets`` sits on every handler: each secret setting's value (and the pieces of
  list-like ones, such as routed webhook URLs) is replaced by ``[redacted]`` in the message,
  its arguments, extra fields and tracebacks, whatever logger produced them.
"""

from __future__ import annotations

import logging
import logging.config
import re
import traceback
from typing import Any
from urllib.parse import urlsplit

STARTUP_LOGGER = "trade_hunter.startup"
REDACTED = "[redacted]"
MIN_SECRET = 8  # shorter fragments would match ordinary words
URL_TOKEN = 16  # path segments of a secret URL this long are secrets by themselves
NOISY = ("hypercorn.access", "httpx", "httpcore", "httpx2", "trio-websocket", "anthropic")
# Attributes every LogRecord has: anything else was passed with ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName"}


def secret_strings(settings: Any) -> list[tuple[str, str]]:
    """``(setting name, text)`` for each secret setting's value and, for list-like values
    (``topic=url;…``), each piece, and the long path segments of URLs (webhook tokens);
    longest first so a piece never hides its whole."""
    out: list[tuple[str, str]] = []
    for name, setting in settings.declared.items():
        value = settings.get(name)
        if not setting.secret or not value or not isinstance(value, str):
            continue
        pieces = {value, *re.split(r"[;,\s]+", value)}
        pieces |= {p.split("=", 1)[1] for p in list(pieces) if "=" in p}
        # A webhook URL's token is a long path segment: quoted alone, it is still the secret.
        pieces |= {seg for p in list(pieces) if "://" in p
                   for seg in urlsplit(p).path.split("/") if len(seg) >= URL_TOKEN}
        out.extend((name, p) for p in pieces if len(p) >= MIN_SECRET)
    return sorted(out, key=lambda item: len(item[1]), reverse=True)


class RedactSecrets(logging.Filter):
    """Replace secret values in a record before any handler formats it."""

    def __init__(self, secrets: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len,
                              reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: log what we have anyway
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters use exc_text when exc_info is gone: the traceback is redacted too.
            record.exc_text = self.redact("".join(traceback.format_exception(
                *record.exc_info)).rstrip("\n"))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


def logging_config(settings: Any) -> dict[str, Any]:
    """The ``dictConfig`` dictionary for ``settings`` (separate from applying it: testable)."""
    level = str(settings.LOG_LEVEL).upper()
    if settings.QUIET_MODE and logging.getLevelName(level) < logging.WARNING:
        level = "WARNING"
    formatter = "json" if settings.LOG_FORMAT == "json" else "text"
    secrets = [text for _, text in secret_strings(settings)]
    handlers: dict[str, Any] = {
        "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                   "formatter": formatter, "filters": ["redact"]},
    }
    if settings.LOG_FILE:
        handlers["file"] = {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": str(settings.LOG_FILE), "encoding": "utf-8",
            "maxBytes": int(settings.LOG_FILE_MAX_BYTES),
            "backupCount": int(settings.LOG_FILE_BACKUPS),
            "formatter": formatter, "filters": ["redact"]}
    quiet_libraries = {name: {"level": "WARNING"} for name in NOISY} \
        if level != "DEBUG" else {}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactSecrets, "secrets": secrets}},
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                     "fmt": "%(levelname)s %(name)s %(message)s", "timestamp": True,
                     "rename_fields": {"levelname": "level", "name": "logger"}},
        },
        "handlers": handlers,
        "root": {"level": level, "handlers": list(handlers)},
        "loggers": {STARTUP_LOGGER: {"level": "INFO"}, **quiet_libraries},
    }


def configure_logging(settings: Any) -> None:
    if settings.LOG_FILE:
        settings.LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    logging.config.dictConfig(logging_config(settings))


_activity = logging.getLogger("trade_hunter.signals")


def log_signal(signal: Any) -> None:
    """One info line per signal (a pipeline hand-off): market, tier, score, never a secret."""
    move = f" ({signal.price_move:+.2f})" if signal.price_move else ""
    price = f", yes {signal.yes_price:.2f}{move}" if signal.yes_price is not None else ""
    _activity.info("signal #%s %s: %s, score %.2f (%s)%s", signal.id, signal.market_id,
                   signal.tier, signal.score, signal.rule, price,
                   extra={"signal_id": signal.id, "market": signal.market_id,
                          "tier": signal.tier, "score": round(signal.score, 3),
                          "rule": signal.rule, "source": signal.source})
