"""Where the lakehouse and landing roots live: local paths, S3 (``s3a://``) or ADLS Gen2 (``abfss://``).

One place maps ``Settings`` to what each client needs:

- Spark/Hadoop: ``hadoop_conf(settings)`` gives the ``fs.s3a.*`` / ``fs.azure.*`` keys for the
  roots in use (endpoint, path-style access, credentials); ``scv.spark.build_spark_session`` sets
  them on the session and puts the connector jars (``connector_jars``) on its classpath.
- Landing files: ``list_files`` lists the files matching a Hadoop glob, through boto3 for S3
  (no JVM needed, and it is what an S3 event or sensor would see) and through Hadoop's
  FileSystem for everything else, keeping empty files (an empty delivery is a delivery).

Nothing here logs credentials; ``S3Settings``/``AzureSettings`` keep secrets out of ``repr``.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlparse

from scv.config import AzureSettings, S3Settings, Settings

S3_SCHEMES = ("s3a", "s3", "s3n")
AZURE_SCHEMES = ("abfss", "abfs")
GLOB_CHARS = "*?[{"

# Connector jars resolved by `make jars` (build/jars/pom.xml), by file-name prefix.
S3_JARS = ("hadoop-aws-", "bundle-", "analyticsaccelerator-s3-", "wildfly-openssl-")
AZURE_JARS = ("hadoop-azure-", "azure-storage-", "azure-keyvault-core-", "HdrHistogram-")


class MissingConnectorJarsError(RuntimeError):
    pass


def scheme(uri: str) -> str:
    """``s3a`` for ``s3a://bucket/x``; ``file`` for local paths (and ``file://`` URIs)."""
    return uri.split("://", 1)[0].lower() if "://" in uri else "file"


def roots(settings: Settings) -> tuple[str, str]:
    return settings.lakehouse_root, settings.landing_root


def uses_s3(settings: Settings) -> bool:
    return any(scheme(r) in S3_SCHEMES for r in roots(settings))


def uses_azure(settings: Settings) -> bool:
    return any(scheme(r) in AZURE_SCHEMES for r in roots(settings))


# ---------------------------------------------------------------------------------------------
# Spark / Hadoop configuration


