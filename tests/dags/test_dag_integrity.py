"""Every DAG imports cleanly and quickly, without connections or variables, and is well-formed."""

from __future__ import annotations

import os
import time

import pytest

from scv.config import PROJECT_ROOT

DAGS_FOLDER = PROJECT_ROOT / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    started = time.monotonic()
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    bag.parse_seconds = time.monotonic() - started
    return bag


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_parsing_is_fast(dagbag):
    # No Spark, no data, no network at parse time: the whole folder parses in seconds.
    assert dagbag.parse_seconds < 30, f"parsing took {dagbag.parse_seconds:.1f}s"


def test_expected_dags_exist(dagbag):
    assert {"scv_daily", "scv_propensity_retrain", "scv_propensity_scoring"} <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_id", ["scv_daily", "scv_propensity_retrain", "scv_propensity_scoring"])
def test_dag_conventions(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert dag.tags, "tags"
    assert dag.doc_md and len(dag.doc_md) > 200, "DAG docs"
    for task in dag.tasks:
        assert task.owner and task.owner != "airflow", f"{task.task_id} owner"
        assert task.retries >= 2 or task.task_id.startswith("bronze.ingest_") and task.retries == 0, f"{task.task_id} retries"
        assert task.execution_timeout is not None, f"{task.task_id} timeout"
        assert task.doc_md, f"{task.task_id} docs"


def test_no_cycles_and_bronze_feeds_silver(dagbag):
    dag = dagbag.get_dag("scv_daily")
    order = [t.task_id for t in dag.topological_sort()]
    assert order.index("silver_standardise") > max(i for i, t in enumerate(order) if t.startswith("bronze."))
    # Gold is published only after every gold gate; features and the SQL models read published gold.
    gold_gates = [i for i, t in enumerate(order) if t.startswith("gate_gold.")]
    assert len(gold_gates) >= 3
    assert order.index("publish_gold") > max(gold_gates)
    assert order.index("publish_gold") < order.index("customer_features") < order.index("gold_sql_models")
    # Stewards' outputs read what link_records wrote and do not hold up the golden build.
    review = dag.get_task("steward_review")
    assert review.upstream_task_ids == {"link_records"}
    assert not review.downstream_task_ids
    features = dag.get_task("customer_features")
    assert dag.get_task("publish_gold").task_id in features.upstream_task_ids
    assert any(o.uri.endswith("gold/customer_features") for o in features.outlets)


def test_one_ingest_task_per_source_contract(dagbag):
    from scv.contracts import load_contracts

    dag = dagbag.get_dag("scv_daily")
    names = set(load_contracts(PROJECT_ROOT / "include" / "sources").contracts)
    ingest = {t.task_id.removeprefix("bronze.ingest_") for t in dag.tasks if t.task_id.startswith("bronze.ingest_")}
    assert ingest == names


def test_parsing_needs_no_connections_or_variables(monkeypatch, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    # Point the secrets backend at empty files: any connection/variable lookup would fail.
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", "airflow.secrets.local_filesystem.LocalFilesystemBackend")
    (tmp_path / "empty.json").write_text("{}")
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND_KWARGS", f'{{"connections_file_path": "{tmp_path}/empty.json", "variables_file_path": "{tmp_path}/empty.json"}}')
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
