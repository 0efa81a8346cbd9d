"""Running an scv job as a one-time Databricks run (the ``databricks`` compute backend).

The provider's ``DatabricksHook`` owns the connection, authentication and HTTP retries; this
hook adds what a task needs around it: submit (Jobs API ``runs/submit``), wait until the run is
terminal (``runs/get``), turn a failed run into an exception carrying the run's own error
(``runs/get-output`` of the failed task) and cancel (``runs/cancel``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from airflow.providers.databricks.hooks.databricks import DatabricksHook
from airflow.sdk.exceptions import AirflowException

from scv_airflow.hooks.spark_submit import last_json_object

log = logging.getLogger(__name__)


class DatabricksRunFailed(AirflowException):
    """A Databricks run ended without success; the message holds the run's error."""


class DatabricksJobRunHook:
    """Submit, watch and cancel one-time runs through the provider's ``DatabricksHook``.

    :param databricks_conn_id: Airflow connection of the workspace (host + token or OAuth).
    :param poll_seconds: seconds between ``runs/get`` calls while waiting.
    """

    def __init__(self, databricks_conn_id: str = "databricks_default", poll_seconds: float = 30.0) -> None:
        self.databricks_conn_id = databricks_conn_id
        self.poll_seconds = poll_seconds
        self._api: DatabricksHook | None = None

    @property
    def api(self) -> DatabricksHook:
        if self._api is None:
            self._api = DatabricksHook(self.databricks_conn_id, caller="scv DatabricksJobRunHook")
        return self._api

    def submit(self, payload: dict[str, Any]) -> int:
        run_id = self.api.submit_run(payload)
        log.info("Databricks run %s submitted: %s", run_id, self.api.get_run_page_url(run_id))
        return run_id

    def wait(self, run_id: int) -> dict:
        """Poll until the run is terminal; its summary on success, else ``DatabricksRunFailed``."""
        while True:
            state = self.api.get_run_state(run_id)
            if state.is_terminal:
                break
            log.info("Databricks run %s: %s", run_id, state.life_cycle_state)
            time.sleep(self.poll_seconds)
        run = self.api.get_run(run_id)
        if state.is_successful:
            return self._summary(run)
        raise DatabricksRunFailed(
            f"Databricks run {run_id} {state.result_state or state.life_cycle_state}: "
            f"{self._error(run) or state.state_message} ({run.get('run_page_url', '')})"
        )

    def _task_outputs(self, run: dict) -> list[dict]:
        return [self.api.get_run_output(task["run_id"]) for task in run.get("tasks", []) if "run_id" in task]

    def _summary(self, run: dict) -> dict:
        for output in self._task_outputs(run):
            summary = last_json_object((output.get("logs") or "").splitlines())
            if summary is not None:
                return summary
        return {}

    def _error(self, run: dict) -> str | None:
        """The error of the first failed task (Databricks reports errors per task run)."""
        for task in run.get("tasks", []):
            result = (task.get("state") or {}).get("result_state")
            if result and result != "SUCCESS" and "run_id" in task:
                error = self.api.get_run_output(task["run_id"]).get("error")
                if error:
                    return error
        return None

    def cancel(self, run_id: int) -> None:
        log.info("cancelling Databricks run %s", run_id)
        self.api.cancel_run(run_id)
