"""Silver events and a customer xref straight from a generated landing zone (tests, demos).

For exercising the propensity pipeline without running ingestion and linkage: events are mapped
as the ``pos`` and ``web_events`` source contracts map them (docs/data-contracts.md), and the
xref is the generator's ground truth (``customer_id`` = true person id), i.e. perfect identity
resolution. Not for production data: real runs read ``silver/events`` and ``gold/customer_xref``.
"""

from __future__ import annotations

import os

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from scv.canonical import EVENT_COLUMNS


def sample_events(spark: SparkSession, landing_root: str) -> DataFrame:
    """``silver/events``-shaped rows (``scv.canonical.EVENT_COLUMNS``) from the landing files."""
    pos = (
        spark.read.option("header", True).option("inferSchema", False).csv(os.path.join(landing_root, "pos"))
        .select(
            F.lit("pos").alias("source_system"),
            F.col("transaction_id").alias("event_id"),
            F.when(F.col("card_no").isNotNull() & (F.col("card_no") != ""), F.concat(F.lit("loyalty:"), "card_no")).alias("person_record_id"),
            F.to_timestamp("transaction_ts").alias("event_time"),
            F.lit("purchase").alias("event_type"),
            F.lit("store").alias("channel"),
            "product_category",
            F.col("amount").cast("double").alias("amount"),
            F.col("quantity").cast("int").alias("quantity"),
        )
    )
    web = (
        spark.read.schema(
            "event_id string, account_id string, event_type string, event_ts string, product_category string, value double"
        ).json(os.path.join(landing_root, "web_events"))
        .select(
            F.lit("web_events").alias("source_system"),
            "event_id",
            F.when(F.col("account_id").isNotNull(), F.concat(F.lit("webshop:"), "account_id")).alias("person_record_id"),
            F.to_timestamp("event_ts").alias("event_time"),
            "event_type",
            F.lit("web").alias("channel"),
            "product_category",
            F.col("value").alias("amount"),
            F.lit(None).cast("int").alias("quantity"),
        )
    )
    return pos.unionByName(web).select(*EVENT_COLUMNS)


def sample_xref(spark: SparkSession, landing_root: str) -> DataFrame:
    """``gold/customer_xref``'s key columns from the ground truth: record_id -> customer_id."""
    truth = spark.read.option("header", True).csv(os.path.join(landing_root, "_truth"))
    return truth.select(
        "source_system",
        "source_record_id",
        F.concat_ws(":", "source_system", "source_record_id").alias("record_id"),
        F.col("person_id").alias("customer_id"),
    ).dropDuplicates(["record_id"])
