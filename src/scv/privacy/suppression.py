"""The suppression list: keyed hashes of erased identifiers, checked when rows enter bronze.

``privacy/suppression`` holds one row per erased identifier: its kind, its keyed hash
(HMAC-SHA256, see :mod:`scv.privacy.subject` for the normalisation), the request reference and
when it was added. No raw identifier is stored, so the list itself is not personal data to
anyone without the key. Kinds:

- ``email``: an email only the erased person held;
- ``email_name``: an email other people hold too (a family address), paired with one of the
  erased person's first-name tokens (:func:`scv.privacy.subject.pair_hash`);
- ``phone_name``: a phone key paired with one of the erased person's first-name tokens. Phones
  are always paired: households share landlines, and a number alone would drop the rows of
  everyone living with the erased person, now and in any later delivery;
- ``record``: a source record id such as ``crm:123``.

The rule (:func:`drop_suppressed`, at bronze ingest): a row of a person source is suppressed when
the keyed hash of its mapped email is listed, or its email or phone paired with any first-name
token of its mapped ``first_name``/``full_name`` is listed, or its ``<source>:<primary key>``
is listed; a row of an event source when its person reference is. So the erased person's old
rows are dropped, and a household member sharing their landline (another first name) is kept.
Limit: a household member with the same first name and the same phone is dropped too. Dropped
rows are counted, never stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from scv import delta_io
from scv.config import Settings
from scv.contracts import SourceContract
from scv.privacy.keyed_hash import keyed_hash, keyed_hash_column
from scv.privacy.subject import PHONE_KEY_DIGITS, SubjectFingerprint, name_tokens, pair_hash

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
    """Add the subject's identifiers (kinds in the module docs) and record ids; idempotent (MERGE)."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    own_emails = fingerprint.email_hashes - fingerprint.shared_hashes
    shared_emails = fingerprint.email_hashes & fingerprint.shared_hashes
    rows = [("email", h, request_reference, now) for h in sorted(own_emails)]
    rows += [("email_name", h, request_reference, now) for h in sorted(fingerprint.pair_hashes(shared_emails, key))]
    rows += [("phone_name", h, request_reference, now) for h in sorted(fingerprint.pair_hashes(fingerprint.phone_hashes, key))]
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


def _pair_listed_udf(listed: set[str], key: bytes):
    """Vectorised: is (identifier key, any first-name token of the names text) a listed pair?"""

    @F.pandas_udf(T.BooleanType())
    def pair_listed(identifiers: pd.Series, names: pd.Series) -> pd.Series:
        def check(identifier, text) -> bool:
            if not isinstance(identifier, str) or not isinstance(text, str):
                return False
            identifier_hash = keyed_hash(identifier, key)
            return any(pair_hash(identifier_hash, keyed_hash(t, key), key) in listed for t in name_tokens(text))

        return pd.Series([check(i, t) for i, t in zip(identifiers, names)], index=identifiers.index, dtype=bool)

    return pair_listed


def suppressed_condition(contract: SourceContract, hashes: dict[str, set[str]], key: bytes) -> Column | None:
    """A boolean column over a bronze row of ``contract``: is the row of a suppressed person?
    (The rule is in the module docs.)"""
    conditions = []
    mapped = contract.mapped_columns if contract.kind == "person" else {}

    def mapped_text(field: str) -> Column | None:
        expression = mapped.get(field)
        return F.expr(f"cast(({expression}) as string)") if expression else None

    email = email_key_column(mapped_text("email")) if mapped.get("email") else None
    phone = phone_key_column(mapped_text("phone")) if mapped.get("phone") else None
    name_parts = [c for c in (mapped_text("first_name"), mapped_text("full_name")) if c is not None]
    names = F.concat_ws(" ", *name_parts) if name_parts else None
    if email is not None and hashes.get("email"):
        conditions.append(keyed_hash_column(email, key).isin(sorted(hashes["email"])))
    if names is not None:
        for kind, identifier in (("email_name", email), ("phone_name", phone)):
            if identifier is not None and hashes.get(kind):
                conditions.append(_pair_listed_udf(set(hashes[kind]), key)(identifier, names))
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
    condition = F.coalesce(conditions[0], F.lit(False))
    for c in conditions[1:]:
        condition = condition | F.coalesce(c, F.lit(False))
    return condition


def drop_suppressed(
    bronze: DataFrame, contract: SourceContract, hashes: dict[str, set[str]], key: bytes
) -> tuple[DataFrame, DataFrame | None]:
    """(rows to keep, suppressed rows' ``_source_file`` for counting, or None if none can match)."""
    condition = suppressed_condition(contract, hashes, key)
    if condition is None:
        return bronze, None
    flagged = bronze.withColumn("_suppressed", condition)
    return flagged.where(~F.col("_suppressed")).drop("_suppressed"), flagged.where("_suppressed").select("_source_file")
