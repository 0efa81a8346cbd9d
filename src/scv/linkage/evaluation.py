"""Pairwise accuracy of a clustering against ground truth, computed in Spark.

A pair of records is *predicted* when both are in one cluster and *true* when both belong to one
person. Pairs are never enumerated: a group of n records holds n(n-1)/2 pairs, so every figure
is a sum over group sizes, linear in the number of records even for very large clusters.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from scv.linkage.settings import UNIQUE_ID


def pairwise_metrics(
    predicted_clusters_df: DataFrame,
    truth_df: DataFrame,
    *,
    cluster_column: str = "cluster_id",
    truth_column: str = "person_id",
) -> dict[str, float | int]:
    """Pairwise ``precision``, ``recall``, ``f1`` and the pair counts ``tp``, ``fp``, ``fn``.

    ``predicted_clusters_df`` has ``record_id`` and ``cluster_column``; ``truth_df`` has
    ``record_id`` and ``truth_column``. Only records present in both with non-null labels are
    scored. With no predicted pairs precision is 1.0 (nothing was wrongly linked); with no true
    pairs recall is 1.0 (nothing could be missed).
    """
    cells = (
        _joined(predicted_clusters_df, truth_df, cluster_column, truth_column)
        .groupBy(cluster_column, truth_column)
        .agg(F.count("*").alias("n"))
    )
    per_cluster = cells.groupBy(cluster_column).agg(F.sum("n").alias("n"))
    per_person = cells.groupBy(truth_column).agg(F.sum("n").alias("n"))
    row = (
        cells.agg(_pair_count().alias("tp"))
        .crossJoin(per_cluster.agg(_pair_count().alias("predicted")))
        .crossJoin(per_person.agg(_pair_count().alias("true")))
        .first()
    )
    tp, predicted, true = (int(row[name] or 0) for name in ("tp", "predicted", "true"))
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": predicted - tp,
        "fn": true - tp,
    }


def hard_negative_merges(
    predicted_clusters_df: DataFrame,
    truth_df: DataFrame,
    group_column: str,
    *,
    cluster_column: str = "cluster_id",
    truth_column: str = "person_id",
) -> int:
    """Pairs of *different* people sharing ``group_column`` (a household, a twin group) that
    were put in one cluster: the hard negatives the model must keep apart."""
    cells = (
        _joined(predicted_clusters_df, truth_df, cluster_column, truth_column, group_column)
        .groupBy(cluster_column, group_column, truth_column)
        .agg(F.count("*").alias("n"))
    )
    per_group = cells.groupBy(cluster_column, group_column).agg(F.sum("n").alias("n"))
    row = (
        per_group.agg(_pair_count().alias("same_group"))
        .crossJoin(cells.agg(_pair_count().alias("same_person")))
        .first()
    )
    return int(row["same_group"] or 0) - int(row["same_person"] or 0)


def _joined(
    predicted: DataFrame, truth: DataFrame, cluster_column: str, *truth_columns: str
) -> DataFrame:
    return (
        predicted.select(UNIQUE_ID, cluster_column)
        .join(truth.select(UNIQUE_ID, *truth_columns), UNIQUE_ID)
        .dropna(subset=[cluster_column, *truth_columns])
    )


def _pair_count() -> Column:
    """Pairs within groups whose sizes are in column ``n``: sum of n(n-1)/2."""
    return F.sum(F.col("n") * (F.col("n") - 1) / 2).cast("long")
