"""The operator that runs one scv Spark job (see ``scv.jobs``) as an Airflow task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator


class ScvSparkJobOperator(BaseOperator):
    """Run the scv job ``job`` with ``job_kwargs`` on the local compute backend.

    :param job: name of the job in ``scv.jobs.JOBS`` (e.g. ``bronze_ingest``).
    :param job_kwargs: keyword arguments of the job. (templated)

    The job's small JSON summary is returned (and so pushed to XCom). ``__init__`` only stores
    arguments: no Spark, no I/O at parse time. Jobs are idempotent per logical date, so Airflow
    retries and reruns are safe.
    """

    template_fields: Sequence[str] = ("job_kwargs",)
    ui_color = "#e8f4ea"

    def __init__(self, *, job: str, job_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.job_kwargs = job_kwargs or {}
        self._hook = None

    def _make_hook(self):
        from scv_airflow.hooks.compute import LocalSparkHook

        return LocalSparkHook(app_name=f"scv-{self.task_id}")

    def execute(self, context: Any) -> dict:
        self._hook = self._make_hook()
        summary = self._hook.run_job(self.job, self.job_kwargs)
        self.log.info("job %s finished: %s", self.job, summary)
        return summary

    def on_kill(self) -> None:
        if self._hook is not None:
            self._hook.cancel(self.job)