def s3a_conf(s3: S3Settings) -> dict[str, str]:
    """Hadoop ``fs.s3a.*`` settings for S3 or an S3-compatible server (MinIO, moto)."""
    conf: dict[str, str] = {}
    if s3.endpoint_url:
        conf["fs.s3a.endpoint"] = s3.endpoint_url
        conf["fs.s3a.connection.ssl.enabled"] = str(s3.endpoint_url.startswith("https://")).lower()
        # The SDK needs a signing region even when the endpoint is not AWS.
        conf["fs.s3a.endpoint.region"] = s3.region or "us-east-1"
    elif s3.region:
        conf["fs.s3a.endpoint.region"] = s3.region
    if s3.path_style_access:  # only ever switched on: settings without S3 details change nothing
        conf["fs.s3a.path.style.access"] = "true"
    if s3.access_key_id and s3.secret_access_key:
        conf["fs.s3a.access.key"] = s3.access_key_id
        conf["fs.s3a.secret.key"] = s3.secret_access_key
        if s3.session_token:
            conf["fs.s3a.session.token"] = s3.session_token
            conf["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        else:
            conf["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
    return conf


def azure_account_hosts(uris: Iterable[str]) -> list[str]:
    """Storage account hosts of ``abfss://container@account.dfs.core.windows.net/...`` URIs."""
    hosts = []
    for uri in uris:
        if scheme(uri) in AZURE_SCHEMES:
            host = urlparse(uri).netloc.rsplit("@", 1)[-1]
            if host and host not in hosts:
                hosts.append(host)
    return hosts


def abfs_conf(azure: AzureSettings, account_hosts: Iterable[str]) -> dict[str, str]:
    """Hadoop ``fs.azure.*`` settings per storage account: shared key, or OAuth client credentials."""
    conf: dict[str, str] = {}
    for host in account_hosts:
        if azure.client_id and azure.client_secret and azure.tenant_id:
            conf[f"fs.azure.account.auth.type.{host}"] = "OAuth"
            conf[f"fs.azure.account.oauth.provider.type.{host}"] = (
                "org.apache.hadoop.fs.azurebfs.oauth2.ClientCredsTokenProvider"
            )
            conf[f"fs.azure.account.oauth2.client.id.{host}"] = azure.client_id
            conf[f"fs.azure.account.oauth2.client.secret.{host}"] = azure.client_secret
            conf[f"fs.azure.account.oauth2.client.endpoint.{host}"] = (
                f"https://login.microsoftonline.com/{azure.tenant_id}/oauth2/token"
            )
        elif azure.account_key:
            conf[f"fs.azure.account.auth.type.{host}"] = "SharedKey"
            conf[f"fs.azure.account.key.{host}"] = azure.account_key
    return conf


def hadoop_conf(settings: Settings) -> dict[str, str]:
    """Hadoop settings for the object stores the roots use (empty for local roots)."""
    conf: dict[str, str] = {}
    if uses_s3(settings):
        conf.update(s3a_conf(settings.s3))
    if uses_azure(settings):
        conf.update(abfs_conf(settings.azure, azure_account_hosts(roots(settings))))
    return conf


def apply_hadoop_conf(spark, settings: Settings) -> None:
    """Set ``hadoop_conf`` on a running session's Hadoop configuration.

    A session is reused per process (``getOrCreate``), so builder settings alone would not reach
    one already started; file systems created afterwards see these values, and Spark ships this
    configuration to executors with every file scan and write.
    """
    conf = hadoop_conf(settings)
    if not conf:
        return
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in conf.items():
        hadoop.set(key, value)


def connector_jars(settings: Settings, *, required_only: bool = True) -> list[str]:
    """The object-store connector jars in ``settings.jars_dir``.

    ``required_only``: only those of the schemes the roots use (and fail if they are missing);
    otherwise every connector jar present (possibly none).
    """
    wanted: list[tuple[str, tuple[str, ...]]] = []
    if uses_s3(settings) or not required_only:
        wanted.append(("s3a", S3_JARS))
    if uses_azure(settings) or not required_only:
        wanted.append(("abfss", AZURE_JARS))
    jars: list[str] = []
    for name, prefixes in wanted:
        found = sorted(
            path
            for path in glob.glob(os.path.join(settings.jars_dir, "*.jar"))
            if os.path.basename(path).startswith(prefixes)
        )
        if required_only and not any(os.path.basename(j).startswith(prefixes[0]) for j in found):
            raise MissingConnectorJarsError(
                f"{name}:// roots need {prefixes[0]}*.jar in {settings.jars_dir}: run `make jars`"
            )
        jars.extend(found)
    return jars


# ---------------------------------------------------------------------------------------------
# Listing files


@dataclass(frozen=True)
class FileInfo:
    path: str  # as Spark names it (``s3a://bucket/key``, ``file:/...``)
    size: int
    modified: dt.datetime  # naive, local time (as Hadoop's local file system reports it)


def split_bucket_key(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A Hadoop glob (``*``, ``?``, ``[...]``, ``{a,b}``) as a regex; ``*`` never crosses ``/``."""
    out, i, depth = [], 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        elif c == "{":
            out.append("(?:")
            depth += 1
        elif c == "}" and depth:
            out.append(")")
            depth -= 1
        elif c == "," and depth:
            out.append("|")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def s3_client(s3: S3Settings):
    """A boto3 S3 client for these settings (default credential chain when no keys are set)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region or ("us-east-1" if s3.endpoint_url else None),
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
        aws_session_token=s3.session_token,
        config=Config(s3={"addressing_style": "path" if s3.path_style_access else "auto"}),
    )


def list_s3_files(s3: S3Settings, pattern: str, client=None) -> list[FileInfo]:
    """Objects matching the glob ``s3a://bucket/key-glob``, listed with boto3 from the glob's
    fixed prefix. "Directory" marker objects (keys ending in ``/``) are not files."""
    uri_scheme = scheme(pattern)
    bucket, key_glob = split_bucket_key(pattern)
    cut = min((key_glob.find(c) for c in GLOB_CHARS if c in key_glob), default=len(key_glob))
    prefix = key_glob[:cut]
    matcher = glob_to_regex(key_glob)
    client = client or s3_client(s3)
    files = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/") or not matcher.match(key):
                continue
            files.append(
                FileInfo(
                    path=f"{uri_scheme}://{bucket}/{key}",
                    size=int(item["Size"]),
                    modified=dt.datetime.fromtimestamp(item["LastModified"].timestamp()),
                )
            )
    return sorted(files, key=lambda f: f.path)


def list_hadoop_files(spark, pattern: str) -> list[FileInfo]:
    """Files matching a Hadoop glob through the session's Hadoop FileSystem (any scheme)."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(pattern)
    statuses = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).globStatus(path)
    files = [
        FileInfo(
            path=status.getPath().toString(),
            size=status.getLen(),
            modified=dt.datetime.fromtimestamp(status.getModificationTime() / 1000),
        )
        for status in statuses or []
        if status.isFile()
    ]
    return sorted(files, key=lambda f: f.path)


def list_files(spark, settings: Settings, pattern: str) -> list[FileInfo]:
    """Files matching ``pattern``: boto3 for S3 URIs, Hadoop's FileSystem otherwise."""
    if scheme(pattern) in S3_SCHEMES:
        return list_s3_files(settings.s3, pattern)
    return list_hadoop_files(spark, pattern)
