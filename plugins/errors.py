"""Errors a plugin raises to tell the daemon what happened (and whom to tell)."""

from __future__ import annotations

from typing import Any


class PluginError(Exception):
    """Base class of the errors below."""


class ConfigError(PluginError):
    """A setting is missing or invalid. Stops start-up with this one-line message (exit 2)."""

    def __init__(self, variable: str, value: object, expected: str) -> None:
        self.variable, self.value, self.expected = variable, value, expected
        shown = "<unset>" if value in (None, "") else repr(value)
        super().__init__(f"{variable}={shown}: expected {expected}")


class PayloadError(PluginError):
    """A relayed payload is malformed. The HTTP layer answers 422 with this message."""

    def __init__(self, message: str, detail: Any = None) -> None:
        self.message, self.detail = message, detail
        super().__init__(message)


class NotifyError(PluginError):
    """A notification could not be delivered now; the outbox retries it with backoff.

    ``retry_after`` (seconds), when the service said how long to wait.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PermanentNotifyError(PluginError):
    """A notification can never be delivered (bad webhook, 401/404): it is dropped and reported."""


class AnalystError(PluginError):
    """An analyst provider failed (auth, overload, timeout, invalid answer): try the next one."""


class RpcError(PluginError):
    """A control method refused its call; ``code`` is one of ``protocol.ERRORS``' names."""

    def __init__(self, message: str, *, code: str = "invalid_params", data: Any = None) -> None:
        self.code, self.data = code, data
        super().__init__(message)
