"""The data-quality gate operator: a Great Expectations suite as a go/no-go step in a DAG.

Placed between a write and whatever consumes it (bronze -> gate -> standardise), the gate stops
promotion when a ``critical`` expectation fails: the task fails without retrying (the data will
not change by itself), so downstream tasks do not run and the next table is left as it was.
``warning`` failures are logged and alerted once, and the run goes on.

All the work is in :mod:`scv.quality`; this module only shapes the request, talks to XCom and
decides what a result means for the task. Nothing is imported or read at DAG-parse time beyond
this module and Airflow.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from scv_airflow.links import XCOM_DATA_DOCS_URL, DataDocsLink

if TYPE_CHECKING:
    from airflow.sdk import Context

XCOM_SUMMARY = "dq_summary"
CONTEXT_SUMMARY = "dq_summary"  # key under which warning callbacks receive the summary


class DataQualityGateFailed(AirflowFailException):
    """Critical expectations failed. Carries the masked summary for failure callbacks.

    An ``AirflowFailException``: the task fails at once, without retries, so
    ``on_failure_callback`` fires exactly once for it.
    """

    def __init__(self, summary: Mapping[str, Any]):
        self.summary = dict(summary)
        failed = ", ".join(
            f"{f['expectation']} ({f.get('unexpected_count') if f.get('unexpected_count') is not None else 'failed'})"
            for f in self.summary.get("critical_failures", [])
        )
        super().__init__(
            f"data quality gate failed: suite {self.summary.get('suite')} on {self.summary.get('table')}: "
            f"{len(self.summary.get('critical_failures', []))} critical expectation(s) failed: {failed}. "
            f"Data Docs: {self.summary.get('data_docs_url')}"
        )

    def __reduce__(self):
        return self.__class__, (self.summary,)

    def serialize(self):
        # Airflow rebuilds exceptions from (classpath, args, kwargs): keep the summary, not the text.
        cls = self.__class__
        return f"{cls.__module__}.{cls.__name__}", (self.summary,), {}


def data_docs_url(index_path: str | None, artifacts_dir: str, base_url: str | None) -> str | None:
    """The URL shown for a Data Docs index: under ``base_url`` when the docs folder is served
    (``<artifacts>/data_docs`` maps to ``base_url``), else a ``file://`` URI."""
    if not index_path:
        return None
    if base_url:
        root = os.path.join(artifacts_dir, "data_docs")
        relative = os.path.relpath(index_path, root).replace(os.sep, "/")
        return f"{base_url.rstrip('/')}/{quote(relative)}"
    return Path(index_path).resolve().as_uri()


class DataQualityGateOperator(BaseOperator):
    """Validate a Delta table, or the rows one run wrote, against a suite in ``include/expectations``.

    :param table_path: Delta table to validate: ``layer/name`` under the lakehouse root
        (e.g. ``bronze/crm``) or an absolute path/URI. (templated)
    :param suite: suite name (file ``include/expectations/<suite>.json|yml``) or a path. (templated)
    :param table: name recorded in results and history; default the suite's ``meta.table``. (templated)
    :param row_filter: Spark SQL predicate selecting the rows to validate, e.g.
        ``_logical_date = '{{ ds }}'``; default all rows. (templated)
    :param suite_params: run parameters overriding the suite's (e.g. ``max_cluster_size``). (templated)
    :param warning_callback: called once with the task context plus ``dq_summary`` when only
        warning expectations failed (e.g. the ``DataQualityNotifier`` used as
        ``on_failure_callback``). Its errors are logged and do not fail the task.
    :param data_docs_base_url: URL at which ``<artifacts>/data_docs`` is served, for the
        "Data Docs" link; default a ``file://`` URI. (templated)
    :param record_results: append every expectation's result to ``ops/validation_results``.

    Settings and the Spark session come from ``LocalSparkHook``, as for the jobs run in-task:
    a lakehouse on S3 is read with the credentials of the Airflow AWS connection
    ``SCV_AWS_CONN_ID`` when one is set, else the standard AWS variables.

    Pushes ``dq_summary`` (small, masked) and ``data_docs_url`` to XCom, also when failing, and
    returns the summary. Raises :class:`DataQualityGateFailed` on critical failures.
    """

    template_fields: Sequence[str] = ("table_path", "suite", "table", "row_filter", "suite_params", "data_docs_base_url")
    template_fields_renderers = {"row_filter": "sql", "suite_params": "json"}
    operator_extra_links = (DataDocsLink(),)
    ui_color = "#e8f4e4"

    def __init__(
        self,
        *,
        table_path: str,
        suite: str,
        table: str | None = None,
        row_filter: str | None = None,
        suite_params: Mapping[str, Any] | None = None,
        warning_callback: Callable[[Mapping[str, Any]], Any] | None = None,
        data_docs_base_url: str | None = None,
        record_results: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table_path = table_path
        self.suite = suite
        self.table = table
        self.row_filter = row_filter
        self.suite_params = suite_params
        self.warning_callback = warning_callback
        self.data_docs_base_url = data_docs_base_url
        self.record_results = record_results
        self._job_group: str | None = None
        self._spark = None

    def execute(self, context: Context) -> dict[str, Any]:
        from scv.quality.gate import RunInfo, run_gate
        from scv_airflow.hooks.compute import LocalSparkHook

        # The same settings and session as the jobs' local backend: S3 credentials from the
        # Airflow AWS connection SCV_AWS_CONN_ID when one is configured.
        hook = LocalSparkHook(app_name=f"scv-quality-{self.task_id}")
        settings = hook.get_settings()
        spark = hook.get_session(settings)
        ti = context["ti"]
        # A job group lets on_kill cancel exactly this task's Spark jobs.
        self._spark = spark
        self._job_group = f"scv-quality-{self.task_id}-{uuid.uuid4().hex[:8]}"
        spark.sparkContext.setJobGroup(self._job_group, f"validate {self.table_path} with {self.suite}", True)

        outcome = run_gate(
            spark,
            settings,
            table_path=self.table_path,
            suite=self.suite,
            table=self.table,
            row_filter=self.row_filter or None,
            parameters=self.suite_params,
            run=RunInfo(
                run_id=context["run_id"], dag_id=ti.dag_id, task_id=ti.task_id, try_number=ti.try_number
            ),
            record=self.record_results,
        )
        url = data_docs_url(outcome.data_docs_path, settings.artifacts_dir, self.data_docs_base_url)
        summary = outcome.summary(data_docs_url=url)
        self.log.info("Validation of %s:\n%s", outcome.table, outcome.report())
        ti.xcom_push(key=XCOM_DATA_DOCS_URL, value=url)
        ti.xcom_push(key=XCOM_SUMMARY, value=summary)

        if not outcome.success:
            raise DataQualityGateFailed(summary)
        if outcome.warning_failures:
            self.log.warning(
                "%d warning expectation(s) failed on %s: %s",
                len(outcome.warning_failures),
                outcome.table,
                ", ".join(f.name for f in outcome.warning_failures),
            )
            self._alert_warnings(context, summary)
        return summary

    def _alert_warnings(self, context: Context, summary: dict[str, Any]) -> None:
        if self.warning_callback is None:
            return
        try:
            self.warning_callback({**context, CONTEXT_SUMMARY: summary})
        except Exception:
            # The data passed its gate; an unreachable mail server must not stop the pipeline.
            self.log.exception("Could not send the data-quality warning alert")

    def on_kill(self) -> None:
        if self._spark is not None and self._job_group:
            self._spark.sparkContext.cancelJobGroup(self._job_group)
