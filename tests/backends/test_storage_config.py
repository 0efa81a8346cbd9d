"""How settings for object-store roots map to Hadoop configuration, jars and globs (no Spark),
and which settings the Airflow operators resolve."""

from __future__ import annotations

import pytest

from scv import storage
from scv.config import AzureSettings, S3Settings, Settings

ACCOUNT = "scvlake.dfs.core.windows.net"


def make(tmp_path, **env) -> Settings:
    base = {"SCV_JARS_DIR": str(tmp_path / "jars")}
    return Settings.from_env({**base, **env})


def test_local_roots_need_no_object_store_config(tmp_path):
    settings = make(tmp_path, SCV_LAKEHOUSE_ROOT=str(tmp_path / "lh"), SCV_LANDING_ROOT=str(tmp_path / "ld"))
    assert storage.hadoop_conf(settings) == {}
    assert storage.connector_jars(settings) == []


def test_s3a_roots_from_the_environment(tmp_path):
    settings = make(
        tmp_path,
        SCV_LAKEHOUSE_ROOT="s3a://lake/scv/",
        SCV_LANDING_ROOT="s3a://landing",
        AWS_ENDPOINT_URL="http://minio:9000",
        AWS_ACCESS_KEY_ID="AKIA-test",
        AWS_SECRET_ACCESS_KEY="secret-test",
    )
    assert settings.lakehouse_root == "s3a://lake/scv"
    assert settings.table_path("gold", "customer_xref") == "s3a://lake/scv/gold/customer_xref"
    conf = storage.hadoop_conf(settings)
    assert conf == {
        "fs.s3a.endpoint": "http://minio:9000",
        "fs.s3a.connection.ssl.enabled": "false",
        "fs.s3a.endpoint.region": "us-east-1",
        "fs.s3a.path.style.access": "true",  # default when an endpoint is set (MinIO, moto)
        "fs.s3a.access.key": "AKIA-test",
        "fs.s3a.secret.key": "secret-test",
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
    }
    assert "secret-test" not in repr(settings)


def test_s3_on_aws_with_session_token_and_default_chain():
    temporary = storage.s3a_conf(
        S3Settings(region="eu-west-2", access_key_id="a", secret_access_key="b", session_token="t")
    )
    assert temporary["fs.s3a.aws.credentials.provider"].endswith("TemporaryAWSCredentialsProvider")
    assert temporary["fs.s3a.session.token"] == "t"
    assert temporary["fs.s3a.endpoint.region"] == "eu-west-2"
    assert "fs.s3a.endpoint" not in temporary
    # No keys: hadoop-aws's default chain (environment, web identity, instance profile) applies.
    assert storage.s3a_conf(S3Settings()) == {}
    assert S3Settings.from_env({"AWS_ENDPOINT_URL": "http://x", "SCV_S3_PATH_STYLE_ACCESS": "false"}).path_style_access is False


def test_abfss_roots_map_to_per_account_shared_key_or_oauth(tmp_path):
    env = {
        "SCV_LAKEHOUSE_ROOT": f"abfss://lakehouse@{ACCOUNT}/scv",
        "SCV_LANDING_ROOT": f"abfss://landing@{ACCOUNT}/",
        "AZURE_STORAGE_ACCOUNT_KEY": "a2V5",
    }
    conf = storage.hadoop_conf(make(tmp_path, **env))
    assert conf == {
        f"fs.azure.account.auth.type.{ACCOUNT}": "SharedKey",
        f"fs.azure.account.key.{ACCOUNT}": "a2V5",
    }
    oauth = storage.abfs_conf(AzureSettings(tenant_id="t-1", client_id="c-1", client_secret="s-1"), [ACCOUNT])
    assert oauth[f"fs.azure.account.auth.type.{ACCOUNT}"] == "OAuth"
    assert oauth[f"fs.azure.account.oauth.provider.type.{ACCOUNT}"].endswith("ClientCredsTokenProvider")
    assert oauth[f"fs.azure.account.oauth2.client.endpoint.{ACCOUNT}"] == "https://login.microsoftonline.com/t-1/oauth2/token"
    assert oauth[f"fs.azure.account.oauth2.client.secret.{ACCOUNT}"] == "s-1"
    assert storage.azure_account_hosts(["abfss://a@x.dfs.core.windows.net/p", "/local", "abfss://b@x.dfs.core.windows.net"]) == [
        "x.dfs.core.windows.net"
    ]


