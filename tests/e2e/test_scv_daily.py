"""Whole-DAG runs of scv_daily with dag.test() on real Spark, Delta and Airflow (SQLite).

One small generated landing zone is shared by the module; each test gets its own lakehouse.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from scv.config import PROJECT_ROOT

RUN_DATE = dt.date(2026, 11, 22)
LOGICAL_DATE = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)
PEOPLE = 400
F1_FLOOR = 0.90


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    from scv.generate import generate_landing

    root = tmp_path_factory.mktemp("landing")
    generate_landing(root, people=PEOPLE, seed=7, run_date=RUN_DATE)
    return root


@pytest.fixture
def lakehouse_env(monkeypatch, tmp_path, landing):
    monkeypatch.setenv("SCV_LANDING_ROOT", str(landing))
    monkeypatch.setenv("SCV_LAKEHOUSE_ROOT", str(tmp_path / "lakehouse"))
    monkeypatch.setenv("SCV_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SCV_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("SCV_SHUFFLE_PARTITIONS", "2")
    return tmp_path


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


def task_states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def delta(spark, root: Path, layer: str, name: str):
    return spark.read.format("delta").load(str(root / "lakehouse" / layer / name))


def test_scv_daily_end_to_end(spark, lakehouse_env, landing):
    from scv.cli import run_summary, truth_frame
    from scv.config import Settings

    events_before = last_asset_event_id()
    dag_run = load_dag("scv_daily").test(logical_date=LOGICAL_DATE)
    states = task_states(dag_run)
    assert str(dag_run.state) == "success", states
    assert set(states.values()) == {"success"}

    settings = Settings.from_env()
    truth = truth_frame(spark, settings)
    xref = delta(spark, lakehouse_env, "gold", "customer_xref")
    golden = delta(spark, lakehouse_env, "gold", "customer_golden")

    # Every source record appears exactly once in the xref.
    assert xref.count() == truth.count()
    assert xref.groupBy("record_id").count().where("count > 1").count() == 0
    assert truth.join(xref, "record_id", "left_anti").count() == 0
    # Golden rows = customers.
    assert golden.count() == xref.select("customer_id").distinct().count()
    assert golden.groupBy("customer_id").count().where("count > 1").count() == 0

    summary = run_summary(spark, settings)
    pairwise = summary["pairwise"]
    assert pairwise["f1"] >= F1_FLOOR, pairwise

    # Every golden definition has its pseudonymised table and its restricted personal table.
    for table, pii_table in (("customer_golden", "customer_pii"), ("customer_service", "customer_service_pii")):
        analytics = delta(spark, lakehouse_env, "gold", table)
        personal = delta(spark, lakehouse_env, "gold", pii_table)
        assert analytics.count() == golden.count()
        assert personal.count() == golden.count()
        assert "email" not in analytics.columns and "email" in personal.columns
    # Features for the run date, and the SQL models over gold.
    features = delta(spark, lakehouse_env, "gold", "customer_features")
    assert features.select("as_of_date").distinct().collect()[0][0] == RUN_DATE
    assert features.select("customer_id").distinct().count() == golden.count()
    dim = delta(spark, lakehouse_env, "gold", "dim_customer")
    assert dim.where("is_current").count() == golden.count()
    assert delta(spark, lakehouse_env, "gold", "customer_360").count() == golden.count()
    assert delta(spark, lakehouse_env, "gold", "fact_purchase").count() > 0

    # The features Asset event says which snapshot it is: scv_propensity_scoring scores that date.
    # Other tests in the session run scv_daily for the same date on the same Airflow database,
    # so only the events this run emitted count.
    assert features_event_extras(after_id=events_before) == [{"as_of_date": RUN_DATE.isoformat()}]


def last_asset_event_id() -> int:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(select(func.coalesce(func.max(AssetEvent.id), 0)))


def features_event_extras(after_id: int) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [
            e.extra
            for e in session.scalars(
                select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .where(AssetModel.uri == "scv://lakehouse/gold/customer_features", AssetEvent.source_dag_id == "scv_daily")
                .where(AssetEvent.id > after_id)
            )
        ]


def test_missing_source_files_fail_the_source_task_and_stop_downstream(spark, lakehouse_env, landing, monkeypatch, tmp_path):
    broken_landing = tmp_path / "landing-without-loyalty"
    shutil.copytree(landing, broken_landing, ignore=shutil.ignore_patterns("loyalty_cards_*"))
    monkeypatch.setenv("SCV_LANDING_ROOT", str(broken_landing))
    monkeypatch.setenv("SCV_TASK_RETRIES", "0")

    dag_run = load_dag("scv_daily").test(logical_date=LOGICAL_DATE)
    states = task_states(dag_run)
    assert states["bronze.ingest_loyalty"] == "failed"
    assert states["bronze.ingest_crm"] == "success"
    assert states["silver_standardise"] in ("upstream_failed", "None")
    assert not (lakehouse_env / "lakehouse" / "bronze" / "loyalty").exists()
    assert not (lakehouse_env / "lakehouse" / "gold").exists()
