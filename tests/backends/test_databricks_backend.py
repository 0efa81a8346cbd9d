"""The ``databricks`` compute backend through the provider's real ``DatabricksHook``, against a
local HTTP server speaking the Jobs API calls used (runs/submit, runs/get, runs/get-output,
runs/cancel) and recording every request."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pytest

from scv_airflow.hooks.databricks_jobs import DatabricksRunFailed
from scv_airflow.operators.spark_job import ScvSparkJobOperator

TOKEN = "dapi-scv-test-token"
RUN_ID = 4242
TASK_RUN_ID = 4243
CLUSTER = {"spark_version": "17.3.x-scala2.13", "node_type_id": "m6i.large", "num_workers": 1, "policy_id": "ABC123"}
WHEEL = "/Volumes/main/scv/artifacts/scv-0.1.0-py3-none-any.whl"
JOBS_DIR = "/Workspace/Shared/scv/spark_jobs"


def similarity_jar() -> str:
    """Where the README recipe uploads Splink's similarity UDF jar (same file name)."""
    from splink.backends.spark import similarity_jar_location

    return f"/Volumes/main/scv/artifacts/{os.path.basename(similarity_jar_location())}"


class FakeJobsApi:
    """In-memory Jobs API: a run goes PENDING -> RUNNING -> the scenario's end state."""

    def __init__(self, scenario: str):
        self.scenario = scenario  # "success" | "failure" | "hang" | "slow-submit" (hangs too)
        self.requests: list[dict] = []
        self.polls = 0
        self.cancelled = False
        self.submitted = threading.Event()
        self.answer_submit = threading.Event()  # "slow-submit" answers runs/submit once set
        if scenario != "slow-submit":
            self.answer_submit.set()

    def state(self) -> dict:
        if self.cancelled:
            return {"life_cycle_state": "TERMINATED", "result_state": "CANCELED", "state_message": "cancelled by user"}
        if self.scenario in ("hang", "slow-submit") or self.polls < 2:
            return {"life_cycle_state": "PENDING" if self.polls == 0 else "RUNNING", "state_message": ""}
        if self.scenario == "success":
            return {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": ""}
        return {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED", "state_message": "Task bronze_ingest failed"}

    def handle(self, method: str, path: str, query: dict, body: dict) -> tuple[int, dict]:
        self.requests.append({"method": method, "path": path, "query": query, "body": body})
        if (method, path) == ("POST", "/api/2.2/jobs/runs/submit"):
            self.submitted.set()
            assert self.answer_submit.wait(30)
            return 200, {"run_id": RUN_ID}
        if (method, path) == ("GET", "/api/2.2/jobs/runs/get"):
            assert int(query["run_id"]) == RUN_ID
            if path == "/api/2.2/jobs/runs/get" and "page_token" not in query:
                self.polls += 1
            state = self.state()
            task_state = dict(state)
            return 200, {
                "run_id": RUN_ID,
                "run_page_url": f"https://example.cloud.databricks.com/#job/1/run/{RUN_ID}",
                "state": state,
                "tasks": [{"run_id": TASK_RUN_ID, "task_key": "bronze_ingest", "state": task_state}],
            }
        if (method, path) == ("GET", "/api/2.2/jobs/runs/get-output"):
            assert int(query["run_id"]) == TASK_RUN_ID
            if self.scenario == "success":
                return 200, {"logs": 'INFO starting\n{"source": "crm", "rows_bronze": 7}\n', "logs_truncated": False}
            return 200, {"error": "SourceFilesMissing: source 'crm': no file delivered for 2026-11-22", "error_trace": "Traceback..."}
        if (method, path) == ("POST", "/api/2.2/jobs/runs/cancel"):
            assert body == {"run_id": RUN_ID}
            self.cancelled = True
            return 200, {}
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"{method} {path}"}


@pytest.fixture
def jobs_api(request, monkeypatch):
    api = FakeJobsApi(getattr(request, "param", "success"))

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method):
            parsed = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, payload = 401, {"error_code": "UNAUTHENTICATED"}
            else:
                status, payload = api.handle(method, parsed.path, query, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    connection = {"conn_type": "databricks", "host": "127.0.0.1", "port": server.server_port, "schema": "http", "password": TOKEN}
    monkeypatch.setenv("AIRFLOW_CONN_SCV_DATABRICKS_TEST", json.dumps(connection))
    monkeypatch.setenv("SCV_COMPUTE_BACKEND", "databricks")
    monkeypatch.setenv("SCV_DATABRICKS_CONN_ID", "scv_databricks_test")
    monkeypatch.setenv("SCV_DATABRICKS_CLUSTER", json.dumps(CLUSTER))
    monkeypatch.setenv("SCV_DATABRICKS_WHEEL", WHEEL)
    monkeypatch.setenv("SCV_DATABRICKS_JARS", json.dumps([similarity_jar()]))
    monkeypatch.setenv("SCV_DATABRICKS_JOBS_DIR", JOBS_DIR)
    monkeypatch.setenv("SCV_DATABRICKS_POLL_SECONDS", "0.05")
    monkeypatch.setenv("SCV_DATABRICKS_ENV", json.dumps({"SCV_INCLUDE_DIR": "/Workspace/Shared/scv/include"}))
    monkeypatch.setenv("SCV_LAKEHOUSE_ROOT", "s3a://scv-lakehouse/prod")
    monkeypatch.setenv("SCV_LANDING_ROOT", "s3a://scv-landing")
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


def operator() -> ScvSparkJobOperator:
    return ScvSparkJobOperator(
        task_id="ingest_crm",
        job="bronze_ingest",
        job_kwargs={"source": "crm", "logical_date": "2026-11-22", "run_id": "scheduled__2026-11-22"},
    )


def context(try_number: int = 1):
    ti = SimpleNamespace(dag_id="scv_daily", task_id="bronze.ingest_crm", run_id="scheduled__2026-11-22", map_index=-1, try_number=try_number)
    return {"ti": ti}


def test_submits_the_entry_point_on_a_job_cluster_and_polls_to_success(jobs_api):
    op = operator()
    summary = op.execute(context())

    assert summary == {"source": "crm", "rows_bronze": 7, "compute_backend": "databricks", "databricks_run_id": RUN_ID}
    assert op.databricks_run_id == RUN_ID
    submit = jobs_api.requests[0]
    assert (submit["method"], submit["path"]) == ("POST", "/api/2.2/jobs/runs/submit")
    payload = submit["body"]
    assert payload["run_name"] == "scv scv_daily.ingest_crm 2026-11-22"
    assert len(payload["idempotency_token"]) == 64
    (task,) = payload["tasks"]
    assert task["task_key"] == "bronze_ingest"
    assert task["spark_python_task"] == {
        "python_file": f"{JOBS_DIR}/bronze_ingest.py",
        "parameters": ["--logical-date", "2026-11-22", "--run-id", "scheduled__2026-11-22", "--arg", "source=crm"],
    }
    assert task["libraries"] == [{"whl": WHEEL}, {"jar": similarity_jar()}]
    assert {k: task["new_cluster"][k] for k in CLUSTER} == CLUSTER
    assert task["new_cluster"]["spark_env_vars"] == {
        "SCV_LAKEHOUSE_ROOT": "s3a://scv-lakehouse/prod",
        "SCV_LANDING_ROOT": "s3a://scv-landing",
        "SCV_INCLUDE_DIR": "/Workspace/Shared/scv/include",
    }
    calls = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in jobs_api.requests]
    assert calls.count(("GET", "get")) >= 3  # PENDING, RUNNING, TERMINATED
    assert calls[-1] == ("GET", "get-output")
    assert ("POST", "cancel") not in calls

    # The same try resubmits with the same token (no duplicate run); a retry gets a new one.
    op_again = operator()
    op_again.execute(context())
    op_retry = operator()
    op_retry.execute(context(try_number=2))
    tokens = [r["body"]["idempotency_token"] for r in jobs_api.requests if r["path"].endswith("/submit")]
    assert tokens[0] == tokens[1] != tokens[2]


