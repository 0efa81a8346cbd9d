"""Publishing staged gold tables with MERGE: unchanged rows are not rewritten, reruns are no-ops.

Each row carries ``_content_hash`` over its business columns; only rows whose key or hash is
new are MERGEd in (updated or inserted), keys that disappeared are deleted, and files holding only
unchanged rows are not rewritten. When nothing changed no commit is made at all, so publishing
the same snapshot twice leaves the table at the same version.
"""

from __future__ import annotations

from collections.abc import Sequence

from delta.tables import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from scv import delta_io

HASH_COLUMN = "_content_hash"


def with_content_hash(df: DataFrame, exclude: Sequence[str] = ()) -> DataFrame:
    columns = [c for c in df.columns if c not in set(exclude) | {HASH_COLUMN}]
    return df.withColumn(HASH_COLUMN, F.sha2(F.to_json(F.struct(*[F.col(c) for c in sorted(columns)])), 256))


def merge_snapshot(
    staged: DataFrame,
    target_path: str,
    keys: Sequence[str],
    properties: dict[str, str] | None = None,
) -> dict[str, int]:
    """Make the Delta table at ``target_path`` equal to ``staged`` (keyed by ``keys``) via MERGE.

    ``staged`` must already carry ``_content_hash``. Returns Delta's operation metrics. A table
    whose columns differ from ``staged``'s is replaced (overwrite with the new schema) instead.
    """
    spark = staged.sparkSession
    if not delta_io.table_exists(spark, target_path):
        delta_io.overwrite(staged, target_path, properties=properties)
        return {"inserted": staged.count(), "updated": 0, "deleted": 0}
    current = DeltaTable.forPath(spark, target_path).toDF().columns
    if sorted(current) != sorted(staged.columns):
        # The table's layout changed (e.g. personal columns moved out): replace it in one
        # transaction rather than MERGE columns the new layout no longer has.
        delta_io.overwrite(staged, target_path, properties=properties)
        return {"inserted": staged.count(), "updated": 0, "deleted": 0, "replaced_schema": 1}
    # MERGE only what changed: new or changed rows (key and hash not in the target) and keys that
    # disappeared. A MERGE over the whole snapshot would rewrite every file it scans (Delta copies
    # the unchanged rows of each touched file), and a rerun would commit a new version.
    target = DeltaTable.forPath(spark, target_path)
    current_rows = target.toDF().select(*keys, HASH_COLUMN)
    gone = current_rows.select(*keys).join(staged.select(*keys), list(keys), "left_anti")
    return _merge(target_path, staged, current_rows, gone, keys)


class StagedChangesNeedTable(RuntimeError):
    """Staged changes (not a snapshot) cannot be published onto a missing or re-laid-out table."""


def merge_changes(
    staged: DataFrame,
    deleted_keys: DataFrame,
    target_path: str,
    keys: Sequence[str],
) -> dict[str, int]:
    """Apply staged changes to the Delta table at ``target_path``: upsert the ``staged`` rows
    whose key or ``_content_hash`` is new, delete the ``deleted_keys`` the table holds.

    Unlike :func:`merge_snapshot`, keys absent from ``staged`` are kept. Applying the same changes
    twice commits nothing the second time. Raises :class:`StagedChangesNeedTable` when the table
    is missing or its columns differ from ``staged``'s (stage a full snapshot then).
    """
    spark = staged.sparkSession
    if not delta_io.table_exists(spark, target_path):
        raise StagedChangesNeedTable(f"{target_path} does not exist: stage a full snapshot (full_rebuild)")
    target = DeltaTable.forPath(spark, target_path)
    if sorted(target.toDF().columns) != sorted(staged.columns):
        raise StagedChangesNeedTable(f"{target_path} has another layout than the staged changes: stage a full snapshot")
    current_rows = target.toDF().select(*keys, HASH_COLUMN)
    gone = (
        deleted_keys.select(*keys)
        .distinct()
        .join(current_rows.select(*keys), list(keys), "left_semi")
        .join(staged.select(*keys), list(keys), "left_anti")
    )
    return _merge(target_path, staged, current_rows, gone, keys)


def _merge(target_path: str, staged: DataFrame, current_rows: DataFrame, gone: DataFrame, keys: Sequence[str]) -> dict[str, int]:
    """One MERGE of the changed ``staged`` rows and the ``gone`` keys; no commit if neither."""
    changed = staged.join(current_rows, [*keys, HASH_COLUMN], "left_anti").withColumn("_delete", F.lit(False))
    gone = gone.select(*[F.col(c) if c in keys else F.lit(None).cast(staged.schema[c].dataType).alias(c) for c in staged.columns])
    changes = changed.unionByName(gone.withColumn("_delete", F.lit(True))).persist()
    target = DeltaTable.forPath(staged.sparkSession, target_path)
    try:
        if changes.isEmpty():
            return {"inserted": 0, "updated": 0, "deleted": 0}
        condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        assignments = {f"`{c}`": f"s.`{c}`" for c in staged.columns}
        (
            target.alias("t")
            .merge(changes.alias("s"), condition)
            .whenMatchedDelete(condition="s._delete")
            .whenMatchedUpdate(set=assignments)
            .whenNotMatchedInsert(condition="NOT s._delete", values=assignments)
            .execute()
        )
    finally:
        changes.unpersist()
    last = DeltaTable.forPath(staged.sparkSession, target_path).history(1).select("operation", "operationMetrics").first()
    metrics = last.operationMetrics or {}
    return {
        "inserted": int(metrics.get("numTargetRowsInserted", 0)),
        "updated": int(metrics.get("numTargetRowsUpdated", 0)),
        "deleted": int(metrics.get("numTargetRowsDeleted", 0)),
    }
