"""Clustering scored pairs into customers: connected components at a threshold.

Every record of the input becomes exactly one row: records linked by pairs at or above the
threshold (and not a ``conflict``, see :class:`LinkageConfig`) share the ``cluster_id`` of
their component, everything else (unlinkable records, companies, records without a strong
enough pair) is a cluster of its own. ``cluster_id`` is the smallest ``record_id`` of the
cluster, so an unchanged cluster gets the same id in every full run.

Like Zingg's ``z_minScore``/``z_maxScore``, each record also gets the lowest and highest
probability of its scored pairs with other members of its cluster. Pairs below the threshold
count too: a low minimum flags a cluster held together only through a chain of other records.
Pairs that were never scored (not blocked together) do not. Singletons have nulls.

The two records of a ``conflict`` pair are two people: with ``config.keep_conflicts_apart``
no chain of links may join them either (they are treated as forced splits, below). Conflicts
are also looked for *inside* every cluster (``config.cluster_conflicts``): two members whose
dates of birth conflict are kept apart the same way, whether or not they were ever scored as a
pair. A father and his namesake son at one address are the typical case: the son's record links
to the father's records that have no date of birth, and only the two dated records, never
scored together, show they are two people.

Steward labels (``labels``: ``record_id_l, record_id_r, is_match``) override the model: a
forced link joins its two records whatever their score; a forced split keeps its two records
apart even when other links would connect them transitively. Components holding a forced split
are re-clustered on the driver by a greedy merge of their links, strongest first, that skips any
merge joining two records a steward split (forced links go first). Only those components move
to the driver, and they are few: each needs a steward's decision.
"""

from __future__ import annotations

import logging
from typing import Literal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from splink.clustering import cluster_pairwise_predictions_at_threshold

from scv.linkage._backend import SplinkSession, materialise, scratch_directory
from scv.linkage.config import LinkageConfig
from scv.linkage.settings import UNIQUE_ID

logger = logging.getLogger(__name__)

ClusteringMethod = Literal["auto", "driver", "label_propagation", "splink"]

# Rounds grow with log2 of a cluster's diameter; 30 would take a chain of about a billion
# records, so hitting it means something is wrong and the run should stop and say so.
MAX_ITERATIONS = 30


