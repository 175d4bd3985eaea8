"""Signing (RSA-PSS over timestamp + method + path) and key loading (one-line ConfigErrors)."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from th_kalshi_fake.helpers import KEY_ID, write_key

from trade_hunter.plugins.builtin.kalshi.auth import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    Signer,
    load_private_key,
    pre_sign_text,
    verify,
)
from trade_hunter.plugins.errors import ConfigError

# The vector of docs/kalshi-protocol.md §1.1.
VECTOR_TS = 1703123456789
VECTOR_TEXT = "1703123456789GET/trade-api/v2/markets"


def pss_verify(public_key, signature_b64: str, text: str) -> None:
    """Verify exactly as documented: PSS, MGF1(SHA-256), 32-byte salt, SHA-256."""
    public_key.verify(base64.b64decode(signature_b64), text.encode(),
                      padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                      hashes.SHA256())


def test_pre_sign_text_matches_the_documented_vector():
    assert pre_sign_text(VECTOR_TS, "get", "/trade-api/v2/markets?series_ticker=KXBTC15M&"
                                           "status=open") == VECTOR_TEXT
    assert pre_sign_text("1", "GET", "/trade-api/ws/v2") == "1GET/trade-api/ws/v2"


def test_headers_carry_a_signature_the_public_key_verifies(rsa_key):
    signer = Signer(KEY_ID, rsa_key, now=lambda: VECTOR_TS / 1000)
    headers = signer.headers("GET", "/trade-api/v2/markets?series_ticker=KXBTC15M")
    assert headers[HEADER_KEY] == KEY_ID
    assert headers[HEADER_TIMESTAMP] == str(VECTOR_TS)
    pss_verify(rsa_key.public_key(), headers[HEADER_SIGNATURE], VECTOR_TEXT)
    # PSS is salted: a fresh signature differs, and still verifies
    again = signer.headers("GET", "/trade-api/v2/markets")[HEADER_SIGNATURE]
    assert again != headers[HEADER_SIGNATURE]
    pss_verify(rsa_key.public_key(), again, VECTOR_TEXT)


@pytest.mark.parametrize("text", [
    "1703123456789POST/trade-api/v2/markets",        # other method
    "1703123456790GET/trade-api/v2/markets",         # other timestamp
    "1703123456789GET/trade-api/v2/markets?status=open",  # query must not be signed
    "1703123456789GET/markets",                      # prefix is part of the path
])
def test_signature_does_not_verify_for_other_texts(rsa_key, text):
    signature = Signer(KEY_ID, rsa_key).sign(VECTOR_TEXT)
    with pytest.raises(InvalidSignature):
        pss_verify(rsa_key.public_key(), signature, text)
    assert not verify(rsa_key.public_key(), signature, text)
    assert verify(rsa_key.public_key(), signature, VECTOR_TEXT)


def test_signer_hides_its_secrets(rsa_key):
    signer = Signer(KEY_ID, rsa_key)
    assert KEY_ID not in repr(signer) and "PRIVATE" not in repr(signer)


def test_missing_key_id_is_a_config_error(rsa_key):
    with pytest.raises(ConfigError) as err:
        Signer("", rsa_key)
    assert str(err.value).startswith("KALSHI_API_KEY_ID=<unset>: expected")


@pytest.mark.parametrize("fmt", ["pkcs8", "pkcs1"])
def test_pkcs1_and_pkcs8_keys_load(tmp_path, rsa_key, fmt):
    path = write_key(tmp_path / f"{fmt}.pem", rsa_key, fmt)
    marker = b"BEGIN PRIVATE KEY" if fmt == "pkcs8" else b"BEGIN RSA PRIVATE KEY"
    assert marker in path.read_bytes()
    key = load_private_key(path)
    assert key.private_numbers() == rsa_key.private_numbers()


def _bad_keys(tmp_path, rsa_key):
    public = tmp_path / "public.pem"
    public.write_bytes(rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    locked = tmp_path / "locked.pem"
    locked.write_bytes(rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key at all\n")
    return {
        "": "(required when ENABLE_KALSHI=true)",
        str(tmp_path / "missing.pem"): "no such file",
        str(tmp_path): "this is a directory",
        str(public): "it is not a PEM private key",
        str(ec_key): "this is an elliptic-curve (EC) key, not RSA",
        str(locked): "it is password-protected",
        str(garbage): "it is not a PEM private key",
        str(garbage / "key.pem"): "cannot read it (Not a directory)",  # OSError, even as root
    }


def test_bad_key_files_give_one_line_naming_the_variable(tmp_path, rsa_key):
    for path, why in _bad_keys(tmp_path, rsa_key).items():
        with pytest.raises(ConfigError) as err:
            load_private_key(path)
        text = str(err.value)
        assert err.value.variable == "KALSHI_PRIVATE_KEY_PATH"
        assert text.startswith("KALSHI_PRIVATE_KEY_PATH=") and why in text, text
        assert "\n" not in text and "BEGIN" not in text


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_key_file(tmp_path, rsa_key):
    path = write_key(tmp_path / "k.pem", rsa_key)
    path.chmod(0)
    with pytest.raises(ConfigError, match="cannot read it"):
        load_private_key(path)