def test_connector_jars_are_required_only_for_the_schemes_in_use(tmp_path):
    jars = tmp_path / "jars"
    jars.mkdir()
    s3 = make(tmp_path, SCV_LAKEHOUSE_ROOT="s3a://lake", SCV_LANDING_ROOT=str(tmp_path))
    with pytest.raises(storage.MissingConnectorJarsError, match="hadoop-aws"):
        storage.connector_jars(s3)
    for name in ("hadoop-aws-3.5.0.jar", "bundle-2.35.4.jar", "hadoop-azure-3.5.0.jar", "delta-spark_4.2_2.13-4.4.0.jar"):
        (jars / name).write_bytes(b"")
    assert [p.rsplit("/", 1)[-1] for p in storage.connector_jars(s3)] == ["bundle-2.35.4.jar", "hadoop-aws-3.5.0.jar"]
    everything = storage.connector_jars(s3, required_only=False)
    assert {p.rsplit("/", 1)[-1] for p in everything} == {"bundle-2.35.4.jar", "hadoop-aws-3.5.0.jar", "hadoop-azure-3.5.0.jar"}


def test_the_real_jar_cache_has_connectors_matching_pysparks_hadoop():
    import glob
    import os

    import pyspark

    settings = Settings.from_env({})
    hadoop_client = glob.glob(os.path.join(os.path.dirname(pyspark.__file__), "jars", "hadoop-client-api-*.jar"))
    version = os.path.basename(hadoop_client[0])[len("hadoop-client-api-") : -len(".jar")]
    names = {os.path.basename(p) for p in storage.connector_jars(settings, required_only=False)}
    assert f"hadoop-aws-{version}.jar" in names and f"hadoop-azure-{version}.jar" in names
    assert any(n.startswith("bundle-") for n in names)


@pytest.mark.parametrize(
    "pattern, key, matches",
    [
        ("crm/*.csv", "crm/a.csv", True),
        ("crm/*.csv", "crm/sub/a.csv", False),
        ("crm/*.csv", "crm/a.csv.bak", False),
        ("web/{a,b}_?.jsonl", "web/b_1.jsonl", True),
        ("web/{a,b}_?.jsonl", "web/c_1.jsonl", False),
        ("pos/[0-9]*.csv", "pos/7x.csv", True),
        ("pos/[!0-9]*.csv", "pos/7x.csv", False),
    ],
)
def test_hadoop_glob_matching_for_s3_keys(pattern, key, matches):
    assert bool(storage.glob_to_regex(pattern).match(key)) is matches


def test_quality_gate_reads_s3_with_the_airflow_aws_connection(monkeypatch):
    """The gate builds its session from the settings ScvSparkJobOperator's local backend uses:
    credentials, endpoint and region of the connection named by SCV_AWS_CONN_ID (no Spark: the
    session builder records the settings it is given and stops the task there)."""
    import json

    import scv.spark
    from scv_airflow.operators.quality import DataQualityGateOperator

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    connection = {
        "conn_type": "aws",
        "login": "AKIA-from-connection",
        "password": "secret-from-connection",
        "extra": {"endpoint_url": "http://minio.internal:9000", "region_name": "eu-west-2"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SCV_AWS_GATE", json.dumps(connection))
    monkeypatch.setenv("SCV_AWS_CONN_ID", "scv_aws_gate")
    monkeypatch.setenv("SCV_LANDING_ROOT", "s3a://scv-landing/prod")
    monkeypatch.setenv("SCV_LAKEHOUSE_ROOT", "s3a://scv-lakehouse/prod")

    class SessionRequested(Exception):
        pass

    seen = []

    def record(settings, app_name="scv", **conf):
        seen.append((settings, app_name))
        raise SessionRequested

    monkeypatch.setattr(scv.spark, "build_spark_session", record)
    gate = DataQualityGateOperator(task_id="gate_crm", table_path="bronze/crm", suite="bronze_crm")
    with pytest.raises(SessionRequested):
        gate.execute({})

    ((settings, app_name),) = seen
    assert app_name == "scv-quality-gate_crm"
    assert settings.table_path("bronze", "crm") == "s3a://scv-lakehouse/prod/bronze/crm"
    conf = storage.hadoop_conf(settings)
    assert conf["fs.s3a.access.key"] == "AKIA-from-connection"
    assert conf["fs.s3a.secret.key"] == "secret-from-connection"
    assert conf["fs.s3a.endpoint"] == "http://minio.internal:9000"
    assert conf["fs.s3a.endpoint.region"] == "eu-west-2"
    assert conf["fs.s3a.path.style.access"] == "true"
    assert "secret-from-connection" not in repr(settings)
