"""Typed settings for one deployment, read from the environment in one place.

Defaults are the embedded deployment: landing files under ``./landing``, Delta tables under
``./lakehouse``, source contracts in ``include/sources``, all relative to the project root.
The landing and lakehouse roots may also be object-store URIs (``s3a://bucket/prefix``,
``abfss://container@account.dfs.core.windows.net/prefix``); their endpoint and credentials are
``S3Settings`` / ``AzureSettings`` (see ``scv.storage`` for what they become in Spark and boto3).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _path_or_uri(value: str) -> str:
    """Keep URIs (s3a://, abfss://) as they are; make local paths absolute."""
    if "://" in value:
        return value.rstrip("/")
    return str((PROJECT_ROOT / value).resolve()) if not os.path.isabs(value) else value.rstrip("/")


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class S3Settings:
    """Where S3 is and who we are there, for ``s3a://`` roots (Spark) and boto3 (landing listing).

    Read from the standard AWS environment variables (``AWS_ENDPOINT_URL_S3`` or
    ``AWS_ENDPOINT_URL``, ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``) or filled from an Airflow AWS connection
    (``scv_airflow.hooks.storage``). Without keys, Spark and boto3 use their default credential
    chains (instance profile, web identity...). Secrets are kept out of ``repr``.
    """

    endpoint_url: str | None = None
    region: str | None = None
    path_style_access: bool = False
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "S3Settings":
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
        return cls(
            endpoint_url=endpoint,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            # S3-compatible servers (MinIO, moto) serve buckets by path, not virtual host.
            path_style_access=_flag(env.get("SCV_S3_PATH_STYLE_ACCESS"), default=endpoint is not None),
            access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
        )


@dataclass(frozen=True)
class AzureSettings:
    """Credentials for ``abfss://`` (ADLS Gen2) roots: a shared key, or a service principal.

    Environment: ``AZURE_STORAGE_ACCOUNT_KEY`` (shared key of the account(s) in the roots), or
    ``AZURE_TENANT_ID`` + ``AZURE_CLIENT_ID`` + ``AZURE_CLIENT_SECRET`` (OAuth client
    credentials). Without either, hadoop-azure's own configuration applies. Secrets not in ``repr``.
    """

    account_key: str | None = field(default=None, repr=False)
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "AzureSettings":
        return cls(
            account_key=env.get("AZURE_STORAGE_ACCOUNT_KEY") or None,
            tenant_id=env.get("AZURE_TENANT_ID") or None,
            client_id=env.get("AZURE_CLIENT_ID") or None,
            client_secret=env.get("AZURE_CLIENT_SECRET") or None,
        )


@dataclass(frozen=True)
class Settings:
    landing_root: str
    lakehouse_root: str
    sources_dir: str
    include_dir: str = str(PROJECT_ROOT / "include")
    jars_dir: str = str(PROJECT_ROOT / "build" / "jars" / "lib")
    artifacts_dir: str = str(PROJECT_ROOT / "artifacts")
    spark_master: str = "local[*]"
    shuffle_partitions: int = 4
    driver_memory: str = "4g"
    extra_spark_conf: dict[str, str] = field(default_factory=dict)
    s3: S3Settings = field(default_factory=S3Settings)
    azure: AzureSettings = field(default_factory=AzureSettings)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        return cls(
            landing_root=_path_or_uri(env.get("SCV_LANDING_ROOT", "landing")),
            lakehouse_root=_path_or_uri(env.get("SCV_LAKEHOUSE_ROOT", "lakehouse")),
            sources_dir=_path_or_uri(env.get("SCV_SOURCES_DIR", "include/sources")),
            include_dir=_path_or_uri(env.get("SCV_INCLUDE_DIR", "include")),
            jars_dir=_path_or_uri(env.get("SCV_JARS_DIR", "build/jars/lib")),
            artifacts_dir=_path_or_uri(env.get("SCV_ARTIFACTS_DIR", "artifacts")),
            spark_master=env.get("SCV_SPARK_MASTER", "local[*]"),
            shuffle_partitions=int(env.get("SCV_SHUFFLE_PARTITIONS", "4")),
            driver_memory=env.get("SCV_DRIVER_MEMORY", "4g"),
            s3=S3Settings.from_env(env),
            azure=AzureSettings.from_env(env),
        )

    def table_path(self, layer: str, name: str) -> str:
        """Location of the Delta table ``layer/name`` (e.g. ``gold/customer_xref``)."""
        return f"{self.lakehouse_root}/{layer}/{name}"

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)
