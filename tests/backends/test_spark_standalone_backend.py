"""The ``spark`` compute backend on a real Spark standalone cluster: a master and one worker
(1 core, 1 GB) started on localhost from pyspark's own ``spark-class``, a job submitted through
the provider's ``SparkSubmitHook`` by ``ScvSparkJobOperator``, its Delta output checked."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from types import SimpleNamespace

import pytest

from scv_airflow.operators.spark_job import ScvSparkJobOperator

VENV_BIN = os.path.dirname(sys.executable)
HEADER = (
    "contactid,firstname,lastname,companyname,emailaddress1,mobilephone,telephone1,birthdate,"
    "address1_line1,address1_city,address1_postalcode,address1_country,donotemail,modifiedon"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def master_state(ui_port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory):
    """Master + one worker (1 core, 1g); both processes are stopped in teardown."""
    logs = tmp_path_factory.mktemp("spark-standalone")
    port, ui_port, worker_ui = free_port(), free_port(), free_port()
    spark_class = os.path.join(VENV_BIN, "spark-class")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DAEMON_MEMORY": "512m"}
    processes = []
    try:
        processes.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(ui_port)],
            stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT, env=env,
        ))
        processes.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1",
             "--memory", "1g", "--webui-port", str(worker_ui), "--work-dir", str(logs / "work"),
             f"spark://127.0.0.1:{port}"],
            stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT, env=env,
        ))
        deadline = time.monotonic() + 180
        while True:
            try:
                if any(w["state"] == "ALIVE" for w in master_state(ui_port)["workers"]):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (logs / "master.log").read_text()[-2000:]
            assert all(p.poll() is None for p in processes), "a Spark daemon exited"
            time.sleep(1)
        yield SimpleNamespace(port=port, ui_port=ui_port, logs=logs)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_job_runs_on_the_standalone_cluster_via_spark_submit(spark, standalone_cluster, tmp_path, monkeypatch):
    landing = tmp_path / "landing" / "crm"
    landing.mkdir(parents=True)
    rows = [f"C{i},Name{i},Family{i},,p{i}@example.com,,,,,,,,0,2026-01-01T00:00:00Z" for i in range(25)]
    (landing / "crm_contacts_20261122.csv").write_text("\n".join([HEADER, *rows, "C99,\"broken"]) + "\n")

    connection = {"conn_type": "spark", "host": "spark://127.0.0.1", "port": standalone_cluster.port}
    monkeypatch.setenv("AIRFLOW_CONN_SCV_SPARK_TEST", json.dumps(connection))
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")  # spark-submit
    monkeypatch.setenv("SCV_COMPUTE_BACKEND", "spark")
    monkeypatch.setenv("SCV_SPARK_CONN_ID", "scv_spark_test")
    monkeypatch.setenv("SCV_SPARK_CONF", json.dumps({
        "spark.executor.memory": "512m",
        "spark.cores.max": "1",
        "spark.driver.memory": "1g",
        "spark.pyspark.python": sys.executable,
        "spark.driver.host": "127.0.0.1",
    }))
    monkeypatch.setenv("SCV_LANDING_ROOT", str(tmp_path / "landing"))
    monkeypatch.setenv("SCV_LAKEHOUSE_ROOT", str(tmp_path / "lakehouse"))
    monkeypatch.setenv("SCV_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SCV_SHUFFLE_PARTITIONS", "2")

    op = ScvSparkJobOperator(
        task_id="ingest_crm",
        job="bronze_ingest",
        job_kwargs={"source": "crm", "logical_date": "2026-11-22", "run_id": "spark-backend-test"},
    )
    summary = op.execute({})

    assert summary["compute_backend"] == "spark"
    assert (summary["rows_read"], summary["rows_bronze"], summary["rows_quarantined"]) == (26, 25, 1)
    bronze = spark.read.format("delta").load(str(tmp_path / "lakehouse" / "bronze" / "crm"))
    assert bronze.count() == 25
    assert {r.contactid for r in bronze.select("contactid").collect()} == {f"C{i}" for i in range(25)}
    assert bronze.select("_run_id").distinct().first()._run_id == "spark-backend-test"
    # The application really ran on the cluster (not in a local master of its own).
    apps = master_state(standalone_cluster.ui_port)["completedapps"]
    assert [(app["name"], app["cores"]) for app in apps] == [("scv-bronze_ingest", 1)], apps
