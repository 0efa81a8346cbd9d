"""Steward decisions on record pairs: the labels table, its CSV inbox, and agreement figures.

A label says that two records are the same person (``is_match`` true: a forced link) or are not
(false: a forced split). Labels come from two places and land in one Delta table,
``silver/steward_labels``:

- CSV files dropped in the inbox, ``<landing_root>/_steward/labels/*.csv``, with the header
  ``record_id_a,record_id_b,decision,labelled_by[,labelled_at][,note]`` where ``decision`` is
  ``match`` or ``non_match`` (``labelled_at`` defaults to the file's import time). The daily
  link task imports the inbox before clustering; importing the same files again changes nothing.
- ``scv label <record_a> <record_b> match|non_match --by <name>``.

The table holds one row per pair (``record_id_l < record_id_r``): a later decision on the same
pair replaces an earlier one. Labels hold record ids and steward names only, no personal data.
"""

from __future__ import annotations

import datetime as dt
import logging

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, StringType, StructField, StructType, TimestampType

from scv import delta_io
from scv.config import Settings

logger = logging.getLogger(__name__)

DECISIONS = {"match": True, "non_match": False}
LABELS_SCHEMA = StructType(
    [
        StructField("record_id_l", StringType(), False),
        StructField("record_id_r", StringType(), False),
        StructField("is_match", BooleanType(), False),
        StructField("labelled_by", StringType(), True),
        StructField("labelled_at", TimestampType(), False),
        StructField("label_source", StringType(), True),
        StructField("note", StringType(), True),
    ]
)
CSV_COLUMNS = ("record_id_a", "record_id_b", "decision", "labelled_by", "labelled_at", "note")


class InvalidLabels(ValueError):
    """Labels that cannot be recorded (unknown decision, missing or identical record ids)."""


def labels_path(settings: Settings) -> str:
    return settings.table_path("silver", "steward_labels")


def label_inbox(settings: Settings) -> str:
    """Where stewards drop label CSV files."""
    return f"{settings.landing_root}/_steward/labels"


def normalise_labels(
    raw: DataFrame, *, label_source: str, labelled_at: dt.datetime | None = None
) -> DataFrame:
    """``raw`` (``record_id_a, record_id_b, decision`` and optional ``labelled_by,
    labelled_at, note``) in the table's shape, pairs ordered, one row per pair (the latest).

    Raises :class:`InvalidLabels` with the count and the offending decisions (never values of
    other columns) if a row has an unknown decision or missing/identical record ids.
    """
    now = labelled_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    for column in CSV_COLUMNS:
        if column not in raw.columns:
            raw = raw.withColumn(column, F.lit(None).cast("string"))
    a, b = F.trim("record_id_a"), F.trim("record_id_b")
    decision = F.lower(F.trim("decision"))
    shaped = raw.select(
        F.least(a, b).alias("record_id_l"),
        F.greatest(a, b).alias("record_id_r"),
        decision.alias("decision"),
        F.col("labelled_by").cast("string").alias("labelled_by"),
        F.coalesce(F.col("labelled_at").cast("timestamp"), F.lit(now).cast("timestamp")).alias(
            "labelled_at"
        ),
        F.lit(label_source).alias("label_source"),
        F.col("note").cast("string").alias("note"),
    )
    bad = shaped.where(
        ~F.coalesce(decision.isin(*DECISIONS), F.lit(False))
        | F.col("record_id_l").isNull()
        | (F.col("record_id_l") == "")
        | (F.col("record_id_l") == F.col("record_id_r"))
    )
    bad_rows = bad.select("decision").collect()
    if bad_rows:
        decisions = sorted({str(row.decision) for row in bad_rows})
        raise InvalidLabels(
            f"{len(bad_rows)} label row(s) from {label_source} are invalid: decision must be one "
            f"of {sorted(DECISIONS)} (got {decisions}) and the two record ids must be present "
            "and different"
        )
    latest = (
        shaped.withColumn(
            "_rank",
            F.row_number().over(
                _pair_window().orderBy(F.desc("labelled_at"), F.desc("decision"))
            ),
        )
        .where("_rank = 1")
        .drop("_rank")
    )
    return latest.select(
        "record_id_l",
        "record_id_r",
        (F.col("decision") == "match").alias("is_match"),
        "labelled_by",
        "labelled_at",
        "label_source",
        "note",
    )


def _pair_window():
    from pyspark.sql.window import Window

    return Window.partitionBy("record_id_l", "record_id_r")


