"""scv_daily end to end (bronze -> silver -> link -> golden, with its gates) with the landing zone
and the lakehouse both on S3: a moto server on loopback, Spark through s3a, boto3 listing."""

from __future__ import annotations

import datetime as dt
import os

from scv import storage
from scv.config import PROJECT_ROOT, Settings

RUN_DATE = dt.date(2026, 11, 22)
PEOPLE = 100


def test_scv_daily_runs_on_s3(spark, s3_settings, moto_s3, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from scv.cli import truth_frame
    from scv.generate import generate_landing

    local_landing = tmp_path / "generated"
    generate_landing(local_landing, people=PEOPLE, seed=11, run_date=RUN_DATE)
    client = storage.s3_client(moto_s3)
    landing_bucket, landing_prefix = storage.split_bucket_key(s3_settings.landing_root)
    uploaded = 0
    for path in sorted(local_landing.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), landing_bucket, f"{landing_prefix}/{path.relative_to(local_landing).as_posix()}")
            uploaded += 1
    assert uploaded >= 5

    env = {
        "SCV_LANDING_ROOT": s3_settings.landing_root,
        "SCV_LAKEHOUSE_ROOT": s3_settings.lakehouse_root,
        "SCV_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "SCV_SPARK_MASTER": "local[2]",
        "SCV_SHUFFLE_PARTITIONS": "2",
        "SCV_COMPUTE_BACKEND": "local",
        "SCV_TASK_RETRIES": "0",  # read when the DAG file is parsed: a failure fails the run at once
        # The Makefile's development-only HMAC key for keyed hashes of identifiers (scv.privacy).
        "AIRFLOW_CONN_SCV_PII_HMAC": os.environ.get(
            "AIRFLOW_CONN_SCV_PII_HMAC", "generic://:scv-development-only-hmac-key-not-secret@"
        ),
        "AWS_ENDPOINT_URL": moto_s3.endpoint_url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": moto_s3.access_key_id,
        "AWS_SECRET_ACCESS_KEY": moto_s3.secret_access_key,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    dag_run = bag.get_dag("scv_daily").test(logical_date=dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc))
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success", states
    for stage in ("bronze.ingest_crm", "silver_standardise", "link_records", "build_golden", "publish_gold"):
        assert states[stage] == "success"

    settings = Settings.from_env()
    assert settings.lakehouse_root.startswith("s3a://")
    truth = truth_frame(spark, settings)  # read back from S3 through s3a
    xref = spark.read.format("delta").load(settings.table_path("gold", "customer_xref"))
    golden = spark.read.format("delta").load(settings.table_path("gold", "customer_golden"))
    assert xref.count() == truth.count() > PEOPLE
    assert truth.join(xref, "record_id", "left_anti").count() == 0
    assert golden.count() == xref.select("customer_id").distinct().count()
    # The tables really live in the bucket (Delta logs under the lakehouse prefix).
    bucket, prefix = storage.split_bucket_key(settings.lakehouse_root)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/gold/customer_golden/_delta_log/")
    assert any(item["Key"].endswith(".json") for page in pages for item in page.get("Contents", []))
