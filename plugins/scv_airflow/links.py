"""Operator extra links of the scv operators (buttons on a task instance in the Airflow UI).

Airflow 3 needs no plugin registration for links declared on an operator: the serialized DAG
keeps each link as ``{name: xcom_key}``, the worker calls ``get_link`` when the task finishes
(success or failure) and pushes the URL to XCom under ``xcom_key``, and the UI reads it from
there. So ``get_link`` runs in the task's process and may read the task's own XCom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

XCOM_DATA_DOCS_URL = "data_docs_url"


class DataDocsLink(BaseOperatorLink):
    """Links a validation task to the Great Expectations Data Docs built for its run.

    The URL is what the task pushed under ``data_docs_url``; empty when the task failed before
    the docs were built.
    """

    name = "Data Docs"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=XCOM_DATA_DOCS_URL) or ""
