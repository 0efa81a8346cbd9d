"""``delta_io.rows_removed_since`` on real Delta tables: which commits can have removed rows."""

from __future__ import annotations

import shutil

from delta.tables import DeltaTable

from scv import delta_io


def _day(spark, day: str, ids: list[int]):
    return spark.createDataFrame([(i, day) for i in ids], "id INT, day STRING")


def _ingest(spark, path: str, day: str, ids: list[int]) -> None:
    """What bronze ingestion does: replace one date's partition."""
    delta_io.replace_where(_day(spark, day, ids), path, f"day = '{day}'", partition_by=["day"])


def test_only_commits_that_add_rows_leave_no_reason_to_look_for_removed_rows(spark, tmp_path):
    path = str(tmp_path / "bronze")
    _ingest(spark, path, "d1", [1, 2, 3])
    first, reason = delta_io.rows_removed_since(spark, path, None)
    assert reason == "no earlier commit recorded"
    assert delta_io.rows_removed_since(spark, path, first) == (first, None)

    # A new date, an append, a property and OPTIMIZE add or keep rows.
    _ingest(spark, path, "d2", [4, 5])
    delta_io.append(_day(spark, "d3", [6]), path)
    delta_io.ensure_properties(spark, path, {"delta.logRetentionDuration": "interval 30 days"})
    DeltaTable.forPath(spark, path).optimize().executeCompaction()
    latest, reason = delta_io.rows_removed_since(spark, path, first)
    assert reason is None
    assert latest.version > first.version + 3

    # A rerun of a date replaces its files: rows may be gone (here 2 is).
    _ingest(spark, path, "d1", [1, 3])
    after_rerun, reason = delta_io.rows_removed_since(spark, path, latest)
    assert reason == f"commit {after_rerun.version} (WRITE) may have removed rows"
    assert delta_io.rows_removed_since(spark, path, after_rerun) == (after_rerun, None)
    # ... and stays a reason for any mark before it.
    assert delta_io.rows_removed_since(spark, path, first)[1] == f"commit {after_rerun.version} (WRITE) may have removed rows"

    DeltaTable.forPath(spark, path).delete("id = 4")
    after_delete, reason = delta_io.rows_removed_since(spark, path, after_rerun)
    assert reason == f"commit {after_delete.version} (DELETE) may have removed rows"


def test_a_mark_the_history_cannot_confirm_is_a_reason(spark, tmp_path):
    path = str(tmp_path / "bronze")
    _ingest(spark, path, "d1", [1, 2])
    _ingest(spark, path, "d2", [3])
    mark, _ = delta_io.rows_removed_since(spark, path, None)

    future = delta_io.CommitMark(mark.version + 5, mark.timestamp_ms)
    assert delta_io.rows_removed_since(spark, path, future)[1] == (
        f"commit {future.version} is not among the table's last {delta_io.HISTORY_LOOKBACK} commits")

    # The table deleted and created again with as many commits: same version, another commit.
    shutil.rmtree(path)
    _ingest(spark, path, "d1", [1])
    _ingest(spark, path, "d2", [3])
    again, reason = delta_io.rows_removed_since(spark, path, mark)
    assert again.version == mark.version and again.timestamp_ms != mark.timestamp_ms
    assert reason == f"commit {mark.version} has another timestamp than recorded (the table was created again)"