def test_linkage_runs_with_splinks_similarity_jar_as_a_library(jobs_api, monkeypatch):
    extra = "s3://scv-artifacts/jars/extra-udfs.jar"
    monkeypatch.setenv("SCV_DATABRICKS_JARS", f" {similarity_jar()} , {extra}")  # comma list
    op = ScvSparkJobOperator(
        task_id="link_records", job="link_records", job_kwargs={"logical_date": "2026-11-22"}
    )
    summary = op.execute(context())

    assert summary["compute_backend"] == "databricks"
    (submit,) = [r for r in jobs_api.requests if r["path"].endswith("/runs/submit")]
    (task,) = submit["body"]["tasks"]
    assert task["spark_python_task"]["python_file"] == f"{JOBS_DIR}/link_records.py"
    assert task["libraries"] == [{"whl": WHEEL}, {"jar": similarity_jar()}, {"jar": extra}]

    # Without a wheel the jars still go; without SCV_DATABRICKS_JARS no jar library is added.
    monkeypatch.delenv("SCV_DATABRICKS_WHEEL")
    operator().execute(context())
    monkeypatch.setenv("SCV_DATABRICKS_WHEEL", WHEEL)
    monkeypatch.delenv("SCV_DATABRICKS_JARS")
    operator().execute(context())
    later = [r["body"]["tasks"][0].get("libraries") for r in jobs_api.requests if r["path"].endswith("/runs/submit")][1:]
    assert later == [[{"jar": similarity_jar()}, {"jar": extra}], [{"whl": WHEEL}]]


