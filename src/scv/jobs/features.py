"""Customer features job: ``gold/customer_features`` as of a logical date.

Reads ``silver/events`` and ``gold/customer_xref``, computes one row per customer as of the
logical date (events strictly before it; see :mod:`scv.features.customer`) with the product
groups of ``include/propensity/product_groups.yml``, and replaces that date's partition.
"""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from scv import delta_io
from scv.config import Settings
from scv.features import customer_features
from scv.jobs import parse_date
from scv.propensity.config import config_path, load_config

log = logging.getLogger(__name__)

FEATURES_TABLE = ("gold", "customer_features")
# No personal data here; statistics only on the key readers look up (dates are partitions).
FEATURES_PROPERTIES = delta_io.stats_columns_property(["customer_id"])


def run(spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str) -> dict:
    """Write the features of every customer as of ``logical_date`` into ``gold/customer_features``.

    Idempotent: the ``as_of_date`` partition is replaced atomically (``replaceWhere``), other dates
    are untouched, and a rerun writes the same rows. A group added to the YAML adds columns (the
    schema is merged; older dates read them as null).
    """
    as_of = parse_date(logical_date)
    config = load_config(config_path(settings.include_dir))
    events = spark.read.format("delta").load(settings.table_path("silver", "events"))
    xref = spark.read.format("delta").load(settings.table_path("gold", "customer_xref"))
    features = customer_features(events, xref, as_of, config.groups, config.features)
    path = settings.table_path(*FEATURES_TABLE)
    delta_io.replace_where(
        features,
        path,
        f"as_of_date = {delta_io.sql_literal(as_of.isoformat())}",
        partition_by=["as_of_date"],
        properties=FEATURES_PROPERTIES,
        merge_schema=True,
    )
    written = spark.read.format("delta").load(path).where(F.col("as_of_date") == F.lit(as_of))
    counts = written.agg(
        F.count("*").alias("customers"),
        F.sum(F.when(F.col("days_since_last_purchase").isNotNull(), 1).otherwise(0)).alias("customers_with_purchases"),
    ).first()
    summary = {
        "logical_date": logical_date,
        "run_id": run_id,
        "as_of_date": as_of.isoformat(),
        "customers": int(counts["customers"] or 0),
        "customers_with_purchases": int(counts["customers_with_purchases"] or 0),
        "groups": list(config.group_names),
        "columns": len(features.columns),
    }
    log.info("gold/customer_features as of %s: %s", as_of, summary)
    return summary
