"""Profiling job: column profiles of one source's bronze batch, into an ops table and a report.

``run(spark, settings, source=..., logical_date=..., run_id=...)`` profiles the rows bronze
ingestion wrote for ``logical_date`` (lineage columns excluded) with
:func:`scv.quality.profiling.profile_table`, values masked by what the source's contract maps
each raw column to.

Guarantees
- Idempotent: the rows of ``ops/column_profiles`` for (source, logical date) are replaced in
  one Delta transaction (``replaceWhere``); a rerun leaves one profile per column and date.
- The Markdown report ``<artifacts>/profiles/<source>/<date>.md`` is written to a temporary
  file and renamed, so a reader never sees half a report.
- Nothing personal is written: only masked values, counts, shares and lengths.
- Fails (``TableNotFound``) when the source has no bronze table; an empty batch is profiled
  (row_count 0) so that "nothing arrived" is visible in the table and the report.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from scv import delta_io
from scv.config import Settings
from scv.contracts import load_contracts
from scv.jobs import parse_date
from scv.quality.gate import TableNotFound
from scv.quality.profiling import LINEAGE_COLUMNS, contract_masker, profile_markdown, profile_table

log = logging.getLogger(__name__)

# Partitioned by source so that the profiling tasks of different sources can write at the same
# time without Delta write conflicts. Only non-value columns get file statistics: values are
# masked, but the transaction log is kept free of them altogether.
PARTITION_BY = ["source"]
PROFILE_PROPERTIES = delta_io.stats_columns_property(["logical_date", "column", "profiled_at"])


def column_profiles_path(settings: Settings) -> str:
    return settings.table_path("ops", "column_profiles")


def report_path(settings: Settings, source: str, logical_date: dt.date) -> str:
    return os.path.join(settings.artifacts_dir, "profiles", source, f"{logical_date.isoformat()}.md")


def _write_atomically(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".profile-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def profile_bronze_batch(
    spark: SparkSession, settings: Settings, source: str, logical_date: dt.date
) -> tuple[DataFrame, int]:
    """The profile of ``source``'s bronze rows for ``logical_date`` and the number of rows."""
    contract = load_contracts(settings.sources_dir).get(source)
    path = settings.table_path("bronze", source)
    if not delta_io.table_exists(spark, path):
        raise TableNotFound(f"cannot profile source {source!r}: {path} is not a Delta table (not ingested yet?)")
    batch = spark.read.format("delta").load(path).where(F.col("_logical_date") == F.lit(logical_date))
    columns = [c for c in batch.columns if c not in LINEAGE_COLUMNS]
    # Computed once: the caller writes it, collects it and counts it.
    profile = profile_table(spark, batch, columns, masker=contract_masker(contract)).localCheckpoint()
    return profile, profile.first()["row_count"] if columns else 0


def run(spark: SparkSession, settings: Settings, *, source: str, logical_date: str, run_id: str) -> dict:
    """Profile ``source``'s bronze batch of ``logical_date`` (see the module docstring)."""
    day = parse_date(logical_date)
    profile, rows = profile_bronze_batch(spark, settings, source, day)
    profiled_at = dt.datetime.now(dt.timezone.utc)
    record = profile.select(
        F.lit(source).alias("source"),
        F.lit(day).cast("date").alias("logical_date"),
        F.lit(run_id).alias("run_id"),
        F.lit(f"bronze/{source}").alias("table"),
        F.lit(profiled_at).cast("timestamp").alias("profiled_at"),
        "*",
    )
    predicate = f"source = {delta_io.sql_literal(source)} AND logical_date = DATE {delta_io.sql_literal(day.isoformat())}"
    target = column_profiles_path(settings)
    delta_io.replace_where(record, target, predicate, PARTITION_BY, PROFILE_PROPERTIES)

    profile_rows = [r.asDict(recursive=True) for r in profile.collect()]
    empty = [r["column"] for r in profile_rows if r["row_count"] and not r["completeness"]]
    notes = [f"run `{run_id}`, profiled {profiled_at:%Y-%m-%d %H:%M} UTC; table `ops/column_profiles`"]
    if empty:
        notes.append(f"no values at all in: {', '.join(empty)}")
    report = report_path(settings, source, day)
    _write_atomically(report, profile_markdown(profile_rows, title=f"Profile of bronze/{source} for {day}", notes=notes))
    log.info("profiled bronze/%s %s: %d rows, %d columns; report %s", source, day, rows, len(profile_rows), report)
    return {
        "source": source,
        "logical_date": day.isoformat(),
        "rows": rows,
        "columns": len(profile_rows),
        "empty_columns": empty,
        "table": target,
        "report": report,
    }
