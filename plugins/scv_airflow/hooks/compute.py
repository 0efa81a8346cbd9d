"""Hooks that run scv jobs on a compute backend.

``LocalSparkHook`` runs a job in the task's own process on a local Spark session (the embedded
default). The hook owns the session; operators never build one themselves.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from airflow.sdk import BaseHook

log = logging.getLogger(__name__)


class LocalSparkHook(BaseHook):
    """Runs ``scv.jobs`` functions in-process on ``local[*]`` Spark with Delta and Splink jars.

    Settings (lakehouse and landing roots, master, memory) come from the environment
    (``scv.config.Settings.from_env``) when the job runs, never at DAG-parse time; S3
    credentials may come from an Airflow AWS connection (``SCV_AWS_CONN_ID``).
    """

    hook_name = "scv local Spark"

    def __init__(self, app_name: str = "scv", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_name = app_name

    def get_settings(self):
        """Settings from the environment; S3 credentials from Airflow connection
        ``SCV_AWS_CONN_ID`` when set (``scv_airflow.hooks.storage``)."""
        from scv.config import Settings
        from scv_airflow.hooks.storage import settings_with_connection_credentials

        return settings_with_connection_credentials(Settings.from_env())

    def get_session(self, settings=None):
        from scv.spark import build_spark_session

        return build_spark_session(settings or self.get_settings(), app_name=self.app_name)

    def run_job(self, job: str, job_kwargs: dict[str, Any]) -> dict:
        from scv.jobs import resolve
        from scv.spark import release_finished_query_jobs

        function = resolve(job)
        settings = self.get_settings()
        spark = self.get_session(settings)
        started = time.monotonic()
        spark.sparkContext.setJobGroup(f"scv:{job}", f"scv job {job}", interruptOnCancel=True)
        try:
            summary = function(spark, settings, **job_kwargs)
        finally:
            spark.sparkContext.setJobGroup("", "")
            # Tasks of an in-process run share this driver: let it forget the job's finished
            # queries, or their plans and broadcast tables stay on its heap (see the function).
            release_finished_query_jobs(spark)
        summary = dict(summary or {})
        summary["seconds"] = round(time.monotonic() - started, 2)
        return summary

    def cancel(self, job: str) -> None:
        """Cancel the Spark jobs this hook started (used by the operator's ``on_kill``)."""
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is not None:
            session.sparkContext.cancelJobGroup(f"scv:{job}")
