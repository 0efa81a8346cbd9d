"""
# scv_linkage_training: a new entity-resolution model version, on demand and weekly

Every Sunday (and whenever triggered), **train_linkage_model** trains the Splink model on the
current `silver/person_records`: the prior from deterministic rules, u by random sampling, m by
expectation maximisation on several blocking rules (`scv.linkage.train_model`). It writes a new
version under `SCV_ARTIFACTS_DIR/models/linkage/<version>/`: `model.json`, `training.json` and
the charts `match_weights.html` and `m_u_parameters.html` (open them in a browser).

A new version is **not** used until it is approved: daily runs of `scv_daily` predict with the
version named in `models/linkage/approved.json` and record it in `silver/record_customer`
(`model_version`). Approve by triggering this DAG with `approve=true` (the version it trains is
approved at once) or, after reading the charts, with `scv approve-model <version> --by <name>`.
Changing the approved model makes the next daily run re-link every record (same ids for
unchanged customers).

Params: `approve` (default false).
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, Param
from scv_airflow import assets
from scv_airflow.operators.spark_job import ScvSparkJobOperator

RETRIES = int(os.environ.get("SCV_TASK_RETRIES", "2"))
RETRY_DELAY = dt.timedelta(seconds=int(os.environ.get("SCV_RETRY_DELAY_SECONDS", "120")))

with DAG(
    dag_id="scv_linkage_training",
    description="Train a versioned entity-resolution model with its charts; approve on request",
    doc_md=__doc__,
    schedule="0 3 * * 0",  # Sundays 03:00
    start_date=dt.datetime(2026, 1, 4),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "scv-data-engineering",
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "execution_timeout": dt.timedelta(hours=4),
    },
    tags=["scv", "linkage", "ml", "weekly"],
    params={
        "approve": Param(False, type="boolean", description="Approve the trained version for daily runs"),
    },
) as dag:
    ScvSparkJobOperator(
        task_id="train_linkage_model",
        job="train_linkage_model",
        job_kwargs={"logical_date": "{{ ds }}", "run_id": "{{ run_id }}", "approve_model": "{{ params.approve }}"},
        inlets=[assets.SILVER_PERSON_RECORDS],
        doc_md="Train a new linkage model version with its charts; approve it if `approve` is set.",
    )
