"""scv_linkage_training with dag.test(): a versioned model with its charts, approval by param or
by `scv approve-model`, and the daily link job predicting with the approved version."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from scv.config import PROJECT_ROOT

LOGICAL_DATE = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)


@pytest.fixture
def env(spark, monkeypatch, tmp_path):
    from scv import delta_io
    from scv.config import Settings

    for name, value in {
        "SCV_LANDING_ROOT": str(tmp_path / "landing"),
        "SCV_LAKEHOUSE_ROOT": str(tmp_path / "lakehouse"),
        "SCV_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "SCV_SPARK_MASTER": "local[2]",
        "SCV_SHUFFLE_PARTITIONS": "2",
        "SCV_TASK_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    sys.path.insert(0, str(PROJECT_ROOT / "tests" / "spark"))
    from test_linkage import synthetic_records

    rows, _ = synthetic_records(n_people=100, seed=3)
    settings = Settings.from_env()
    delta_io.overwrite(spark.createDataFrame(rows), settings.table_path("silver", "person_records"))
    return settings


def _run(dag_id: str, **kwargs):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    run = bag.get_dag(dag_id).test(logical_date=LOGICAL_DATE, **kwargs)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    return run


def test_training_dag_versions_models_and_approval_decides_what_daily_runs_use(spark, env):
    from scv.cli import main as scv_cli
    from scv.jobs import linkage as link_job

    models = link_job.model_dir(env)
    _run("scv_linkage_training")
    (first,) = [p for p in models.iterdir() if p.is_dir()]
    assert {"model.json", "training.json", "match_weights.html", "m_u_parameters.html"} <= {
        p.name for p in first.iterdir()
    }
    assert not link_job.approved_model_path(env).exists()  # not approved without the param

    _run("scv_linkage_training", run_conf={"approve": True})
    versions = sorted(p.name for p in models.iterdir() if p.is_dir())
    assert len(versions) == 2 and versions[0] == first.name
    assert json.loads(link_job.approved_model_path(env).read_text())["version"] == versions[1]

    # A steward approves the older version after reading its charts; daily runs use it.
    assert scv_cli(["approve-model", first.name, "--by", "alice"]) == 0
    approval = json.loads(link_job.approved_model_path(env).read_text())
    assert approval["version"] == first.name and approval["approved_by"] == "alice"
    with pytest.raises(FileNotFoundError):
        scv_cli(["approve-model", "no-such-version", "--by", "alice"])

    summary = link_job.run(spark, env, logical_date="2026-11-22", run_id="t")
    assert summary["model_version"] == first.name
    table = spark.read.format("delta").load(env.table_path("silver", "record_customer"))
    assert {r.model_version for r in table.select("model_version").distinct().collect()} == {first.name}
