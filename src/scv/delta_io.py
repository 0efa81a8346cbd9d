"""Small, explicit Delta Lake write helpers shared by every stage.

Every write here is one Delta transaction, so a failed task leaves the table at its previous
version. Tables are created with their properties first (so that, for example, personal columns
are kept out of the per-file statistics in the transaction log from the very first commit).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentWriteException,
    DeltaConcurrentModificationException,
    MetadataChangedException,
    ProtocolChangedException,
)
from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType


CREATE_RACE_WAIT_SECONDS = 30.0
_CREATE_LOCKS: dict[str, threading.Lock] = {}

# What a CREATE raises when another writer created the table first (Delta's Python exceptions do
# not share one base class).
_CONCURRENT_CREATE_ERRORS = (
    DeltaConcurrentModificationException,
    ProtocolChangedException,
    MetadataChangedException,
    ConcurrentWriteException,
    ConcurrentAppendException,
)
# ... and what it raises when it looked while the winner's log folder existed without a commit:
# "location not empty", or (seen once in the test suite) "table not found" from
# CREATE IF NOT EXISTS, which took the folder for a table and then found no commit in it.
_CREATE_RACE_CONDITIONS = ("DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION", "DELTA_TABLE_NOT_FOUND")


def table_exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def sql_literal(value: object) -> str:
    """A Spark SQL literal for predicates built from trusted values (dates, ids, source names)."""
    if value is None:
        return "NULL"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def ensure_table(
    spark: SparkSession,
    path: str,
    schema: StructType,
    partition_by: Iterable[str] = (),
    properties: Mapping[str, str] | None = None,
) -> None:
    """Create the Delta table at ``path`` with schema, partitioning and properties if absent.

    Tasks that run side by side (each source's bronze branch, writing its partition of the shared
    quarantine, manifest and profile tables) may all find the table missing on a first run: one
    creates it; another's CREATE fails (Delta's concurrent-modification error, or "location not
    empty" / "table not found" while the first writer's log has no commit yet) and, once the
    table is there (waited for up to ``CREATE_RACE_WAIT_SECONDS``), it goes on to write into it.
    Threads of one process take turns per path, so among them the race does not happen at all.
    """
    if table_exists(spark, path):
        return
    with _CREATE_LOCKS.setdefault(path, threading.Lock()):
        if not table_exists(spark, path):
            _create_table(spark, path, schema, partition_by, properties)


def _create_table(
    spark: SparkSession, path: str, schema: StructType, partition_by: Iterable[str], properties: Mapping[str, str] | None
) -> None:
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    partition_by = list(partition_by)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in (properties or {}).items():
        builder = builder.property(key, value)
    try:
        builder.execute()
    except (*_CONCURRENT_CREATE_ERRORS, AnalysisException) as error:
        if isinstance(error, AnalysisException) and error.getCondition() not in _CREATE_RACE_CONDITIONS:
            raise
        deadline = time.monotonic() + CREATE_RACE_WAIT_SECONDS
        while not table_exists(spark, path):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def replace_where(
    df: DataFrame,
    path: str,
    predicate: str,
    partition_by: Iterable[str] = (),
    properties: Mapping[str, str] | None = None,
    merge_schema: bool = False,
) -> None:
    """Atomically replace the rows matching ``predicate`` with ``df`` (idempotent reruns).

    Every row of ``df`` must satisfy the predicate (Delta enforces it). Rows outside the
    predicate are untouched; running the same write twice leaves the same table content.
    """
    ensure_table(df.sparkSession, path, df.schema, partition_by, properties)
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    writer.save(path)


def overwrite(
    df: DataFrame,
    path: str,
    partition_by: Iterable[str] = (),
    properties: Mapping[str, str] | None = None,
    user_metadata: str | None = None,
) -> None:
    """Atomically replace the whole table's content (schema may change).

    ``user_metadata`` is recorded in the commit (``DESCRIBE HISTORY``'s userMetadata).
    """
    ensure_table(df.sparkSession, path, df.schema, partition_by, properties)
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if user_metadata is not None:
        writer = writer.option("userMetadata", user_metadata)
    writer.save(path)


def append(df: DataFrame, path: str, partition_by: Iterable[str] = (), properties: Mapping[str, str] | None = None) -> None:
    ensure_table(df.sparkSession, path, df.schema, partition_by, properties)
    df.write.format("delta").mode("append").option("mergeSchema", "true").save(path)


# Deletion vectors: a DELETE, UPDATE or MERGE marks the rows it removes instead of rewriting every
# file that holds one. A daily MERGE touching 1-2% of a table's rows, spread over all its files,
# then writes the changed rows only. Removed rows stay in their files until REORG ... APPLY
# (PURGE), which the privacy jobs run (scv.privacy.retention.purge_deleted_rows).
DELETION_VECTORS = {"delta.enableDeletionVectors": "true"}


def table_properties(spark: SparkSession, path: str) -> dict[str, str]:
    return dict(DeltaTable.forPath(spark, path).detail().select("properties").first()["properties"] or {})


def ensure_properties(
    spark: SparkSession, path: str, properties: Mapping[str, str], current: Mapping[str, str] | None = None
) -> bool:
    """Set the table properties of ``properties`` that the table at ``path`` lacks or holds with
    another value (tables created before a property was introduced), in one commit; returns
    whether it did. ``current``: the table's properties when the caller has them (read when not
    given)."""
    current = table_properties(spark, path) if current is None else current
    missing = {k: v for k, v in properties.items() if current.get(k) != v}
    if missing:
        settings = ", ".join(f"{sql_literal(k)} = {sql_literal(v)}" for k, v in sorted(missing.items()))
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({settings})")
    return bool(missing)


def stats_columns_property(columns: Iterable[str]) -> dict[str, str]:
    """Table property limiting Delta's per-file min/max statistics to non-personal columns."""
    return {"delta.dataSkippingStatsColumns": ",".join(columns)}


