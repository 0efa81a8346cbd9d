"""Keyed hashes of identifiers: a real HMAC, stable per key, key resolved from Airflow or env."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from scv.privacy.keyed_hash import HmacKeyMissing, keyed_hash, resolve_hmac_key

KEY = b"unit-test-key-one"
OTHER_KEY = b"unit-test-key-two"


def test_hmac_is_rfc2104_sha256_and_stable_for_one_key():
    value = "ada.lovelace@example.org"
    expected = hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()
    assert keyed_hash(value, KEY) == expected
    assert keyed_hash(value, KEY) == keyed_hash(value, KEY)
    assert len(expected) == 64 and expected != hashlib.sha256(value.encode()).hexdigest()


def test_hmac_changes_with_the_key_and_none_stays_none():
    assert keyed_hash("+447700900123", KEY) != keyed_hash("+447700900123", OTHER_KEY)
    assert keyed_hash(None, KEY) is None
    assert keyed_hash("", KEY) == hmac.new(KEY, b"", hashlib.sha256).hexdigest()


def test_key_comes_from_the_airflow_connection_password(monkeypatch):
    monkeypatch.setenv("SCV_PII_HMAC_KEY", "env-fallback-key")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCV_PII_HMAC_TEST", json.dumps({"conn_type": "generic", "password": "from-connection-key"})
    )
    assert resolve_hmac_key("scv_pii_hmac_test") == b"from-connection-key"


def test_key_falls_back_to_env_then_fails_naming_both(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SCV_PII_HMAC_ABSENT", raising=False)
    monkeypatch.setenv("SCV_PII_HMAC_KEY", "env-fallback-key")
    assert resolve_hmac_key("scv_pii_hmac_absent") == b"env-fallback-key"
    monkeypatch.delenv("SCV_PII_HMAC_KEY")
    with pytest.raises(HmacKeyMissing) as raised:
        resolve_hmac_key("scv_pii_hmac_absent")
    assert "scv_pii_hmac_absent" in str(raised.value) and "SCV_PII_HMAC_KEY" in str(raised.value)
