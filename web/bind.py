"""Where the dashboard may listen and which ``Host`` names it answers to.

Standard library only: ``trade-hunter`` calls :func:`check_bind` before anything starts, and
that must not pull in the web stack.

Rules:

* the default bind is loopback; a non-loopback ``APP_HOST`` needs ``DASHBOARD_TOKEN``
  (else start-up stops with exit 2 and one line naming both);
* DNS-rebinding protection: a request is served only when its ``Host`` names loopback
  (``localhost``, ``127.0.0.1``, ``::1``), ``APP_HOST`` itself, one of ``ALLOWED_HOSTS``, or
  the very IP address the connection arrived on. A rebinding attack always uses a *name*
  (``evil.example`` resolving to 127.0.0.1), so an IP literal equal to the socket's own
  address cannot be one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from trade_hunter.plugins.errors import ConfigError

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(settings: Any) -> None:
    """Refuse a non-loopback ``APP_HOST`` without ``DASHBOARD_TOKEN`` (raises ConfigError)."""
    host = str(settings.APP_HOST)
    if not is_loopback(host) and not settings.DASHBOARD_TOKEN:
        raise ConfigError("APP_HOST", host,
                          "a loopback address (127.0.0.1, ::1, localhost) unless "
                          "DASHBOARD_TOKEN is set (every API call then needs it)")


def split_host(value: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8765`` → ``::1``), lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        return value.rsplit(":", 1)[0]
    return value


def allowed_hosts(app_host: str, extra: Iterable[str]) -> frozenset[str]:
    names = set(LOOPBACK_NAMES)
    host = split_host(app_host) if app_host.startswith("[") else app_host.strip().lower()
    if host not in WILDCARDS:
        names.add(host)
    names.update(split_host(h) for h in extra if h.strip())
    return frozenset(names)


def host_ok(header: str, allowed: frozenset[str], local_ip: str | None) -> bool:
    """Whether a request's ``Host`` header may be served (see the module rules)."""
    host = split_host(header)
    if not host:
        return False
    if host in allowed or host.endswith(".localhost"):
        return True
    if local_ip is not None:
        try:
            return _ip(host) == _ip(local_ip)
        except ValueError:
            return False
    return False


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(text.split("%")[0])  # drop an IPv6 zone (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return ip
