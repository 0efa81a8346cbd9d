"""Clustering scored pairs into customers: connected components at a threshold.

Every record of the input becomes exactly one row: linked records share the ``cluster_id`` of
their component, everything else (unlinkable records, companies, records without a strong
enough pair) is a cluster of its own. ``cluster_id`` is the smallest ``record_id`` of the
cluster, so an unchanged cluster gets the same id in every full run.

Like Zingg's ``z_minScore``/``z_maxScore``, each record also gets the lowest and highest
probability of its scored pairs with other members of its cluster. Pairs below the threshold
count too: a low minimum flags a cluster held together only through a chain of other records.
Pairs that were never scored (not blocked together) do not. Singletons have nulls.
"""

from __future__ import annotations

import logging
from typing import Literal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from splink.clustering import cluster_pairwise_predictions_at_threshold

from scv.linkage._backend import SplinkSession, materialise
from scv.linkage.config import LinkageConfig
from scv.linkage.settings import UNIQUE_ID

logger = logging.getLogger(__name__)

ClusteringMethod = Literal["label_propagation", "splink"]

# Far more than the diameter of any person's cluster; hitting it means the graph is not made
# of customers (e.g. one value linking everything) and the run should stop and say so.
MAX_ITERATIONS = 50


def cluster_records(
    spark: SparkSession,
    silver_df: DataFrame,
    pairs_df: DataFrame,
    threshold: float,
    *,
    method: ClusteringMethod = "label_propagation",
    config: LinkageConfig | None = None,
) -> DataFrame:
    """Connected components of the pairs with ``match_probability >= threshold``.

    Returns ``record_id, cluster_id, min_match_probability, max_match_probability`` with one
    row per distinct ``record_id`` of ``silver_df``. ``pairs_df`` needs ``record_id_l``,
    ``record_id_r`` and ``match_probability`` and must score records of ``silver_df``: a pair
    naming another record could still join two clusters through it. ``method`` picks the
    implementation (both give the same clusters; see the report in ``docs`` for timings).
    The result is computed and its lineage cut before returning.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    nodes = silver_df.select(UNIQUE_ID).distinct()
    pairs = pairs_df.select("record_id_l", "record_id_r", "match_probability")
    if method == "label_propagation":
        labels = _label_propagation(pairs.where(F.col("match_probability") >= threshold))
        clusters = _with_probabilities(nodes, labels, pairs)
        result, n = materialise(clusters)
    elif method == "splink":
        with SplinkSession(spark, config or LinkageConfig()) as session:
            labels = _splink_components(session, nodes, pairs, threshold)
            result, n = materialise(_with_probabilities(nodes, labels, pairs))
    else:
        raise ValueError(f"unknown clustering method {method!r}")
    logger.info("clustered %s records at p >= %s", n, threshold)
    return result


def _label_propagation(edges: DataFrame) -> DataFrame:
    """``node, label`` for every node with an edge: label = smallest node of its component.

    Min-label propagation with pointer jumping: each round a node takes the smallest label among
    itself and its neighbours, then the label of that label, which halves the distance labels
    still have to travel, so rounds grow with the log of a cluster's diameter. Each round is
    checkpointed locally to keep query plans from growing with the number of rounds.
    """
    undirected = (
        edges.select(F.col("record_id_l").alias("src"), F.col("record_id_r").alias("dst"))
        .unionByName(
            edges.select(F.col("record_id_r").alias("src"), F.col("record_id_l").alias("dst"))
        )
        .distinct()
        .localCheckpoint(eager=True)
    )
    labels = (
        undirected.groupBy("src")
        .agg(F.min("dst").alias("smallest"))
        .select(F.col("src").alias("node"), F.least("src", "smallest").alias("label"))
        .localCheckpoint(eager=True)
    )
    for iteration in range(1, MAX_ITERATIONS + 1):
        neighbour_labels = (
            undirected.join(labels.withColumnRenamed("node", "dst"), on="dst")
            .groupBy("src")
            .agg(F.min("label").alias("neighbour_label"))
        )
        propagated = labels.join(
            neighbour_labels.withColumnRenamed("src", "node"), on="node"
        ).select("node", F.least("label", "neighbour_label").alias("label"))
        jumped = (
            propagated.alias("p")
            .join(propagated.alias("q"), F.col("p.label") == F.col("q.node"))
            .select(F.col("p.node").alias("node"), F.col("q.label").alias("label"))
        )
        updated = jumped.localCheckpoint(eager=True)
        changed = (
            updated.alias("u")
            .join(labels.alias("o"), "node")
            .where(F.col("u.label") != F.col("o.label"))
            .count()
        )
        labels = updated
        if changed == 0:
            logger.debug("label propagation converged after %s rounds", iteration)
            return labels
    raise RuntimeError(
        f"connected components did not converge in {MAX_ITERATIONS} rounds: the match graph "
        "has an implausibly long chain of links; inspect the pairs above the threshold"
    )


def _splink_components(
    session: SplinkSession, nodes: DataFrame, pairs: DataFrame, threshold: float
) -> DataFrame:
    """``node, label`` from Splink's connected components (restricted to linked nodes)."""
    linked = pairs.where(F.col("match_probability") >= threshold)
    linked_nodes = (
        linked.select(F.col("record_id_l").alias(UNIQUE_ID))
        .union(linked.select(F.col("record_id_r").alias(UNIQUE_ID)))
        .distinct()
    )
    components = cluster_pairwise_predictions_at_threshold(
        session.register(linked_nodes, "nodes"),
        session.register(linked, "edges"),
        db_api=session.db_api,
        node_id_column_name=UNIQUE_ID,
        threshold_match_probability=threshold,
    )
    return components.as_spark_dataframe().select(
        F.col(UNIQUE_ID).alias("node"), F.col("cluster_id").alias("label")
    )


def _with_probabilities(nodes: DataFrame, labels: DataFrame, pairs: DataFrame) -> DataFrame:
    """Every node with its cluster id and the min/max probability of its in-cluster pairs."""
    in_cluster = (
        pairs.join(
            labels.select(F.col("node").alias("record_id_l"), F.col("label").alias("label_l")),
            "record_id_l",
        )
        .join(
            labels.select(F.col("node").alias("record_id_r"), F.col("label").alias("label_r")),
            "record_id_r",
        )
        .where(F.col("label_l") == F.col("label_r"))
    )
    ends = in_cluster.select(
        F.col("record_id_l").alias(UNIQUE_ID), "match_probability"
    ).unionByName(in_cluster.select(F.col("record_id_r").alias(UNIQUE_ID), "match_probability"))
    extremes = ends.groupBy(UNIQUE_ID).agg(
        F.min("match_probability").alias("min_match_probability"),
        F.max("match_probability").alias("max_match_probability"),
    )
    return (
        nodes.join(labels.withColumnRenamed("node", UNIQUE_ID), UNIQUE_ID, "left")
        .join(extremes, UNIQUE_ID, "left")
        .select(
            UNIQUE_ID,
            F.coalesce("label", UNIQUE_ID).alias("cluster_id"),
            "min_match_probability",
            "max_match_probability",
        )
    )
