"""scv.spark: what the shared driver keeps between jobs."""

from __future__ import annotations

import time

from scv.spark import release_finished_query_jobs


def test_jobs_filed_under_a_query_that_is_not_running_are_forgotten(spark):
    sc = spark.sparkContext
    scheduler = sc._jsc.sc().dagScheduler()
    # A job submitted under the id of a SQL execution that is not running (what a late
    # broadcast or cache build does): Spark 4.2 files it under that id and never drops it.
    stale_id = "987654321012"
    sc.setLocalProperty("spark.sql.execution.id", stale_id)
    try:
        assert sc.parallelize(range(10), 2).count() == 10
    finally:
        sc.setLocalProperty("spark.sql.execution.id", None)
    kept = {int(i) for i in scheduler.activeQueryToJobs().keySet().toArray()}
    assert int(stale_id) in kept

    assert release_finished_query_jobs(spark) >= 1
    # The scheduler drops them on its event loop: wait for it.
    deadline = time.monotonic() + 10
    while int(stale_id) in {int(i) for i in scheduler.activeQueryToJobs().keySet().toArray()}:
        assert time.monotonic() < deadline, "the finished query's jobs are still kept"
        time.sleep(0.1)
    assert release_finished_query_jobs(spark) == 0