@pytest.mark.parametrize(
    "value, message",
    [
        ('["/Volumes/main/scv/artifacts/a.jar"', "SCV_DATABRICKS_JARS is not valid JSON"),
        ('{"jar": "/Volumes/main/scv/artifacts/a.jar"}', "must be a JSON list of strings"),
        ('["/Volumes/main/scv/artifacts/a.jar", 3]', "must be a JSON list of strings"),
        ("/Volumes/main/scv/artifacts/a.jar,,/Volumes/b.jar", "has an empty entry"),
        ("/Volumes/main/scv/artifacts/scv-0.1.0-py3-none-any.whl", "is not a .jar"),
        ("/home/me/.venv/lib/scala-udf-similarity-0.2.1_spark4.x.jar", "not a path a Databricks cluster can install"),
        ("dbfs:/Volumes/main/scv/artifacts/a.jar", "give the volume path as '/Volumes/main/scv/artifacts/a.jar'"),
    ],
)
def test_a_malformed_jar_setting_is_a_clear_error_before_anything_is_submitted(value, message):
    from scv_airflow.operators.compute_backends import ComputeBackendConfig

    with pytest.raises(ValueError, match=re.escape(message)):
        ComputeBackendConfig.from_env({"SCV_COMPUTE_BACKEND": "databricks", "SCV_DATABRICKS_JARS": value})


@pytest.mark.parametrize("jobs_api", ["failure"], indirect=True)
def test_a_failed_run_fails_the_task_with_the_runs_error(jobs_api):
    op = operator()
    with pytest.raises(DatabricksRunFailed) as failure:
        op.execute(context())
    message = str(failure.value)
    assert f"Databricks run {RUN_ID} FAILED" in message
    assert "SourceFilesMissing: source 'crm': no file delivered for 2026-11-22" in message
    assert "Traceback" not in message
    output_calls = [r for r in jobs_api.requests if r["path"].endswith("/get-output")]
    assert [r["query"]["run_id"] for r in output_calls] == [str(TASK_RUN_ID)]


def execute_in_background(op) -> tuple[threading.Thread, dict]:
    """Start ``op.execute`` in a thread; the dict gets the error it raised (a cancelled run
    ends CANCELED)."""
    outcome: dict = {}

    def run():
        try:
            op.execute(context())
        except Exception as error:
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    return worker, outcome


def assert_cancelled_once(jobs_api, outcome: dict) -> None:
    cancels = [r for r in jobs_api.requests if r["path"].endswith("/runs/cancel")]
    assert [c["body"] for c in cancels] == [{"run_id": RUN_ID}]
    assert isinstance(outcome.get("error"), DatabricksRunFailed)
    assert "CANCELED" in str(outcome["error"])


@pytest.mark.parametrize("jobs_api", ["hang"], indirect=True)
def test_on_kill_cancels_the_remote_run(jobs_api):
    op = operator()
    worker, outcome = execute_in_background(op)
    assert jobs_api.submitted.wait(30)
    deadline = time.monotonic() + 30
    while op.databricks_run_id is None and time.monotonic() < deadline:
        time.sleep(0.05)
    op.on_kill()
    worker.join(30)
    assert not worker.is_alive()
    assert_cancelled_once(jobs_api, outcome)


@pytest.mark.parametrize("jobs_api", ["slow-submit"], indirect=True)
def test_on_kill_during_submit_cancels_the_run_once_its_id_is_known(jobs_api):
    op = operator()
    worker, outcome = execute_in_background(op)
    assert jobs_api.submitted.wait(30)  # runs/submit received, not answered yet
    assert op.databricks_run_id is None
    op.on_kill()  # no run id to cancel yet: must neither fail nor be forgotten
    jobs_api.answer_submit.set()
    worker.join(30)
    assert not worker.is_alive()
    assert_cancelled_once(jobs_api, outcome)


def test_backend_is_chosen_by_configuration(monkeypatch):
    from scv_airflow.operators.compute_backends import ComputeBackendConfig

    monkeypatch.delenv("SCV_COMPUTE_BACKEND", raising=False)
    assert ComputeBackendConfig.from_env().backend == "local"
    monkeypatch.setenv("SCV_COMPUTE_BACKEND", "Spark")
    assert ComputeBackendConfig.from_env().backend == "spark"
    assert ComputeBackendConfig.from_env(backend="databricks").backend == "databricks"
    monkeypatch.setenv("SCV_COMPUTE_BACKEND", "emr")
    with pytest.raises(ValueError, match="unknown compute backend 'emr'"):
        ComputeBackendConfig.from_env()
