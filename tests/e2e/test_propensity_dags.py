"""Whole-DAG runs of scv_propensity_retrain and scv_propensity_scoring with dag.test().

The gold inputs are written directly by the test (events and an xref from a small generated
landing zone, features by the features job) instead of running scv_daily. Two broad product
groups and four training cutoffs keep the runs short; the model quality itself is covered by
tests/spark/test_propensity_training.py.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
import yaml
from pyspark.sql import functions as F

from scv.config import PROJECT_ROOT

RUN_DATE = dt.date(2026, 11, 22)
LOGICAL_DATE = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)
PEOPLE = 800
GROUPS = {
    "version": 1,
    "groups": [
        {"name": "everyday", "categories": ["grocery", "beauty", "clothing"], "horizon_days": 30},
        {"name": "leisure", "categories": ["home", "garden", "toys", "sports", "electronics"], "horizon_days": 30},
    ],
    "training": {"train_cutoffs": 4, "cutoff_step_days": 21, "model": {"max_iter": 15}},
}
# What the lead registers in scv.jobs.JOBS; patched in until then (a no-op afterwards).
JOBS = {
    "customer_features": "scv.jobs.features:run",
    "train_propensity": "scv.jobs.propensity:train",
    "score_propensity": "scv.jobs.propensity:score",
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    from scv.generate import generate_landing

    root = tmp_path_factory.mktemp("landing")
    generate_landing(root, people=PEOPLE, seed=5, run_date=RUN_DATE)
    return root


@pytest.fixture
def env(spark, monkeypatch, tmp_path, landing):
    from scv import delta_io
    from scv.config import Settings
    from scv.jobs import JOBS as REGISTRY
    from scv.propensity.sample import sample_events, sample_xref

    include = tmp_path / "include"
    shutil.copytree(PROJECT_ROOT / "include", include)
    (include / "propensity" / "product_groups.yml").write_text(yaml.safe_dump(GROUPS))
    for name, value in {
        "SCV_LANDING_ROOT": str(landing),
        "SCV_LAKEHOUSE_ROOT": str(tmp_path / "lakehouse"),
        "SCV_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "SCV_INCLUDE_DIR": str(include),
        "SCV_SPARK_MASTER": "local[2]",
        "SCV_SHUFFLE_PARTITIONS": "2",
        "SCV_TASK_RETRIES": "0",  # a failing task fails the run now instead of waiting to retry
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    for job, target in JOBS.items():
        assert REGISTRY.get(job, target) == target, f"scv.jobs.JOBS[{job!r}] should be {target!r}"
        monkeypatch.setitem(REGISTRY, job, target)

    settings = Settings.from_env()
    delta_io.overwrite(sample_events(spark, str(landing)), settings.table_path("silver", "events"))
    delta_io.overwrite(sample_xref(spark, str(landing)), settings.table_path("gold", "customer_xref"))
    return settings


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


def task_states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_retrain_then_score_every_customer_and_group_and_isolate_a_missing_champion(spark, env):
    from mlflow import MlflowClient

    from scv.jobs import features as features_job
    from scv.propensity.registry import tracking_uri

    retrain = load_dag("scv_propensity_retrain")
    assert {t.task_id for t in retrain.tasks} == {"train_everyday", "train_leisure"}
    run = retrain.test(logical_date=LOGICAL_DATE)
    states = task_states(run)
    assert str(run.state) == "success", states

    client = MlflowClient(tracking_uri=tracking_uri(env), registry_uri=tracking_uri(env))
    champions = {g: str(client.get_model_version_by_alias(f"scv_propensity_{g}", "champion").version) for g in ("everyday", "leisure")}
    assert champions == {"everyday": "1", "leisure": "1"}

    features_job.run(spark, env, logical_date=RUN_DATE.isoformat(), run_id="test")
    scoring = load_dag("scv_propensity_scoring")
    run = scoring.test(logical_date=LOGICAL_DATE)
    states = task_states(run)
    assert str(run.state) == "success", states
    assert set(states) == {"as_of_date", "score_everyday", "score_leisure"}

    scores = spark.read.format("delta").load(env.table_path("gold", "propensity_scores"))
    customers = spark.read.format("delta").load(env.table_path("gold", "customer_xref")).select("customer_id").distinct().count()
    per_group = {r.product_group: (r.n, r.version, r.as_of) for r in scores.groupBy("product_group").agg(
        F.countDistinct("customer_id").alias("n"), F.max("model_version").alias("version"), F.max("as_of_date").alias("as_of")
    ).collect()}
    assert per_group == {g: (customers, champions[g], RUN_DATE) for g in champions}
    assert scores.count() == 2 * customers

    def content(group):
        frame = spark.read.format("delta").load(env.table_path("gold", "propensity_scores"))
        return sorted(frame.where(F.col("product_group") == group).drop("scored_at").collect())

    everyday_before, leisure_before = content("everyday"), content("leisure")
    client.delete_registered_model_alias("scv_propensity_leisure", "champion")
    run = scoring.test(logical_date=LOGICAL_DATE)
    states = task_states(run)
    assert states["score_leisure"] == "failed" and states["score_everyday"] == "success", states
    assert content("everyday") == everyday_before  # a rerun of the date gives the same rows
    assert content("leisure") == leisure_before  # the failed group's scores are left as they were


PARSE_CHECK = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bags = [DagBag(dag_folder=sys.argv[1] + f"/{name}.py") for name in sys.argv[2:]]
out = {"errors": {k: str(v) for b in bags for k, v in b.import_errors.items()}, "dags": {}}
for bag in bags:
    for dag_id, dag in bag.dags.items():
        out["dags"][dag_id] = {
            "tags": sorted(dag.tags), "doc": len(dag.doc_md or ""),
            "tasks": {t.task_id: [t.owner, t.retries, t.execution_timeout is not None, bool(t.doc_md)] for t in dag.tasks},
        }
out["spark_or_mlflow_imported"] = sorted(m for m in ("pyspark", "mlflow", "py4j") if m in sys.modules)
print(json.dumps(out))
"""


def test_dags_parse_without_spark_or_mlflow_and_follow_conventions():
    import json
    import os
    import subprocess
    import sys

    names = ["scv_propensity_retrain", "scv_propensity_scoring"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT / "dags")])}
    done = subprocess.run(
        [sys.executable, "-c", PARSE_CHECK, str(PROJECT_ROOT / "dags"), *names],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["errors"] == {} and out["spark_or_mlflow_imported"] == []
    assert set(out["dags"]) == set(names)
    for dag_id, dag in out["dags"].items():
        assert "propensity" in dag["tags"] and dag["doc"] > 200, dag_id
        for task_id, (owner, retries, timeout, doc) in dag["tasks"].items():
            assert owner not in ("", "airflow") and retries >= 2 and timeout and doc, (dag_id, task_id)