def record_labels(spark: SparkSession, settings: Settings, labels: DataFrame) -> int:
    """MERGE normalised labels into the table: a pair's newer decision replaces its older one
    (an equal or older one is ignored, so re-importing a file is a no-op). Returns the number
    of label rows offered."""
    path = labels_path(settings)
    delta_io.ensure_table(
        spark,
        path,
        LABELS_SCHEMA,
        properties=delta_io.stats_columns_property(["record_id_l", "record_id_r"]),
    )
    count = labels.count()
    if count == 0:
        return 0
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(
            labels.alias("s"),
            "t.record_id_l = s.record_id_l AND t.record_id_r = s.record_id_r",
        )
        .whenMatchedUpdateAll(condition="s.labelled_at > t.labelled_at")
        .whenNotMatchedInsertAll()
        .execute()
    )
    return count


def label_pair(
    spark: SparkSession,
    settings: Settings,
    record_a: str,
    record_b: str,
    decision: str,
    labelled_by: str,
    note: str | None = None,
) -> None:
    """Record one steward decision (the ``scv label`` command)."""
    raw = spark.createDataFrame(
        [(record_a, record_b, decision, labelled_by, note)],
        "record_id_a string, record_id_b string, decision string, labelled_by string, note string",
    )
    record_labels(spark, settings, normalise_labels(raw, label_source="cli"))


def import_label_inbox(spark: SparkSession, settings: Settings) -> int:
    """Import every CSV in :func:`label_inbox` into the labels table; returns rows offered."""
    inbox = label_inbox(settings)
    if not _exists(spark, inbox):
        return 0
    raw = (
        spark.read.option("header", True)
        .option("pathGlobFilter", "*.csv")
        .csv(inbox)
        .withColumn("_file", F.input_file_name())
    )
    if not raw.columns or raw.isEmpty():
        return 0
    for column in CSV_COLUMNS:
        if column not in raw.columns:
            raw = raw.withColumn(column, F.lit(None).cast("string"))
    labels = normalise_labels(raw, label_source=f"csv:{inbox}")
    offered = record_labels(spark, settings, labels)
    logger.info("imported %s steward label(s) from %s", offered, inbox)
    return offered


def current_labels(spark: SparkSession, settings: Settings) -> DataFrame | None:
    """The labels table (``record_id_l, record_id_r, is_match, ...``), or None if absent."""
    path = labels_path(settings)
    if not delta_io.table_exists(spark, path):
        return None
    return spark.read.format("delta").load(path)


def agreement_with_labels(
    pairs: DataFrame, labels: DataFrame, match_threshold: float
) -> dict[str, float | int]:
    """The model's pairwise precision and recall against steward labels.

    The model says "match" for a labelled pair when it scored the pair at or above
    ``match_threshold`` without a ``conflict``; a pair it did not keep is a "non-match".
    Precision is 1.0 with no predicted matches among labelled pairs, recall 1.0 with no labelled
    matches.
    """
    conflict = F.col("conflict") if "conflict" in pairs.columns else F.lit(False)
    predicted = pairs.select(
        "record_id_l",
        "record_id_r",
        ((F.col("match_probability") >= match_threshold) & ~F.coalesce(conflict, F.lit(False)))
        .alias("predicted"),
    )
    joined = labels.select("record_id_l", "record_id_r", "is_match").join(
        predicted, ["record_id_l", "record_id_r"], "left"
    )
    row = joined.agg(
        F.count("*").alias("labels"),
        F.sum(F.when(F.col("is_match") & F.coalesce("predicted", F.lit(False)), 1).otherwise(0))
        .alias("tp"),
        F.sum(F.when(~F.col("is_match") & F.coalesce("predicted", F.lit(False)), 1).otherwise(0))
        .alias("fp"),
        F.sum(F.when(F.col("is_match") & ~F.coalesce("predicted", F.lit(False)), 1).otherwise(0))
        .alias("fn"),
    ).first()
    labels_n, tp, fp, fn = (int(row[k] or 0) for k in ("labels", "tp", "fp", "fn"))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"labels": labels_n, "tp": tp, "fp": fp, "fn": fn, "precision": precision,
            "recall": recall}


def _exists(spark: SparkSession, path: str) -> bool:
    jvm_path = spark._jvm.org.apache.hadoop.fs.Path(path)  # type: ignore[union-attr]
    file_system = jvm_path.getFileSystem(spark._jsc.hadoopConfiguration())  # type: ignore[union-attr]
    return bool(file_system.exists(jvm_path))
