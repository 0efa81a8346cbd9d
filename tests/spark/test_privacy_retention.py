"""Retention purge on a real Delta table: dry-run deletes nothing; a purge leaves no row older
than the cutoff, reports counts, removes the old files, is idempotent and is audited."""

from __future__ import annotations

import datetime as dt
import glob

import pyarrow.parquet as pq

from scv.privacy.retention import RetentionPolicy, purge

TODAY = dt.date(2026, 11, 22)


def test_dry_run_then_purge(spark, settings):
    path = settings.table_path("bronze", "clicks")
    rows = [(i, dt.datetime(2025, 1, 1) + dt.timedelta(days=30 * i)) for i in range(24)]
    spark.createDataFrame(rows, "id int, seen_at timestamp").write.format("delta").save(path)
    policy = RetentionPolicy("clicks", "bronze/clicks", "seen_at", "13 months", vacuum_retain_hours=0)
    cutoff = policy.cutoff(TODAY)
    old = sum(1 for _, seen in rows if seen < cutoff)
    assert cutoff == dt.datetime(2025, 10, 22) and 0 < old < len(rows)

    dry = purge(spark, settings, policy, TODAY, "run-1", dry_run=True)
    assert (dry.rows_matched, dry.rows_deleted) == (old, 0)
    assert spark.read.format("delta").load(path).count() == len(rows)

    done = purge(spark, settings, policy, TODAY, "run-2")
    assert (done.rows_matched, done.rows_deleted) == (old, old)
    table = spark.read.format("delta").load(path)
    assert table.count() == len(rows) - old and table.where(f"seen_at < '{cutoff}'").count() == 0
    on_disk = [r for f in glob.glob(f"{path}/*.parquet") for r in pq.read_table(f).to_pylist()]
    assert min(r["seen_at"] for r in on_disk) >= cutoff  # VACUUM removed the files with old rows

    again = purge(spark, settings, policy, TODAY, "run-3")
    assert (again.rows_matched, again.rows_deleted) == (0, 0)
    audit = spark.read.format("delta").load(settings.table_path("privacy", "retention_audit"))
    assert sorted((r.run_id, r.dry_run, r.rows_deleted) for r in audit.collect()) == [
        ("run-1", True, 0), ("run-2", False, old), ("run-3", False, 0)
    ]
