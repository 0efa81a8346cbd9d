"""Golden-record jobs: stage the gold tables for a run, then publish them after the gate.

``run`` writes, for every definition in ``include/survivorship/`` (see :mod:`scv.golden.policy`),
``staging/<table>`` (analytics, pseudonymised) and ``staging/<pii_table>`` (restricted personal
values), plus ``staging/customer_xref``: full snapshots from the same clusters. The gold
validation gates read those; ``publish`` MERGEs them into ``gold/``. A failed gate therefore
leaves every gold table at its previous version.
"""

from __future__ import annotations

import logging
import os

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from scv import delta_io
from scv.config import Settings
from scv.golden.policy import PRIMARY_TABLE, SurvivorshipPolicy, load_definitions
from scv.golden.pseudonymise import ANALYTICS_STATS_COLUMNS, PII_STATS_COLUMNS, split_personal
from scv.golden.publish import merge_snapshot, with_content_hash
from scv.golden.survivorship import build_golden, with_record_flags

log = logging.getLogger(__name__)

# Personal columns never get min/max statistics in the Delta log.
XREF_PROPERTIES = delta_io.stats_columns_property(["customer_id", "source_system", "cluster_size"])
GOLDEN_PROPERTIES = delta_io.stats_columns_property(ANALYTICS_STATS_COLUMNS)
PII_PROPERTIES = delta_io.stats_columns_property(PII_STATS_COLUMNS)
XREF_COLUMNS = (
    "source_system",
    "source_record_id",
    "record_id",
    "customer_id",
    "match_probability_min",
    "match_probability_max",
    "cluster_size",
    "is_linkable",
    "is_company",
    "record_null_count",
    "is_most_complete",
    "is_most_recent",
    "is_golden_source",
    "duplicate_count",
    "is_duplicate",
    "model_version",
)
SUPPRESSION_TABLE = ("privacy", "suppression")


def definitions_dir(settings: Settings) -> str:
    return os.path.join(settings.include_dir, "survivorship")


def definitions(settings: Settings) -> list[SurvivorshipPolicy]:
    return load_definitions(definitions_dir(settings))


def gold_tables(settings: Settings) -> list[tuple[str, list[str], dict[str, str]]]:
    """(table, MERGE keys, properties) of every table ``run`` stages and ``publish`` publishes."""
    tables = [("customer_xref", ["source_system", "source_record_id"], XREF_PROPERTIES)]
    for policy in definitions(settings):
        tables.append((policy.table, ["customer_id"], GOLDEN_PROPERTIES))
        tables.append((policy.pii_table, ["customer_id"], PII_PROPERTIES))
    return tables


def _suppression(spark: SparkSession, settings: Settings):
    path = settings.table_path(*SUPPRESSION_TABLE)
    return spark.read.format("delta").load(path) if delta_io.table_exists(spark, path) else None


def run(spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str) -> dict:
    """Stage every golden definition, its personal table and the cross-reference.

    Needs the HMAC key (:func:`scv.privacy.keyed_hash.resolve_hmac_key`) for the keyed hashes.
    """
    from scv.privacy.keyed_hash import resolve_hmac_key

    key = resolve_hmac_key()
    silver = spark.read.format("delta").load(settings.table_path("silver", "person_records"))
    assignment = spark.read.format("delta").load(settings.table_path("silver", "record_customer"))
    records = with_record_flags(silver.join(assignment, "record_id", "inner")).persist()
    suppression = _suppression(spark, settings)
    summary: dict = {"logical_date": logical_date, "run_id": run_id, "records": records.count(), "definitions": {}}
    policies = definitions(settings)
    primary = next((p for p in policies if p.table == PRIMARY_TABLE), policies[0])
    for policy in policies:
        golden = build_golden(records, policy).persist()
        if policy is primary:
            sources = golden.select("customer_id", F.col("golden_source_record_id").alias("record_id"))
            xref = (
                records.join(sources.withColumn("is_golden_source", F.lit(True)), ["customer_id", "record_id"], "left")
                .withColumn("is_golden_source", F.coalesce("is_golden_source", F.lit(False)))
                .select(*XREF_COLUMNS)
            )
            delta_io.overwrite(with_content_hash(xref), settings.table_path("staging", "customer_xref"), properties=XREF_PROPERTIES)
        analytics, personal = split_personal(golden, key, suppression)
        delta_io.overwrite(with_content_hash(analytics), settings.table_path("staging", policy.table), properties=GOLDEN_PROPERTIES)
        delta_io.overwrite(with_content_hash(personal), settings.table_path("staging", policy.pii_table), properties=PII_PROPERTIES)
        staged = spark.read.format("delta").load(settings.table_path("staging", policy.table))
        counts = staged.agg(
            F.count("*").alias("customers"),
            F.sum(F.col("email_contactable").cast("int")).alias("email_contactable"),
            F.sum(F.col("postal_contactable").cast("int")).alias("postal_contactable"),
        ).first()
        summary["definitions"][policy.table] = {k: int(counts[k] or 0) for k in ("customers", "email_contactable", "postal_contactable")}
        golden.unpersist()
        log.info("staged %s and %s: %s", policy.table, policy.pii_table, summary["definitions"][policy.table])
    records.unpersist()
    summary["customers"] = summary["definitions"][primary.table]["customers"]
    return summary


def publish(spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str) -> dict:
    """MERGE every staged snapshot into gold (after the gold gates passed); idempotent."""
    result = {}
    for name, keys, properties in gold_tables(settings):
        staged = spark.read.format("delta").load(settings.table_path("staging", name))
        result[name] = merge_snapshot(staged, settings.table_path("gold", name), keys, properties)
        log.info("published gold/%s: %s", name, result[name])
    return {"logical_date": logical_date, "run_id": run_id, **result}
