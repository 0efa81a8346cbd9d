"""Keyed hashes (HMAC-SHA256) of personal identifiers: stable join keys that reveal nothing.

A keyed hash lets two tables be joined on an email or phone, and lets the suppression list
recognise an erased person, without either holding the identifier itself; without the key the
digest cannot be recomputed from a guessed email (unlike a plain SHA-256).

The key is a secret held in an Airflow connection (``scv_pii_hmac``, its password), so it comes
from the deployment's secrets backend; ``SCV_PII_HMAC_KEY`` is the fallback for jobs that run
without Airflow. It is never logged: Airflow masks a connection's password in task logs once read,
and :func:`keyed_hash_column` keeps it out of Spark plans (see there).

Guarantees
- ``keyed_hash(v, k)`` is a plain RFC 2104 HMAC-SHA256 of the UTF-8 bytes of ``v``, as lower-case
  hex: stable for one key, different for another key, ``None`` stays ``None``.
- ``keyed_hash_column`` gives exactly the same digest for the same value inside Spark.
- Callers normalise first (e.g. lower-cased email, E.164 phone): the hash is of the exact text.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

DEFAULT_HMAC_CONN_ID = "scv_pii_hmac"
HMAC_KEY_ENV = "SCV_PII_HMAC_KEY"


class HmacKeyMissing(RuntimeError):
    """Neither the Airflow connection nor the environment fallback holds an HMAC key."""


def _password_from_airflow(conn_id: str) -> str | None:
    try:
        from airflow.sdk import Connection
    except ImportError:  # a Spark job running without Airflow installed
        return None
    try:
        # Reading the connection registers its password with Airflow's secrets masker, so the
        # key is redacted from task logs even if something prints it.
        connection = Connection.get(conn_id)
    except Exception:  # AirflowNotFoundException and backend errors: fall back to the env
        return None
    return connection.password or None


def resolve_hmac_key(conn_id: str = DEFAULT_HMAC_CONN_ID) -> bytes:
    """The HMAC secret: the password of Airflow connection ``conn_id`` (e.g. from an
    ``AIRFLOW_CONN_SCV_PII_HMAC`` environment connection or a secrets backend), else the
    ``SCV_PII_HMAC_KEY`` environment variable. Raises :class:`HmacKeyMissing` naming both."""
    secret = _password_from_airflow(conn_id) or os.environ.get(HMAC_KEY_ENV) or None
    if not secret:
        raise HmacKeyMissing(
            f"no HMAC key for personal identifiers: set the password of Airflow connection "
            f"'{conn_id}' (e.g. AIRFLOW_CONN_{conn_id.upper()}) or the {HMAC_KEY_ENV} environment variable"
        )
    return secret.encode("utf-8")


def keyed_hash(value: str | None, key: bytes) -> str | None:
    """Hex HMAC-SHA256 of ``value`` under ``key`` (``None`` stays ``None``)."""
    if value is None:
        return None
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def keyed_hash_column(column: Column, key: bytes) -> Column:
    """The same digest as :func:`keyed_hash`, as a Spark column expression.

    Implemented as a vectorised (Arrow) Python UDF calling :func:`keyed_hash`, rather than as
    ``sha2(concat(unhex(<key xor ipad>), ...))`` built from Spark functions: that would put the
    padded key, which is as good as the key, as a literal into every plan, and plans end up in the
    Spark UI, event logs and error messages. With the UDF, ``explain()`` shows only
    ``hmac_sha256(<column>)``; the key travels in the pickled function to the Python workers.
    The digest is identical by construction (same code), at the cost of an Arrow round trip.
    """
    @F.pandas_udf(T.StringType())
    def hmac_sha256(values: pd.Series) -> pd.Series:
        return values.map(lambda v: None if v is None or v != v else keyed_hash(v, key))

    return hmac_sha256(column)
