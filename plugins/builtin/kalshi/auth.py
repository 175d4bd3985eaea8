"""Kalshi request signing: RSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt) over
``timestamp_ms + METHOD + path`` (path without the query string), base64 in three headers.

Every REST call and every WebSocket handshake is signed afresh (the timestamp is part of the
signature). The key and the key id are secrets: they never appear in a message, a ``repr`` or
a log line.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Generator
from pathlib import Path

import httpx
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from trade_hunter.plugins.errors import ConfigError

KEY_VAR = "KALSHI_PRIVATE_KEY_PATH"
KEY_ID_VAR = "KALSHI_API_KEY_ID"
HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
_EXPECTED = "a readable RSA private key file (PEM, PKCS#1 or PKCS#8)"
_KINDS = {"EC": "an elliptic-curve (EC)", "Ed25519": "an Ed25519", "Ed448": "an Ed448",
          "DSA": "a DSA", "DH": "a Diffie-Hellman", "X25519": "an X25519", "X448": "an X448"}


def load_private_key(path: Path | str | None) -> rsa.RSAPrivateKey:
    """Read an unencrypted RSA PEM key; raise ``ConfigError`` saying which and why, once."""
    if not path:
        raise ConfigError(KEY_VAR, "", _EXPECTED + " (required when ENABLE_KALSHI=true)")
    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(KEY_VAR, str(p), _EXPECTED + "; no such file") from None
    except IsADirectoryError:
        raise ConfigError(KEY_VAR, str(p), _EXPECTED + "; this is a directory") from None
    except OSError as exc:
        raise ConfigError(KEY_VAR, str(p),
                          f"{_EXPECTED}; cannot read it ({exc.strerror or exc})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography's way of saying "this one needs a password"
        raise ConfigError(KEY_VAR, str(p), _EXPECTED + "; it is password-protected") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(KEY_VAR, str(p), _EXPECTED + "; it is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.removesuffix("PrivateKey").lstrip("_")
        raise ConfigError(KEY_VAR, str(p), f"{_EXPECTED}; this is {_KINDS.get(kind, kind)} "
                                           "key, not RSA")
    return key


def pre_sign_text(timestamp_ms: int | str, method: str, path: str) -> str:
    """What is signed: ``1703123456789GET/trade-api/v2/markets`` (no query, no host)."""
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}"


class Signer:
    """Signs requests with one API key; ``now`` is injectable so tests can run on a fake clock."""

    def __init__(self, key_id: str, private_key: rsa.RSAPrivateKey,
                 now: Callable[[], float] = time.time) -> None:
        if not key_id:
            raise ConfigError(KEY_ID_VAR, "", "your Kalshi API key id "
                                              "(required when ENABLE_KALSHI=true)")
        self._key_id = key_id
        self._key = private_key
        self.now = now

    def __repr__(self) -> str:
        return "Signer(<key hidden>)"

    def sign(self, text: str) -> str:
        return base64.b64encode(self._key.sign(text.encode(), PSS, hashes.SHA256())).decode()

    def headers(self, method: str, path: str) -> dict[str, str]:
        timestamp = str(int(self.now() * 1000))
        return {HEADER_KEY: self._key_id, HEADER_TIMESTAMP: timestamp,
                HEADER_SIGNATURE: self.sign(pre_sign_text(timestamp, method, path))}


class SignedAuth(httpx.Auth):
    """httpx auth flow: signs each request (and each retry) just before it is sent."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.signer.headers(request.method, request.url.path))
        yield request


def verify(public_key: rsa.RSAPublicKey, signature_b64: str, text: str) -> bool:
    """Check a signature the way the exchange does (used by the tests' fake exchange)."""
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), text.encode(),
                          padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                          hashes.SHA256())
    except (InvalidSignature, ValueError):  # binascii.Error is a ValueError
        return False
    return True
