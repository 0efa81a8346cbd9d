"""The suppression list: keyed hashes of erased identifiers, checked when rows enter bronze.

``privacy/suppression`` holds one row per erased identifier: its kind (``email``, ``phone`` or
``record`` for a source record id such as ``crm:123``), its keyed hash (HMAC-SHA256, see
:mod:`scv.privacy.subject` for the normalisation), the request reference and when it was added.
No raw identifier is stored, so the list itself is not personal data to anyone without the key.

At bronze ingest (:func:`drop_suppressed`), a row of a person source is dropped when the keyed
hash of its mapped email or phone, or of its ``<source>:<primary key>``, is listed; a row of an
event source when its person reference is. Dropped rows are counted, never stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from scv import delta_io
from scv.config import Settings
from scv.contracts import SourceContract
from scv.privacy.keyed_hash import keyed_hash, keyed_hash_column
from scv.privacy.subject import PHONE_KEY_DIGITS, SubjectFingerprint

SUPPRESSION_TABLE = ("privacy", "suppression")
SCHEMA = T.StructType(
    [
        T.StructField("identifier_type", T.StringType(), False),
        T.StructField("keyed_hash", T.StringType(), False),
        T.StructField("request_reference", T.StringType(), False),
        T.StructField("added_at", T.TimestampType(), False),
    ]
)
PROPERTIES = delta_io.stats_columns_property(["identifier_type", "added_at"])


def suppression_path(settings: Settings) -> str:
    return settings.table_path(*SUPPRESSION_TABLE)


def add(
    spark: SparkSession,
    settings: Settings,
    fingerprint: SubjectFingerprint,
    record_ids: Iterable[str],
    key: bytes,
    request_reference: str,
) -> int:
    """Add the subject's email and phone hashes and record ids (hashed); idempotent (MERGE)."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = [("email", h, request_reference, now) for h in sorted(fingerprint.email_hashes)]
    rows += [("phone", h, request_reference, now) for h in sorted(fingerprint.phone_hashes)]
    rows += [("record", keyed_hash(r, key), request_reference, now) for r in sorted(set(record_ids))]
    if not rows:
        return 0
    new = spark.createDataFrame(rows, SCHEMA)
    path = suppression_path(settings)
    delta_io.ensure_table(spark, path, SCHEMA, properties=PROPERTIES)
    from delta.tables import DeltaTable

    (
        DeltaTable.forPath(spark, path).alias("s")
        .merge(new.alias("n"), "s.identifier_type = n.identifier_type AND s.keyed_hash = n.keyed_hash")
        .whenNotMatchedInsertAll()
        .execute()
    )
    return len(rows)


def load_hashes(spark: SparkSession, settings: Settings) -> dict[str, set[str]]:
    """{identifier type: keyed hashes}; empty when nobody was ever erased."""
    path = suppression_path(settings)
    if not delta_io.table_exists(spark, path):
        return {}
    hashes: dict[str, set[str]] = {}
    for row in spark.read.format("delta").load(path).select("identifier_type", "keyed_hash").collect():
        hashes.setdefault(row.identifier_type, set()).add(row.keyed_hash)
    return hashes


def email_key_column(column: Column) -> Column:
    normalised = F.lower(F.trim(column))
    return F.when(normalised != "", normalised)


def phone_key_column(column: Column) -> Column:
    digits = F.regexp_replace(column, r"\D", "")
    return F.when(F.length(digits) >= PHONE_KEY_DIGITS, F.substring(digits, -PHONE_KEY_DIGITS, PHONE_KEY_DIGITS))


def suppressed_condition(contract: SourceContract, hashes: dict[str, set[str]], key: bytes) -> Column | None:
    """A boolean column over a bronze row of ``contract``: is the row of a suppressed person?"""
    conditions = []
    mapped = contract.mapped_columns if contract.kind == "person" else {}
    for field, kind, normalise in (("email", "email", email_key_column), ("phone", "phone", phone_key_column)):
        expression = mapped.get(field)
        if expression and hashes.get(kind):
            value = normalise(F.expr(f"cast(({expression}) as string)"))
            conditions.append(keyed_hash_column(value, key).isin(sorted(hashes[kind])))
    if hashes.get("record"):
        if contract.kind == "person":
            record = F.concat(F.lit(f"{contract.name}:"), F.expr(f"cast(({contract.primary_key}) as string)"))
        elif contract.person_ref is not None:
            record = F.concat(F.lit(f"{contract.person_ref.source}:"), F.expr(f"cast(({contract.person_ref.key}) as string)"))
        else:
            record = None
        if record is not None:
            conditions.append(keyed_hash_column(record, key).isin(sorted(hashes["record"])))
    if not conditions:
        return None
    condition = conditions[0]
    for c in conditions[1:]:
        condition = condition | c
    return F.coalesce(condition, F.lit(False))


def drop_suppressed(
    bronze: DataFrame, contract: SourceContract, hashes: dict[str, set[str]], key: bytes
) -> tuple[DataFrame, DataFrame | None]:
    """(rows to keep, suppressed rows' ``_source_file`` for counting, or None if none can match)."""
    condition = suppressed_condition(contract, hashes, key)
    if condition is None:
        return bronze, None
    flagged = bronze.withColumn("_suppressed", condition)
    return flagged.where(~F.col("_suppressed")).drop("_suppressed"), flagged.where("_suppressed").select("_source_file")
