"""The operator that runs one scv Spark job (see ``scv.jobs``) as an Airflow task.

The compute backend (``local``, ``spark``, ``databricks``) is chosen by configuration when the
task runs (``compute_backends.ComputeBackendConfig``), so DAG code never changes between a
laptop, a Spark cluster and Databricks. This module shapes the requests; the hooks do the I/O.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from scv_airflow.operators.compute_backends import ComputeBackendConfig

# Settings the remote job must share with Airflow's (where the tables and files are).
FORWARDED_ENV = ("SCV_LAKEHOUSE_ROOT", "SCV_LANDING_ROOT")


def entrypoint_args(job_kwargs: dict[str, Any]) -> list[str]:
    """``job_kwargs`` as arguments of ``scv.jobs.entrypoint`` (``--logical-date``, ``--run-id``,
    ``--arg key=value``)."""
    kwargs = dict(job_kwargs)
    args = ["--logical-date", str(kwargs.pop("logical_date"))]
    if "run_id" in kwargs:
        args += ["--run-id", str(kwargs.pop("run_id"))]
    for key in sorted(kwargs):
        args += ["--arg", f"{key}={kwargs[key]}"]
    return args


def databricks_payload(
    job: str,
    args: list[str],
    config: ComputeBackendConfig,
    *,
    run_name: str,
    idempotency_token: str,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Jobs API ``runs/submit`` request: one ``spark_python_task`` running the job's thin entry
    point, with the project wheel and the configured jars (Splink's similarity UDFs) as
    libraries, on a job cluster (or an existing cluster)."""
    if not config.databricks_jobs_dir:
        raise ValueError("SCV_DATABRICKS_JOBS_DIR (where spark_jobs/*.py are uploaded) is not set")
    task: dict[str, Any] = {
        "task_key": job,
        "spark_python_task": {"python_file": f"{config.databricks_jobs_dir.rstrip('/')}/{job}.py", "parameters": args},
    }
    libraries = [{"whl": config.databricks_wheel}] if config.databricks_wheel else []
    libraries += [{"jar": jar} for jar in config.databricks_jars]
    if libraries:
        task["libraries"] = libraries
    if config.databricks_cluster_id:
        task["existing_cluster_id"] = config.databricks_cluster_id
    elif config.databricks_cluster:
        cluster = dict(config.databricks_cluster)
        cluster["spark_env_vars"] = {**(env or {}), **config.databricks_env, **cluster.get("spark_env_vars", {})}
        task["new_cluster"] = cluster
    else:
        raise ValueError("set SCV_DATABRICKS_CLUSTER (new_cluster JSON) or SCV_DATABRICKS_CLUSTER_ID")
    return {"run_name": run_name, "idempotency_token": idempotency_token, "tasks": [task]}


def s3_environment(s3) -> dict[str, str]:
    """S3 settings as the standard AWS variables, for a driver process (environment, never
    command-line arguments, so secrets do not show in process lists or submit logs)."""
    values = {
        "AWS_ENDPOINT_URL_S3": s3.endpoint_url,
        "AWS_REGION": s3.region,
        "AWS_ACCESS_KEY_ID": s3.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
        "AWS_SESSION_TOKEN": s3.session_token,
        "SCV_S3_PATH_STYLE_ACCESS": "true" if s3.path_style_access else None,
    }
    return {k: v for k, v in values.items() if v}


