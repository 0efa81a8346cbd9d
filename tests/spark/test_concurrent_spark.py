"""scv.concurrent_spark: independent Spark actions from threads of one session."""

import threading
import time

import pytest

from scv.concurrent_spark import run_concurrently


def test_results_come_back_by_name_in_the_given_order(spark):
    started = []

    def task(name):
        def run():
            started.append(threading.current_thread().name)
            time.sleep(0.05)
            return name.upper()
        return run

    result = run_concurrently(spark, {n: task(n) for n in ("c", "a", "b")}, max_workers=3)
    assert list(result) == ["c", "a", "b"]
    assert result == {"c": "C", "a": "A", "b": "B"}
    assert all(name.startswith("scv-spark") for name in started)


def test_a_failure_is_raised_after_the_other_tasks_finished_and_names_its_task(spark):
    finished = []

    def slow():
        time.sleep(0.3)
        finished.append("slow")
        return 1

    def broken():
        raise KeyError("missing column")

    with pytest.raises(KeyError) as raised:
        run_concurrently(spark, {"slow": slow, "broken": broken}, max_workers=2)
    assert finished == ["slow"]
    assert "in the concurrent task 'broken'" in raised.value.__notes__


def test_max_workers_must_be_positive(spark):
    with pytest.raises(ValueError, match="max_workers"):
        run_concurrently(spark, {"a": lambda: 1}, max_workers=0)


def test_concurrent_delta_writes_to_separate_tables_each_commit(spark, tmp_path):
    frames = {f"t{i}": spark.range(i * 100, i * 100 + 50 + i) for i in range(4)}

    def write(name):
        def run():
            frames[name].write.format("delta").mode("overwrite").save(str(tmp_path / name))
            return spark.read.format("delta").load(str(tmp_path / name)).count()
        return run

    counts = run_concurrently(spark, {name: write(name) for name in frames}, max_workers=4)
    assert counts == {"t0": 50, "t1": 51, "t2": 52, "t3": 53}
    assert spark.read.format("delta").load(str(tmp_path / "t3")).agg({"id": "min"}).first()[0] == 300


def test_threads_inherit_the_callers_spark_job_group(spark):
    spark.sparkContext.setLocalProperty("scv.test.marker", "from-the-caller")
    try:
        seen = run_concurrently(
            spark,
            {n: (lambda: spark.sparkContext.getLocalProperty("scv.test.marker")) for n in ("a", "b")}, max_workers=2
        )
    finally:
        spark.sparkContext.setLocalProperty("scv.test.marker", None)
    assert seen == {"a": "from-the-caller", "b": "from-the-caller"}


def test_writers_that_find_a_shared_table_missing_at_once_all_land_their_partition(spark, tmp_path):
    """The bronze branches of a first run: each source writes its partition of one table that
    none of them finds (delta_io.ensure_table's CREATE race)."""
    from pyspark.sql import functions as F

    from scv import delta_io

    path = str(tmp_path / "shared")

    def write(source):
        def run():
            rows = spark.range(10).withColumn("source_system", F.lit(source))
            delta_io.replace_where(rows, path, f"source_system = '{source}'", ["source_system"], {"delta.appendOnly": "false"})
        return run

    sources = ["crm", "loyalty", "pos", "webshop"]
    run_concurrently(spark, {s: write(s) for s in sources}, max_workers=4)
    counts = {r.source_system: r["count"] for r in spark.read.format("delta").load(path).groupBy("source_system").count().collect()}
    assert counts == {s: 10 for s in sources}


def test_creators_without_a_shared_lock_wait_for_the_table_another_one_created(spark, tmp_path):
    """Separate processes (Airflow tasks) creating one table at once: the losers' CREATE fails with a
    concurrent-modification or "location not empty" error, and they wait for the winner's table."""
    from pyspark.sql import functions as F

    from scv import delta_io

    schema = spark.range(1).withColumn("source_system", F.lit("x")).schema
    for attempt in range(4):
        path = str(tmp_path / f"created_{attempt}")
        run_concurrently(spark, {n: (lambda: delta_io._create_table(spark, path, schema, ["source_system"], None)) for n in "abcd"},
                         max_workers=4)
        history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()
        assert [row.operation for row in history] == ["CREATE TABLE"], (attempt, history)
