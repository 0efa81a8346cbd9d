"""Backfilling scv_daily's bronze stage through Airflow after a later date has already run.

The bronze task group of the real ``scv_daily`` DAG (a ``partial_subset``, the same operators and
contracts) is run with ``dag.test()`` for the latest delivery first and then for the three earlier
ones, the order a data engineer's backfill takes once the daily schedule has moved on. Every date
must land in every source's bronze table, each file exactly once, and rerunning an already
backfilled date must leave the tables identical. The scheduler-driven path (``airflow backfill
create``) creates the same runs; its dry run is checked to plan exactly the requested dates, including
dates that already have runs (``--reprocess-behavior completed``).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from scv.config import PROJECT_ROOT

FIRST_DAY = dt.date(2026, 11, 19)
DAYS = [FIRST_DAY + dt.timedelta(days=i) for i in range(4)]
PEOPLE = 120


def _logical(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    from scv.generate import generate_landing

    root = tmp_path_factory.mktemp("landing-backfill")
    for index, day in enumerate(DAYS):
        generate_landing(root, people=PEOPLE, seed=11, run_date=day, day_index=index, new_record_fraction=0.05)
    return root


@pytest.fixture
def lakehouse_env(monkeypatch, tmp_path, landing):
    monkeypatch.setenv("SCV_LANDING_ROOT", str(landing))
    monkeypatch.setenv("SCV_LAKEHOUSE_ROOT", str(tmp_path / "lakehouse"))
    monkeypatch.setenv("SCV_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SCV_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("SCV_SHUFFLE_PARTITIONS", "2")
    monkeypatch.setenv("SCV_TASK_RETRIES", "0")
    return tmp_path


def _bronze_subset():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    dag = bag.get_dag("scv_daily")
    ingest_ids = [t for t in dag.task_ids if t.startswith("bronze.ingest_")]
    assert ingest_ids, dag.task_ids
    return dag.partial_subset(task_ids=ingest_ids, include_upstream=False, include_downstream=False), ingest_ids


def _bronze_counts(spark, lakehouse: Path, sources: list[str]) -> dict[tuple[str, dt.date], int]:
    counts = {}
    for source in sources:
        frame = spark.read.format("delta").load(str(lakehouse / "bronze" / source))
        for row in frame.groupBy("_logical_date").agg(F.count("*").alias("n")).collect():
            counts[(source, row["_logical_date"])] = row["n"]
    return counts


def test_backfilling_three_earlier_dates_after_a_later_one_writes_all_of_them(spark, lakehouse_env, landing):
    dag, ingest_ids = _bronze_subset()
    sources = [t.removeprefix("bronze.ingest_") for t in ingest_ids]

    latest = dag.test(logical_date=_logical(DAYS[-1]))
    assert str(latest.state) == "success", {ti.task_id: ti.state for ti in latest.get_task_instances()}
    for day in DAYS[:-1]:  # the backfill, after the schedule has moved on
        run = dag.test(logical_date=_logical(day))
        assert str(run.state) == "success", (day, {ti.task_id: ti.state for ti in run.get_task_instances()})

    lakehouse = lakehouse_env / "lakehouse"
    counts = _bronze_counts(spark, lakehouse, sources)
    person_sources = [s for s in sources if s in ("crm", "webshop", "loyalty")]
    for source in person_sources:
        for day in DAYS:
            assert counts.get((source, day), 0) > 0, (source, day, counts)

    # Each landing file was ingested once, by the run of its own delivery date.
    manifest = spark.read.format("delta").load(str(lakehouse / "ops" / "ingest_files"))
    assert manifest.groupBy("file_path").count().where("count > 1").count() == 0
    mismatched = manifest.where("delivery_date IS NOT NULL AND delivery_date <> logical_date")
    assert mismatched.count() == 0, mismatched.select("source_system", "logical_date", "delivery_date").collect()
    assert {r.logical_date for r in manifest.select("logical_date").distinct().collect()} == set(DAYS)

    # Rerunning a backfilled date changes nothing.
    rerun = dag.test(logical_date=_logical(DAYS[1]))
    assert str(rerun.state) == "success"
    assert _bronze_counts(spark, lakehouse, sources) == counts


def test_scheduler_backfill_plans_exactly_the_requested_dates(lakehouse_env):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT / "dags"), os.environ.get("PYTHONPATH", "")]))
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "dags", "reserialize", "--bundle-name", "dags-folder"], env=env, check=True, capture_output=True, text=True, timeout=600)
    result = subprocess.run(
        [airflow, "backfill", "create", "--dag-id", "scv_daily", "--from-date", DAYS[0].isoformat(), "--to-date", DAYS[2].isoformat(),
         "--reprocess-behavior", "completed", "--dry-run"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "Runs to be attempted" in output, output
    planned = output.split("Runs to be attempted", 1)[1]
    planned_dates = sorted({line.split("|")[1].strip()[:10] for line in planned.splitlines() if line.startswith("| 20")})
    assert planned_dates == [day.isoformat() for day in DAYS[:3]], planned
