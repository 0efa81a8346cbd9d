"""Delta tables and landing files on S3, for real: Spark's s3a connector (hadoop-aws) and boto3
against a moto S3 server on loopback."""

from __future__ import annotations

import datetime as dt

from delta.tables import DeltaTable
from pyspark.sql import functions as F

from scv import delta_io, storage
from scv.contracts import load_contracts
from scv.ingest.bronze import discover_files
from scv.spark import build_spark_session


def keys(s3, bucket: str, prefix: str) -> list[str]:
    client = storage.s3_client(s3)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def test_delta_write_read_merge_delete_vacuum_through_s3a(spark, s3_settings):
    session = build_spark_session(s3_settings)  # the shared session, now configured for moto
    assert session.sparkContext._jsc.hadoopConfiguration().get("fs.s3a.endpoint") == s3_settings.s3.endpoint_url
    path = s3_settings.table_path("silver", "accounts")
    assert path.startswith("s3a://")

    first = session.createDataFrame([(i, f"v{i}") for i in range(20)], "id INT, value STRING")
    delta_io.overwrite(first, path, properties=delta_io.stats_columns_property(["id"]))
    assert session.read.format("delta").load(path).count() == 20

    updates = session.createDataFrame([(5, "changed"), (100, "new")], "id INT, value STRING")
    table = DeltaTable.forPath(session, path)
    (
        table.alias("t")
        .merge(updates.alias("u"), "t.id = u.id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    table.delete("id < 3")
    rows = {r.id: r.value for r in session.read.format("delta").load(path).collect()}
    assert len(rows) == 20 - 3 + 1
    assert rows[5] == "changed" and rows[100] == "new" and 0 not in rows

    history = [r.operation for r in table.history().orderBy("version").collect()]
    assert history[-2:] == ["MERGE", "DELETE"]

    bucket, prefix = storage.split_bucket_key(path + "/")
    data_files_before = [k for k in keys(s3_settings.s3, bucket, prefix) if k.endswith(".parquet")]
    assert any(k.startswith(prefix + "_delta_log/") for k in keys(s3_settings.s3, bucket, prefix))

    conf = session.conf
    previous = conf.get("spark.databricks.delta.retentionDurationCheck.enabled", "true")
    conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        table.vacuum(0.0)
    finally:
        conf.set("spark.databricks.delta.retentionDurationCheck.enabled", previous)
    data_files_after = [k for k in keys(s3_settings.s3, bucket, prefix) if k.endswith(".parquet")]
    # The overwritten / rewritten files are gone from the bucket; the table still reads the same.
    assert len(data_files_after) < len(data_files_before)
    assert session.read.format("delta").load(path).count() == len(rows)
    assert session.read.format("delta").load(path).where(F.col("id") == 5).first().value == "changed"


def test_landing_files_are_discovered_with_boto3(spark, s3_settings):
    client = storage.s3_client(s3_settings.s3)
    bucket, prefix = storage.split_bucket_key(s3_settings.landing_root)
    objects = {
        "crm/crm_customers_20261122.csv": b"id,name\n1,x\n",
        "crm/crm_customers_20261123.csv": b"",  # an empty delivery is still a delivery
        "crm/_SUCCESS": b"",
        "crm/.hidden.csv": b"id\n",
        "crm/archive/crm_customers_20261101.csv": b"id\n",  # * does not cross /
        "crm/notes.txt": b"x",
        "loyalty/loyalty_20261122.csv": b"id\n",
    }
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body)

    listed = storage.list_files(spark, s3_settings, f"{s3_settings.landing_root}/crm/*.csv")
    names = [f.path.rsplit("/", 1)[-1] for f in listed]
    assert names == [".hidden.csv", "crm_customers_20261122.csv", "crm_customers_20261123.csv"]
    assert all(f.path.startswith(f"s3a://{bucket}/{prefix}/crm/") for f in listed)
    assert [f.size for f in listed][1:] == [12, 0]

    crm = load_contracts(s3_settings.sources_dir).contracts["crm"]
    assert crm.path == "crm/*.csv"
    found = discover_files(spark, s3_settings, crm)
    assert [(f["path"].rsplit("/", 1)[-1], f["delivery_date"]) for f in found] == [
        ("crm_customers_20261122.csv", dt.date(2026, 11, 22)),
        ("crm_customers_20261123.csv", dt.date(2026, 11, 23)),
    ]
    # Spark reads the listed paths back through s3a: the names agree.
    session = build_spark_session(s3_settings)
    read_back = session.read.text(found[0]["path"]).select(F.col("_metadata.file_path").alias("p")).first().p
    assert read_back == found[0]["path"]


def test_s3_credentials_from_an_airflow_aws_connection(moto_s3, monkeypatch, tmp_path):
    import json

    from scv_airflow.hooks.compute import LocalSparkHook

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    connection = {
        "conn_type": "aws",
        "login": moto_s3.access_key_id,
        "password": moto_s3.secret_access_key,
        "extra": {"endpoint_url": moto_s3.endpoint_url, "region_name": "eu-west-2"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SCV_AWS_TEST", json.dumps(connection))
    monkeypatch.setenv("SCV_AWS_CONN_ID", "scv_aws_test")
    monkeypatch.setenv("SCV_LANDING_ROOT", "s3a://scv-landing/from-connection")
    monkeypatch.setenv("SCV_LAKEHOUSE_ROOT", "s3a://scv-lakehouse/from-connection")

    settings = LocalSparkHook().get_settings()
    assert settings.s3.endpoint_url == moto_s3.endpoint_url
    assert (settings.s3.region, settings.s3.path_style_access) == ("eu-west-2", True)
    assert settings.s3.access_key_id == moto_s3.access_key_id
    assert moto_s3.secret_access_key not in repr(settings)
    conf = storage.hadoop_conf(settings)
    assert conf["fs.s3a.endpoint"] == moto_s3.endpoint_url and conf["fs.s3a.secret.key"] == moto_s3.secret_access_key

    storage.s3_client(settings.s3).put_object(Bucket="scv-landing", Key="from-connection/pos/pos_20261122.csv", Body=b"a\n")
    listed = storage.list_files(None, settings, f"{settings.landing_root}/pos/*.csv")
    assert [(f.path, f.size) for f in listed] == [("s3a://scv-landing/from-connection/pos/pos_20261122.csv", 2)]