def cluster_records(
    spark: SparkSession,
    silver_df: DataFrame,
    pairs_df: DataFrame,
    threshold: float,
    *,
    method: ClusteringMethod = "auto",
    config: LinkageConfig | None = None,
    labels: DataFrame | None = None,
) -> DataFrame:
    """Connected components of the pairs with ``match_probability >= threshold`` that are not
    a ``conflict`` (when ``pairs_df`` has that column, as :func:`predict_pairs` output does).

    Returns ``record_id, cluster_id, min_match_probability, max_match_probability`` with one
    row per distinct ``record_id`` of ``silver_df``. ``pairs_df`` needs ``record_id_l``,
    ``record_id_r`` and ``match_probability`` and must score records of ``silver_df``: a pair
    naming another record could still join two clusters through it. ``method`` picks the
    implementation; all give the same clusters. ``"driver"`` collects the links (two ids each,
    as Arrow) and runs union-find in the driver: a handful of Spark jobs instead of a dozen
    rounds of joins (at 100,000 generated people, 232k links: about 2 s instead of 25 s).
    ``"label_propagation"`` stays distributed for graphs too large for the driver, and
    ``"auto"`` (default) uses ``"driver"`` up to ``config.driver_clustering_max_links`` links and
    label propagation above.
    ``labels`` are steward decisions (see the module docstring). The result is computed and
    its lineage cut before returning.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    nodes = silver_df.select(UNIQUE_ID).distinct()
    conflict = F.col("conflict") if "conflict" in pairs_df.columns else F.lit(False)
    pairs = pairs_df.select(
        "record_id_l",
        "record_id_r",
        "match_probability",
        F.coalesce(conflict, F.lit(False)).alias("conflict"),
    )
    links = pairs.where((F.col("match_probability") >= threshold) & ~F.col("conflict"))
    config = config or LinkageConfig()
    # Records of a conflicting pair are two people: not even a chain of other links may join
    # them (twins linked through a shared family e-mail record, for example).
    splits = (
        pairs.where("conflict").select("record_id_l", "record_id_r")
        if config.keep_conflicts_apart
        else None
    )
    forced_links = None
    if labels is not None:
        # Labels naming records that are gone (erased, retired) must not join anything.
        present = labels.join(
            nodes.withColumnRenamed(UNIQUE_ID, "record_id_l"), "record_id_l", "left_semi"
        ).join(nodes.withColumnRenamed(UNIQUE_ID, "record_id_r"), "record_id_r", "left_semi")
        links, splits = _apply_labels(links, present, splits)
        forced_links = _ordered(present.where("is_match"))

    def keep_apart(components: DataFrame) -> DataFrame:
        if not _cluster_conflicts_apply(silver_df, config):
            return _enforce_splits(spark, components, links, splits)
        # Both are read by several jobs below: computed once (the conflicts are few pairs;
        # components built on the driver would otherwise be shipped again with every task).
        components = components.localCheckpoint()
        conflicts = _cluster_conflicts(components, silver_df, forced_links, config).localCheckpoint()
        return _enforce_splits(
            spark, components, links, conflicts if splits is None else splits.unionByName(conflicts)
        )

    if method in ("auto", "driver"):
        limit = config.driver_clustering_max_links if method == "auto" else None
        components = _driver_components(spark, links, limit)
        if components is not None:
            components = keep_apart(components)
            result, n = materialise(_with_probabilities(nodes, components, pairs))
            logger.info("clustered %s records at p >= %s (union-find on the driver)", n, threshold)
            return result
        method = "label_propagation"
    if method == "label_propagation":
        with scratch_directory(spark, config) as directory:
            components = keep_apart(_label_propagation(links, directory))
            result, n = materialise(_with_probabilities(nodes, components, pairs))
    elif method == "splink":
        with SplinkSession(spark, config) as session:
            components = keep_apart(_splink_components(session, links, threshold))
            result, n = materialise(_with_probabilities(nodes, components, pairs))
    else:
        raise ValueError(f"unknown clustering method {method!r}")
    logger.info("clustered %s records at p >= %s", n, threshold)
    return result


# Forced links rank above any probability when components holding a forced split are rebuilt.
_FORCED_LINK_RANK = 2.0


def _ordered(pairs: DataFrame) -> DataFrame:
    """``pairs`` with the smaller record id on the left (other columns kept)."""
    return pairs.withColumns({
        "record_id_l": F.least("record_id_l", "record_id_r"),
        "record_id_r": F.greatest("record_id_l", "record_id_r"),
    })


def _apply_labels(
    links: DataFrame, labels: DataFrame, conflicts: DataFrame | None
) -> tuple[DataFrame, DataFrame]:
    """Links with forced links added and forced splits removed, and the pairs to keep apart:
    forced splits and the ``conflicts`` no steward linked."""
    ordered = _ordered(labels).select("record_id_l", "record_id_r", "is_match")
    splits = ordered.where(~F.col("is_match")).select("record_id_l", "record_id_r")
    forced = ordered.where(F.col("is_match")).select(
        "record_id_l",
        "record_id_r",
        F.lit(_FORCED_LINK_RANK).alias("match_probability"),
        F.lit(False).alias("conflict"),
    )
    kept = links.join(splits, ["record_id_l", "record_id_r"], "left_anti")
    if conflicts is not None:
        splits = splits.unionByName(
            conflicts.join(forced, ["record_id_l", "record_id_r"], "left_anti")
        )
    return kept.unionByName(forced.select(*kept.columns)), splits


def _cluster_conflicts_apply(records: DataFrame, config: LinkageConfig) -> bool:
    return "date_of_birth" in config.cluster_conflicts and "date_of_birth" in records.columns


def _cluster_conflicts(
    components: DataFrame, records: DataFrame, forced_links: DataFrame | None, config: LinkageConfig
) -> DataFrame:
    """``record_id_l, record_id_r`` of two members of one component whose dates of birth
    conflict (see ``LinkageConfig.cluster_conflicts``), except pairs a steward linked. Only
    called when :func:`_cluster_conflicts_apply`."""
    dated = components.join(
        records.select(F.col(UNIQUE_ID).alias("node"), "date_of_birth")
        .where(F.col("date_of_birth").isNotNull())
        .dropDuplicates(["node"]),
        "node",
    )
    sizes = dated.groupBy("label").agg(F.count("*").alias("dated"))
    oversized = sizes.where(F.col("dated") > config.cluster_conflict_max_records).collect()
    if oversized:
        logger.warning(
            "cluster conflicts: %s cluster(s) with more than %s dated records not checked "
            "(largest: %s); they need a steward", len(oversized),
            config.cluster_conflict_max_records, max(row.dated for row in oversized),
        )
    checked = dated.join(
        sizes.where(F.col("dated").between(2, config.cluster_conflict_max_records)), "label", "left_semi"
    )
    left = checked.select("label", F.col("node").alias("record_id_l"), F.col("date_of_birth").alias("dob_l"))
    right = checked.select("label", F.col("node").alias("record_id_r"), F.col("date_of_birth").alias("dob_r"))
    conflicts = (
        left.join(right, "label")
        .where(F.col("record_id_l") < F.col("record_id_r"))
        .where(
            (F.year("dob_l") != F.year("dob_r"))
            & ~((F.month("dob_l") == F.month("dob_r")) & (F.dayofmonth("dob_l") == F.dayofmonth("dob_r")))
        )
        .select("record_id_l", "record_id_r")
    )
    if forced_links is not None:
        conflicts = conflicts.join(
            forced_links.select("record_id_l", "record_id_r"), ["record_id_l", "record_id_r"], "left_anti"
        )
    return conflicts


def _enforce_splits(
    spark: SparkSession, components: DataFrame, links: DataFrame, splits: DataFrame | None
) -> DataFrame:
    """``components`` (node, label) with every component that still holds both records of a
    forced split rebuilt so that none does (see the module docstring)."""
    if splits is None:
        return components
    label_of = components.select(F.col("node"), F.col("label"))
    violated = (
        splits.join(label_of.withColumnRenamed("node", "record_id_l"), "record_id_l")
        .join(
            label_of.withColumnRenamed("node", "record_id_r").withColumnRenamed("label", "label_r"),
            "record_id_r",
        )
        .where(F.col("label") == F.col("label_r"))
        .select("label")
        .distinct()
    )
    affected_nodes = label_of.join(violated, "label", "left_semi")
    members = [row.node for row in affected_nodes.select("node").collect()]
    if not members:
        return components
    member_set = set(members)
    edges = sorted(
        (
            (-float(row.match_probability), row.record_id_l, row.record_id_r)
            for row in links.join(
                affected_nodes.select(F.col("node").alias("record_id_l")), "record_id_l", "left_semi"
            ).collect()
            if row.record_id_r in member_set
        ),
    )
    cannot = {
        (row.record_id_l, row.record_id_r)
        for row in splits.collect()
        if row.record_id_l in member_set and row.record_id_r in member_set
    }
    rebuilt = _constrained_components(members, edges, cannot)
    logger.info(
        "forced splits: %s component(s) of %s records rebuilt into %s",
        violated.count(),
        len(members),
        len(set(rebuilt.values())),
    )
    overrides = spark.createDataFrame(
        sorted(rebuilt.items()), "node string, new_label string"
    )
    return (
        components.join(overrides, "node", "left")
        .select("node", F.coalesce("new_label", "label").alias("label"))
    )


def _constrained_components(
    members: list[str], edges: list[tuple[float, str, str]], cannot: set[tuple[str, str]]
) -> dict[str, str]:
    """Greedy union-find over ``edges`` (sorted strongest first) that never puts both records
    of a ``cannot`` pair in one set; every member's label is its set's smallest record id."""
    parent = {node: node for node in members}
    groups = {node: {node} for node in members}
    # Per set: the records no member of the set may be joined with.
    apart: dict[str, set[str]] = {node: set() for node in members}
    for left, right in cannot:
        apart[left].add(right)
        apart[right].add(left)

    def find(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for _, left, right in edges:
        a, b = find(left), find(right)
        if a == b:
            continue
        if apart[a] & groups[b]:
            continue
        if len(groups[a]) < len(groups[b]):
            a, b = b, a
        parent[b] = a
        groups[a] |= groups.pop(b)
        apart[a] |= apart.pop(b)
    return {node: min(groups[find(node)]) for node in members}


def _driver_components(
    spark: SparkSession, edges: DataFrame, max_links: int | None
) -> DataFrame | None:
    """``node, label`` for every node with an edge (label = smallest node of its component),
    by union-find over the edges collected to the driver; ``None`` when there are more than
    ``max_links`` edges (only ``max_links + 1`` are ever collected)."""
    ends = edges.select("record_id_l", "record_id_r")
    if max_links is not None:
        ends = ends.limit(max_links + 1)
    table = ends.toArrow()
    if max_links is not None and table.num_rows > max_links:
        logger.info("more than %s links: clustering by label propagation in Spark", max_links)
        return None
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        root = parent.setdefault(node, node)
        while root != parent[root]:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    for left, right in zip(
        table.column("record_id_l").to_pylist(), table.column("record_id_r").to_pylist()
    ):
        a, b = find(left), find(right)
        if a != b:
            # The smaller id becomes the root, so that a root is its component's smallest id.
            if b < a:
                a, b = b, a
            parent[b] = a
    nodes = list(parent)
    labels = [find(node) for node in nodes]
    import pyarrow as pa

    return spark.createDataFrame(
        pa.table({"node": pa.array(nodes, pa.string()), "label": pa.array(labels, pa.string())})
    )


def _label_propagation(edges: DataFrame, directory: str) -> DataFrame:
    """``node, label`` for every node with an edge: label = smallest node of its component.

    Each round (``label`` always names a node of the same component, and only decreases):

    1. every node takes the smallest label among itself and its neighbours;
    2. that value is also pushed to the node's previous label, its representative, so that a
       smaller label found anywhere in a group reaches the group's root in one step;
    3. every node takes its label's label (pointer jumping).

    Rounds grow with the logarithm of a cluster's diameter (10 for a 1,000-record chain in any
    order), not with the diameter as plain label propagation does. Each round's labels are
    written to ``directory`` and read back: that cuts the query plan, which otherwise grows
    with every round (chained ``localCheckpoint`` calls get exponentially slower on Spark 4.2).
    """
    undirected = _round_trip(
        edges.select(F.col("record_id_l").alias("src"), F.col("record_id_r").alias("dst"))
        .unionByName(
            edges.select(F.col("record_id_r").alias("src"), F.col("record_id_l").alias("dst"))
        )
        .distinct(),
        f"{directory}/edges",
    )
    labels = _round_trip(
        undirected.groupBy("src")
        .agg(F.min("dst").alias("smallest"))
        .select(F.col("src").alias("node"), F.least("src", "smallest").alias("label")),
        f"{directory}/labels-0",
    )
    for iteration in range(1, MAX_ITERATIONS + 1):
        neighbour_min = (
            undirected.join(labels.withColumnRenamed("node", "dst"), on="dst")
            .groupBy(F.col("src").alias("node"))
            .agg(F.min("label").alias("neighbour_min"))
        )
        proposed = labels.join(neighbour_min, on="node").select(
            "node",
            F.col("label").alias("previous"),
            F.least("label", "neighbour_min").alias("proposed"),
        )
        pushed_up = proposed.groupBy(F.col("previous").alias("node")).agg(
            F.min("proposed").alias("from_members")
        )
        updated = proposed.join(pushed_up, on="node", how="left").select(
            "node", F.least("proposed", F.coalesce("from_members", "proposed")).alias("label")
        )
        jumped = (
            updated.alias("a")
            .join(updated.alias("b"), F.col("a.label") == F.col("b.node"))
            .select(F.col("a.node").alias("node"), F.col("b.label").alias("label"))
        )
        # The change flag is computed while writing, so that the convergence test is a scan
        # of one boolean column rather than another join.
        new_labels = _round_trip(
            jumped.join(labels.withColumnRenamed("label", "before"), on="node").select(
                "node", "label", (F.col("label") != F.col("before")).alias("changed")
            ),
            f"{directory}/labels-{iteration}",
        )
        changed = new_labels.where("changed").count()
        labels = new_labels.drop("changed")
        if changed == 0:
            logger.debug("connected components converged after %s rounds", iteration)
            return labels
    raise RuntimeError(
        f"connected components did not converge in {MAX_ITERATIONS} rounds: the match graph "
        "has an implausibly long chain of links; inspect the pairs above the threshold"
    )


def _round_trip(df: DataFrame, path: str) -> DataFrame:
    df.write.mode("overwrite").parquet(path)
    return df.sparkSession.read.parquet(path)


def _splink_components(session: SplinkSession, linked: DataFrame, threshold: float) -> DataFrame:
    """``node, label`` from Splink's connected components (restricted to linked nodes)."""
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
