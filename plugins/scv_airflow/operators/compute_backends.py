"""Which compute backend runs scv jobs, and how: read from the environment at execute time.

The DAGs never name a backend. ``SCV_COMPUTE_BACKEND`` picks one per deployment:

``local`` (default)
    the job runs in the task's own process on a local Spark session (``LocalSparkHook``).
``spark``
    ``spark-submit`` of ``spark_jobs/<job>.py`` to the master of Airflow connection
    ``SCV_SPARK_CONN_ID`` (default ``spark_default``), with the ``scv`` package zipped onto
    ``--py-files`` (or ``SCV_SPARK_PACKAGE``, a prebuilt wheel/zip) and the jars on ``--jars``.
    ``SCV_SPARK_CONF``: JSON object of extra ``--conf`` values (executor memory,
    ``spark.pyspark.python``...); ``SCV_SPARK_JOBS_DIR``: where the entry points are.
``databricks``
    a one-time run (Jobs API ``runs/submit``) through Airflow connection
    ``SCV_DATABRICKS_CONN_ID`` (default ``databricks_default``): ``spark_python_task`` of
    ``$SCV_DATABRICKS_JOBS_DIR/<job>.py`` with the project wheel ``SCV_DATABRICKS_WHEEL`` as a
    library, on a job cluster ``SCV_DATABRICKS_CLUSTER`` (JSON ``new_cluster`` spec, e.g. with a
    ``policy_id``) or an existing cluster ``SCV_DATABRICKS_CLUSTER_ID``.
    ``SCV_DATABRICKS_JARS``: jars installed with the wheel as libraries of the run (JSON list
    or comma-separated; ``/Volumes/...``, ``/Workspace/...``, ``s3://``/``abfss://``/``gs://``
    or legacy ``dbfs:/`` paths), e.g. Splink's similarity UDF jar, which ``link_records``
    needs (default none);
    ``SCV_DATABRICKS_ENV``: JSON object of extra environment variables for the job cluster;
    ``SCV_DATABRICKS_POLL_SECONDS``: seconds between state polls (default 30).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

BACKENDS = ("local", "spark", "databricks")


def _json_object(env: dict[str, str], name: str) -> dict:
    raw = env.get(name)
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object")
    return value


# Where a Databricks cluster installs a jar library from (the Jobs API's ``libraries``): Unity
# Catalog volumes, workspace files, cloud storage of the workspace's cloud, legacy DBFS.
DATABRICKS_JAR_PREFIXES = ("/Volumes/", "/Workspace/", "s3://", "abfss://", "gs://", "dbfs:/")


def _databricks_jars(env: dict[str, str], name: str) -> tuple[str, ...]:
    """A JSON list of strings or a comma-separated list of jar paths the cluster can read."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return ()
    if raw.startswith(("[", "{", '"')):
        try:
            value = json.loads(raw)
        except ValueError as error:
            raise ValueError(f"{name} is not valid JSON ({error}): {raw!r}") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{name} must be a JSON list of strings (or a comma-separated list): {raw!r}")
        paths = [v.strip() for v in value]
    else:
        paths = [v.strip() for v in raw.split(",")]
    for path in paths:
        if not path:
            raise ValueError(f"{name} has an empty entry: {raw!r}")
        if not path.lower().endswith(".jar"):
            raise ValueError(f"{name}: {path!r} is not a .jar")
        if path.startswith("dbfs:/Volumes/"):
            # The CLI's name for a volume (``databricks fs cp ... dbfs:/Volumes/...``), not a library path.
            raise ValueError(f"{name}: {path!r}: give the volume path as {path[len('dbfs:'):]!r}")
        if not path.startswith(DATABRICKS_JAR_PREFIXES):
            raise ValueError(
                f"{name}: {path!r} is not a path a Databricks cluster can install a library from; "
                f"upload the jar and give its {', '.join(DATABRICKS_JAR_PREFIXES)} path"
            )
    return tuple(paths)


@dataclass(frozen=True)
class ComputeBackendConfig:
    backend: str = "local"
    spark_conn_id: str = "spark_default"
    spark_conf: dict[str, str] = field(default_factory=dict)
    spark_jobs_dir: str | None = None
    spark_package: str | None = None
    databricks_conn_id: str = "databricks_default"
    databricks_wheel: str | None = None
    databricks_jars: tuple[str, ...] = ()
    databricks_jobs_dir: str | None = None
    databricks_cluster: dict = field(default_factory=dict)
    databricks_cluster_id: str | None = None
    databricks_env: dict[str, str] = field(default_factory=dict)
    databricks_poll_seconds: float = 30.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, backend: str | None = None) -> "ComputeBackendConfig":
        env = dict(os.environ if env is None else env)
        chosen = (backend or env.get("SCV_COMPUTE_BACKEND") or "local").strip().lower()
        if chosen not in BACKENDS:
            raise ValueError(f"unknown compute backend {chosen!r}; expected one of {', '.join(BACKENDS)}")
        return cls(
            backend=chosen,
            spark_conn_id=env.get("SCV_SPARK_CONN_ID", "spark_default"),
            spark_conf={k: str(v) for k, v in _json_object(env, "SCV_SPARK_CONF").items()},
            spark_jobs_dir=env.get("SCV_SPARK_JOBS_DIR"),
            spark_package=env.get("SCV_SPARK_PACKAGE"),
            databricks_conn_id=env.get("SCV_DATABRICKS_CONN_ID", "databricks_default"),
            databricks_wheel=env.get("SCV_DATABRICKS_WHEEL"),
            databricks_jars=_databricks_jars(env, "SCV_DATABRICKS_JARS"),
            databricks_jobs_dir=env.get("SCV_DATABRICKS_JOBS_DIR"),
            databricks_cluster=_json_object(env, "SCV_DATABRICKS_CLUSTER"),
            databricks_cluster_id=env.get("SCV_DATABRICKS_CLUSTER_ID"),
            databricks_env={k: str(v) for k, v in _json_object(env, "SCV_DATABRICKS_ENV").items()},
            databricks_poll_seconds=float(env.get("SCV_DATABRICKS_POLL_SECONDS", "30")),
        )
