"""The ops table of validation results, and the volume band read back from it.

``<lakehouse>/ops/validation_results`` gets one row per expectation per validation, so trends
(row counts, unexpected counts, failures) can be queried and plotted across runs.

Guarantees
- Appends are blind Delta appends (one transaction per validation): concurrent gates never
  conflict, and a failed write leaves the table unchanged.
- A retry of the same task appends its rows again with a higher ``try_number``; readers that
  want one row per run take the latest ``validated_at`` per (run_id, task_id, table, suite,
  expectation), as :func:`recent_observations` does.
- Values written are the masked ones of the outcome; nothing personal reaches this table.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from scv import delta_io
from scv.config import Settings
from scv.quality.outcome import ValidationOutcome
from scv.quality.suites import VolumeSpec

VALIDATION_RESULTS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("dag_id", T.StringType(), True),
        T.StructField("task_id", T.StringType(), True),
        T.StructField("try_number", T.IntegerType(), True),
        T.StructField("table", T.StringType(), False),
        T.StructField("suite", T.StringType(), False),
        T.StructField("expectation", T.StringType(), False),
        T.StructField("expectation_type", T.StringType(), False),
        T.StructField("column", T.StringType(), True),
        T.StructField("severity", T.StringType(), False),
        T.StructField("success", T.BooleanType(), False),
        T.StructField("observed_value", T.StringType(), True),
        T.StructField("unexpected_count", T.LongType(), True),
        T.StructField("unexpected_percent", T.DoubleType(), True),
        T.StructField("element_count", T.LongType(), True),
        T.StructField("error", T.StringType(), True),
        T.StructField("row_filter", T.StringType(), True),
        T.StructField("data_docs_path", T.StringType(), True),
        T.StructField("validated_at", T.TimestampType(), False),
    ]
)
# Delta statistics only on the columns readers filter on: observed values stay out of the log.
VALIDATION_RESULTS_PROPERTIES = delta_io.stats_columns_property(["run_id", "table", "suite", "validated_at"])


def validation_results_path(settings: Settings) -> str:
    return settings.table_path("ops", "validation_results")


def record_outcome(
    spark: SparkSession, settings: Settings, outcome: ValidationOutcome, try_number: int | None = None
) -> int:
    """Append one row per expectation of ``outcome``; returns the number of rows written."""
    rows = [
        (
            outcome.run_id,
            outcome.dag_id,
            outcome.task_id,
            try_number,
            outcome.table,
            outcome.suite,
            r.name,
            r.expectation_type,
            r.column,
            r.severity,
            r.success,
            r.observed_value,
            r.unexpected_count,
            None if r.unexpected_percent is None else float(r.unexpected_percent),
            r.element_count,
            r.error,
            outcome.row_filter,
            outcome.data_docs_path,
            outcome.validated_at,
        )
        for r in outcome.results
    ]
    if not rows:
        return 0
    frame = spark.createDataFrame(rows, VALIDATION_RESULTS_SCHEMA)
    # No mergeSchema: the table's schema is a contract for whoever plots it.
    path = validation_results_path(settings)
    delta_io.ensure_table(spark, path, VALIDATION_RESULTS_SCHEMA, properties=VALIDATION_RESULTS_PROPERTIES)
    frame.write.format("delta").mode("append").save(path)
    return len(rows)


def recent_observations(
    spark: SparkSession,
    settings: Settings,
    *,
    table: str,
    suite: str,
    expectation: str,
    exclude_run_id: str | None,
    window: int,
) -> list[float]:
    """The numeric observed values of ``expectation`` in the latest ``window`` earlier runs.

    One value per run (its latest attempt), newest first; runs whose value is not numeric are
    skipped; an absent ops table means no history.
    """
    from delta.tables import DeltaTable

    path = validation_results_path(settings)
    if not DeltaTable.isDeltaTable(spark, path):
        return []
    history = (
        spark.read.format("delta")
        .load(path)
        .where((F.col("table") == table) & (F.col("suite") == suite) & (F.col("expectation") == expectation))
        .where(F.col("observed_value").isNotNull())
    )
    if exclude_run_id is not None:
        history = history.where(F.col("run_id") != exclude_run_id)
    # A bounded, newest-first read; retries are collapsed here rather than with a window
    # function, which would sort the whole history on every gate.
    rows = (
        history.select("run_id", "observed_value", "validated_at")
        .orderBy(F.col("validated_at").desc())
        .limit(window * 4)
        .collect()
    )
    values: list[float] = []
    seen: set[str] = set()
    for row in rows:
        if row.run_id in seen:
            continue
        seen.add(row.run_id)
        try:
            values.append(float(row.observed_value))
        except ValueError:
            continue
        if len(values) == window:
            break
    return values


def volume_band(history: Sequence[float], volume: VolumeSpec) -> tuple[int, int | None]:
    """The accepted row-count range given earlier runs' counts.

    ``median * (1 -/+ tolerance)`` (rounded outwards) once there are ``min_history`` earlier
    runs; before that only "not empty" ``(1, None)``. The median keeps one anomalous run that
    got through (as a warning) from dragging the band.
    """
    if len(history) < volume.min_history:
        return 1, None
    median = statistics.median(history)
    low = max(0, math.floor(median * (1 - volume.tolerance)))
    high = math.ceil(median * (1 + volume.tolerance))
    return low, max(high, low)
