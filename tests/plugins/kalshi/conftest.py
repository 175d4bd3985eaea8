"""Fixtures for the Kalshi feed tests: RSA keys made at test time (none committed), the local
fake exchange (``th_kalshi_fake``), an in-memory ticker book and a feed builder."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).parent))  # the fake exchange package lives here

from th_kalshi_fake import FakeKalshi
from th_kalshi_fake.helpers import KEY_ID, MemoryBook, write_key

from trade_hunter.daemon.cli import build
from trade_hunter.daemon.supervisor import ComponentHealth
from trade_hunter.plugins.builtin.kalshi.auth import Signer
from trade_hunter.plugins.builtin.kalshi.config import load_config
from trade_hunter.plugins.builtin.kalshi.feed import KalshiFeed


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    return write_key(tmp_path / "kalshi.pem", rsa_key)


@pytest.fixture
def start_fake(nursery: trio.Nursery, rsa_key: rsa.RSAPrivateKey
               ) -> Callable[..., Any]:
    """``fake = await start_fake(now=...)``: a fake exchange serving until the test ends."""
    async def start(now: Callable[[], float] = time.time) -> FakeKalshi:
        return await FakeKalshi(rsa_key.public_key(), KEY_ID, now=now).start(nursery)
    return start


@pytest.fixture
def make_feed(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Callable[..., KalshiFeed]:
    """A feed wired to ``fake`` the way the plugin factory wires it (settings → config)."""
    def make(fake: FakeKalshi, book: MemoryBook, *, now: Callable[[], float] = time.time,
             key: Any = None, **env: str) -> KalshiFeed:
        settings, _, _ = build({"TRADE_HUNTER_HOME": str(tmp_path), "ENABLE_KALSHI": "true",
                                "THIRD_PARTY_PLUGINS": "false", **fake.env(), **env})
        signer = Signer(KEY_ID, key or rsa_key, now=now)
        return KalshiFeed(load_config(settings), signer, ComponentHealth("kalshi", "feed"),
                          book, now=now)
    return make


