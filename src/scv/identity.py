"""Persistent customer ids across runs, from this run's clusters and the previous assignment.

Rules (each deterministic, so a rerun with the same inputs gives the same ids):
- A cluster whose records had no customer id gets a new one derived from its smallest record id.
- Each previous customer id has a *home*: the new cluster holding most of its records (ties:
  the cluster with the smallest record id). A cluster keeps the id of the customers whose home
  it is; when that is several (a merge), the oldest id survives (earliest ``first_seen``, then the
  smallest id) and the others are recorded as merged into it.
- When a customer's records spread over several clusters (a split), the home cluster (the
  largest part) keeps the id; every other part gets a new id and the split is recorded.

Input frames: ``clusters`` (record_id, cluster_id) for every current record, and ``previous``
(record_id, customer_id, customer_first_seen) or None on the first run.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

HISTORY_EVENTS = ("created", "merged", "split")


def new_customer_id(record_id_column: F.Column) -> F.Column:
    """A fresh id from a cluster's smallest record id (stable for the same cluster)."""
    return F.concat(F.lit("C"), F.substring(F.sha2(record_id_column, 256), 1, 15))


def assign_customer_ids(
    clusters: DataFrame,
    previous: DataFrame | None,
    logical_date: dt.date,
) -> tuple[DataFrame, DataFrame]:
    """Returns (assignment, history).

    assignment: record_id, cluster_id, customer_id, customer_first_seen.
    history: event, customer_id, other_customer_id, records (one row per created, merged and
    split id of this run).
    """
    today = F.lit(logical_date).cast("date")
    anchor = clusters.groupBy("cluster_id").agg(F.min("record_id").alias("anchor_record_id"), F.count("*").alias("size"))

    if previous is None:
        previous = clusters.sparkSession.createDataFrame([], "record_id string, customer_id string, customer_first_seen date")
    prev = previous.select("record_id", F.col("customer_id").alias("old_id"), F.col("customer_first_seen").alias("old_first_seen"))

    overlap = (
        clusters.join(prev, "record_id")
        .groupBy("cluster_id", "old_id")
        .agg(F.count("*").alias("n"), F.min("old_first_seen").alias("old_first_seen"))
        .join(anchor, "cluster_id")
    )
    by_old = Window.partitionBy("old_id").orderBy(F.desc("n"), F.asc("anchor_record_id"))
    ranked = overlap.withColumn("rank_in_old", F.row_number().over(by_old))
    homes = ranked.where("rank_in_old = 1").drop("rank_in_old")
    by_cluster = Window.partitionBy("cluster_id").orderBy(F.asc("old_first_seen"), F.asc("old_id"))
    homes = homes.withColumn("rank_in_cluster", F.row_number().over(by_cluster))
    survivors = homes.where("rank_in_cluster = 1").select(
        "cluster_id", F.col("old_id").alias("customer_id"), F.col("old_first_seen").alias("customer_first_seen")
    )

    assigned = (
        anchor.join(survivors, "cluster_id", "left")
        .withColumn("is_new", F.col("customer_id").isNull())
        .withColumn("customer_id", F.coalesce("customer_id", new_customer_id(F.col("anchor_record_id"))))
        .withColumn("customer_first_seen", F.coalesce("customer_first_seen", today))
    )
    assignment = clusters.join(assigned.select("cluster_id", "customer_id", "customer_first_seen"), "cluster_id")

    cluster_ids = assigned.select("cluster_id", F.col("customer_id").alias("new_id"), "size", "is_new")
    created = cluster_ids.where("is_new").select(
        F.lit("created").alias("event"), F.col("new_id").alias("customer_id"), F.lit(None).cast("string").alias("other_customer_id"),
        F.col("size").cast("long").alias("records"),
    )
    merged = (
        homes.where("rank_in_cluster > 1")
        .join(cluster_ids, "cluster_id")
        .select(F.lit("merged").alias("event"), F.col("old_id").alias("customer_id"), F.col("new_id").alias("other_customer_id"), F.col("n").cast("long").alias("records"))
    )
    split = (
        ranked.where("rank_in_old > 1")
        .join(cluster_ids, "cluster_id")
        .where(F.col("new_id") != F.col("old_id"))
        .select(F.lit("split").alias("event"), F.col("old_id").alias("customer_id"), F.col("new_id").alias("other_customer_id"), F.col("n").cast("long").alias("records"))
    )
    history = created.unionByName(merged).unionByName(split)
    return assignment, history