@dataclass(frozen=True)
class CommitMark:
    """One commit of a table: its version and commit timestamp. A table deleted and created again
    at the same path reuses version numbers, not their timestamps."""

    version: int
    timestamp_ms: int


# Commits that never remove or change a row of the table's current content.
ROW_PRESERVING_OPERATIONS = frozenset(
    {"SET TBLPROPERTIES", "UNSET TBLPROPERTIES", "ADD COLUMNS", "OPTIMIZE", "REORG", "VACUUM START", "VACUUM END"}
)
# A WRITE (append, or overwrite with replaceWhere) removed no row when all of these are 0.
_ROW_REMOVAL_METRICS = (
    "numRemovedFiles", "numDeletedRows", "numDeletionVectorsAdded", "numDeletionVectorsUpdated", "numDeletionVectorsRemoved",
)
HISTORY_LOOKBACK = 100


def rows_removed_since(spark: SparkSession, path: str, since: CommitMark | None) -> tuple[CommitMark, str | None]:
    """The latest commit of the table at ``path``, and why rows may have left it (been deleted
    or replaced) after the commit ``since``; None when every later commit only added rows.

    Read from the table's history (one small job): a commit after ``since`` only adds rows when
    it is an append, a WRITE whose metrics show no file removed and no row deleted (a
    replaceWhere of a date that had no rows yet), or an operation that keeps every row
    (:data:`ROW_PRESERVING_OPERATIONS`). Anything else (DELETE, MERGE, UPDATE, RESTORE, a rerun
    of a date replacing its files, a WRITE without metrics), a ``since`` that is not among the
    last :data:`HISTORY_LOOKBACK` commits, or one whose timestamp differs (the table was created
    again) gives a reason. Deciding "maybe removed" when unsure is always safe for callers.
    """
    history = (
        DeltaTable.forPath(spark, path).history(HISTORY_LOOKBACK)
        .select("version", F.unix_millis("timestamp").alias("timestamp_ms"), "operation", "operationParameters",
                "operationMetrics")
        .collect()
    )
    latest = CommitMark(history[0]["version"], history[0]["timestamp_ms"])
    if since is None:
        return latest, "no earlier commit recorded"
    by_version = {row["version"]: row for row in history}
    recorded = by_version.get(since.version)
    if recorded is None:
        return latest, f"commit {since.version} is not among the table's last {HISTORY_LOOKBACK} commits"
    if recorded["timestamp_ms"] != since.timestamp_ms:
        return latest, f"commit {since.version} has another timestamp than recorded (the table was created again)"
    for version in sorted(v for v in by_version if v > since.version):
        row = by_version[version]
        metrics = row["operationMetrics"] or {}
        if row["operation"] in ROW_PRESERVING_OPERATIONS:
            continue
        if row["operation"] == "WRITE" and (row["operationParameters"] or {}).get("mode") == "Append":
            continue
        if row["operation"] == "WRITE" and "numRemovedFiles" in metrics and all(
            int(metrics.get(name) or 0) == 0 for name in _ROW_REMOVAL_METRICS
        ):
            continue
        return latest, f"commit {version} ({row['operation']}) may have removed rows"
    return latest, None
