"""Splink's comparison viewer and cluster studio dashboards for a sample of one run.

The dashboards are self-contained HTML files for stewards: the comparison viewer shows example
pairs for every agreement pattern with the match weights that scored them; cluster studio shows
clusters as graphs of their records and pairs. They hold the sampled records' values (that is
what a steward needs to judge them), so they are written only under one folder per run,
``<artifacts>/linkage/dashboards/<run_date>/``, which the privacy erasure removes files from.

The sample: clusters of more than one record, the uncertain ones first (those holding a pair in
the review band), then others in a seeded hash order, whole clusters only, until
``max_records``. The sampled records are scored again within the sample (a few thousand pairs),
and cluster studio shows the run's own clusters (``cluster_id``), not a re-clustering.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from splink import Linker

from scv.linkage._backend import SplinkSession
from scv.linkage.config import LinkageConfig
from scv.linkage.prediction import ModelRef, _prediction_settings
from scv.linkage.settings import UNIQUE_ID, linkable_records, model_input_columns

logger = logging.getLogger(__name__)

COMPARISON_VIEWER = "comparison_viewer.html"
CLUSTER_STUDIO = "cluster_studio.html"


def dashboards_dir(artifacts_dir: str | Path, run_date: str) -> Path:
    """The one folder holding a run's dashboards (and nothing else)."""
    return Path(artifacts_dir) / "linkage" / "dashboards" / run_date


def sample_clusters(
    clusters: DataFrame,
    pairs: DataFrame,
    config: LinkageConfig,
    max_records: int = 1000,
) -> DataFrame:
    """``record_id, cluster_id`` of whole multi-record clusters, uncertain ones first, at most
    ``max_records`` records (see the module docstring)."""
    low, high = config.review_band
    uncertain = (
        pairs.where((F.col("match_probability") >= low) & (F.col("match_probability") < high))
        .join(clusters.select(F.col(UNIQUE_ID).alias("record_id_l"), "cluster_id"), "record_id_l")
        .select("cluster_id")
        .distinct()
        .withColumn("uncertain", F.lit(1))
    )
    sizes = clusters.groupBy("cluster_id").agg(F.count("*").alias("size")).where("size > 1")
    ranked = (
        sizes.join(uncertain, "cluster_id", "left")
        .withColumn(
            "order_key",
            F.concat(
                F.coalesce(F.col("uncertain"), F.lit(0)).cast("string"),
                F.sha2(F.concat(F.col("cluster_id"), F.lit(str(config.seed))), 256),
            ),
        )
        .orderBy(F.desc("uncertain"), "order_key")
        .select("cluster_id", "size")
        .collect()
    )
    chosen, total = [], 0
    for row in ranked:
        if total + row["size"] > max_records:
            break
        chosen.append(row["cluster_id"])
        total += row["size"]
    chosen_df = clusters.sparkSession.createDataFrame([(c,) for c in chosen], "cluster_id string")
    return clusters.select(UNIQUE_ID, "cluster_id").join(chosen_df, "cluster_id")


def write_dashboards(
    spark: SparkSession,
    silver_df: DataFrame,
    sample: DataFrame,
    model: ModelRef,
    config: LinkageConfig,
    out_dir: str | Path,
) -> dict[str, Path]:
    """Write both dashboards for the ``sample`` (``record_id, cluster_id``) into ``out_dir``
    (replaced as a whole, so a rerun leaves no stale file). Returns the files written."""
    _, settings = _prediction_settings(model, config)
    columns = model_input_columns(settings)
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    written: dict[str, Path] = {}
    with SplinkSession(spark, config) as session:
        records = linkable_records(silver_df, columns).join(sample, UNIQUE_ID)
        if records.isEmpty():
            logger.info("no multi-record cluster to show: no dashboards written")
            return written
        registered = session.register(records.drop("cluster_id"), "dashboard_sample")
        linker = Linker(registered, settings, log_level=None)
        predictions = linker.inference.predict(threshold_match_probability=config.pair_threshold)
        written["comparison_viewer"] = out / COMPARISON_VIEWER
        linker.visualisations.comparison_viewer_dashboard(
            predictions, str(written["comparison_viewer"]), overwrite=True, num_example_rows=2
        )
        clustered = session.register(records, "dashboard_clusters")
        cluster_ids = [r["cluster_id"] for r in records.select("cluster_id").distinct()
                       .orderBy("cluster_id").limit(50).collect()]
        written["cluster_studio"] = out / CLUSTER_STUDIO
        linker.visualisations.cluster_studio_dashboard(
            predictions,
            clustered,
            str(written["cluster_studio"]),
            cluster_ids=cluster_ids,
            overwrite=True,
        )
    logger.info("linkage dashboards written to %s", out)
    return written
