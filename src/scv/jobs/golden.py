"""Golden-record jobs: stage the gold tables for a run, then publish them after the gate.

``run`` writes ``staging/customer_xref`` and ``staging/customer_golden`` (full snapshots);
the gold validation gate reads those; ``publish`` MERGEs them into ``gold/``. A failed gate
therefore leaves every gold table at its previous version.
"""

from __future__ import annotations

import logging
import os

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from scv import delta_io
from scv.config import Settings
from scv.golden.publish import merge_snapshot, with_content_hash
from scv.golden.survivorship import build_golden, load_policy, with_record_flags

log = logging.getLogger(__name__)

# Personal columns never get min/max statistics in the Delta log.
XREF_PROPERTIES = delta_io.stats_columns_property(["customer_id", "source_system", "cluster_size"])
GOLDEN_PROPERTIES = delta_io.stats_columns_property(["customer_id", "record_count"])
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


def policy_path(settings: Settings, name: str = "customer_golden") -> str:
    return os.path.join(settings.include_dir, "survivorship", f"{name}.yml")


def run(spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str, policy: str = "customer_golden") -> dict:
    silver = spark.read.format("delta").load(settings.table_path("silver", "person_records"))
    assignment = spark.read.format("delta").load(settings.table_path("silver", "record_customer"))
    records = with_record_flags(silver.join(assignment, "record_id", "inner"))
    golden = build_golden(records, load_policy(policy_path(settings, policy))).persist()
    sources = golden.select("customer_id", F.col("golden_source_record_id").alias("record_id")).withColumn("is_golden_source", F.lit(True))
    xref = (
        records.join(sources, ["customer_id", "record_id"], "left")
        .withColumn("is_golden_source", F.coalesce("is_golden_source", F.lit(False)))
        .select(*XREF_COLUMNS)
    )
    delta_io.overwrite(with_content_hash(xref), settings.table_path("staging", "customer_xref"), properties=XREF_PROPERTIES)
    delta_io.overwrite(with_content_hash(golden), settings.table_path("staging", policy), properties=GOLDEN_PROPERTIES)
    counts = {"customers": golden.count(), "records": records.count()}
    golden.unpersist()
    log.info("staged %s: %d customers from %d records", policy, counts["customers"], counts["records"])
    return {"logical_date": logical_date, "run_id": run_id, **counts}


def publish(spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str, policy: str = "customer_golden") -> dict:
    """MERGE the staged snapshots into gold (after the gold gate passed)."""
    result = {}
    for name, keys, properties in (
        ("customer_xref", ["source_system", "source_record_id"], XREF_PROPERTIES),
        (policy, ["customer_id"], GOLDEN_PROPERTIES),
    ):
        staged = spark.read.format("delta").load(settings.table_path("staging", name))
        result[name] = merge_snapshot(staged, settings.table_path("gold", name), keys, properties)
        log.info("published gold/%s: %s", name, result[name])
    return {"logical_date": logical_date, "run_id": run_id, **result}