class ScvSparkJobOperator(BaseOperator):
    """Run the scv job ``job`` with ``job_kwargs`` on the configured compute backend.

    :param job: name of the job in ``scv.jobs.JOBS`` (e.g. ``bronze_ingest``).
    :param job_kwargs: keyword arguments of the job. (templated)
    :param compute_backend: ``local``, ``spark`` or ``databricks``; default: environment variable
        ``SCV_COMPUTE_BACKEND`` read when the task runs, else ``local``. (templated)

    The job's small JSON summary is returned (and so pushed to XCom). ``__init__`` only stores
    arguments: no Spark, no I/O at parse time. Jobs are idempotent per logical date, so Airflow
    retries and reruns are safe. The remote run (spark-submit process, Databricks run id) is kept
    on the operator so that ``on_kill`` cancels it.
    """

    template_fields: Sequence[str] = ("job_kwargs", "compute_backend")
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        job: str,
        job_kwargs: dict[str, Any] | None = None,
        compute_backend: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.job_kwargs = job_kwargs or {}
        self.compute_backend = compute_backend
        self._hook = None
        self.databricks_run_id: int | None = None
        self._killed = False

    def _make_hook(self):
        from scv_airflow.hooks.compute import LocalSparkHook

        return LocalSparkHook(app_name=f"scv-{self.task_id}")

    def execute(self, context: Any) -> dict:
        config = ComputeBackendConfig.from_env(backend=self.compute_backend or None)
        self.log.info("job %s on compute backend %s", self.job, config.backend)
        if config.backend == "spark":
            summary = self._run_spark_submit(config)
        elif config.backend == "databricks":
            summary = self._run_databricks(config, context)
        else:
            self._hook = self._make_hook()
            summary = self._hook.run_job(self.job, self.job_kwargs)
        self.log.info("job %s finished: %s", self.job, summary)
        return summary

    # -- spark ------------------------------------------------------------------------------
    def _run_spark_submit(self, config: ComputeBackendConfig) -> dict:
        from scv.config import PROJECT_ROOT, Settings
        from scv.spark import required_jars
        from scv.storage import connector_jars
        from scv_airflow.hooks.spark_submit import SparkSubmitJobHook, package_archive
        from scv_airflow.hooks.storage import settings_with_connection_credentials

        settings = settings_with_connection_credentials(Settings.from_env())
        jobs_dir = config.spark_jobs_dir or str(PROJECT_ROOT / "spark_jobs")
        self._hook = SparkSubmitJobHook(conn_id=config.spark_conn_id, conf=config.spark_conf)
        if self._killed:  # on_kill came before there was a hook: the submit must not start
            self._hook.cancel()
        with tempfile.TemporaryDirectory(prefix="scv-submit-") as staging:
            package = config.spark_package or package_archive(staging)
            summary = self._hook.submit(
                os.path.join(jobs_dir, f"{self.job}.py"),
                entrypoint_args(self.job_kwargs),
                name=f"scv-{self.job}-{self.task_id}",
                py_files=[package],
                jars=required_jars(settings) + connector_jars(settings),
                # The client-mode driver runs here but imports scv from the zip: give it this
                # worker's resolved locations rather than defaults relative to the package.
                env_vars={
                    "SCV_LANDING_ROOT": settings.landing_root,
                    "SCV_LAKEHOUSE_ROOT": settings.lakehouse_root,
                    "SCV_SOURCES_DIR": settings.sources_dir,
                    "SCV_INCLUDE_DIR": settings.include_dir,
                    "SCV_JARS_DIR": settings.jars_dir,
                    "SCV_ARTIFACTS_DIR": settings.artifacts_dir,
                    **s3_environment(settings.s3),
                },
            )
        return {**summary, "compute_backend": "spark"}

    # -- databricks -------------------------------------------------------------------------
    def _idempotency_token(self, context: Any) -> str:
        """Same task try -> same token, so a resubmission after a lost response does not start a
        second run; a retry (next try number) starts a fresh one."""
        ti = context["ti"]
        key = f"{ti.dag_id}|{ti.task_id}|{ti.run_id}|{getattr(ti, 'map_index', -1)}|{ti.try_number}"
        return hashlib.sha256(key.encode()).hexdigest()[:64]

    def _run_databricks(self, config: ComputeBackendConfig, context: Any) -> dict:
        from scv_airflow.hooks.databricks_jobs import DatabricksJobRunHook

        env = {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}
        payload = databricks_payload(
            self.job,
            entrypoint_args(self.job_kwargs),
            config,
            run_name=f"scv {context['ti'].dag_id}.{self.task_id} {self.job_kwargs.get('logical_date', '')}".strip(),
            idempotency_token=self._idempotency_token(context),
            env=env,
        )
        self._hook = DatabricksJobRunHook(config.databricks_conn_id, poll_seconds=config.databricks_poll_seconds)
        self.databricks_run_id = self._hook.submit(payload)
        if self._killed:  # on_kill came while runs/submit was in flight: its run id is known now
            self._hook.cancel(self.databricks_run_id)
        summary = self._hook.wait(self.databricks_run_id)
        return {**summary, "compute_backend": "databricks", "databricks_run_id": self.databricks_run_id}

    def on_kill(self) -> None:
        from scv_airflow.hooks.databricks_jobs import DatabricksJobRunHook

        self._killed = True
        hook = self._hook
        if hook is None:
            return
        if isinstance(hook, DatabricksJobRunHook):
            if self.databricks_run_id is None:
                self.log.warning("killed while the Databricks run is being submitted: it is cancelled once submitted")
                return
            hook.cancel(self.databricks_run_id)
        elif hasattr(hook, "run_job"):
            hook.cancel(self.job)
        else:
            hook.cancel()
