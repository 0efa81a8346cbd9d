"""Shared fixtures: one local Spark session (Delta + Splink jars) for the whole run.

Each test that writes tables gets its own lakehouse and landing folders under ``tmp_path`` via
``settings``; the session itself is shared because starting a JVM costs seconds.
"""

from __future__ import annotations

import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scv.config import PROJECT_ROOT, Settings

# Airflow reads its configuration when first imported: point it at the project before that.
os.environ.setdefault("AIRFLOW_HOME", str(PROJECT_ROOT / "airflow_home"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(PROJECT_ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(PROJECT_ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


def _own_airflow_database_per_worker() -> None:
    """Under pytest-xdist (``make test`` runs two workers), give each worker a copy of the
    migrated SQLite metadata database and its own task-log folder: two processes writing one
    SQLite file lock each other out, and two DAG runs of the same date would share log files."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    home = Path(os.environ["AIRFLOW_HOME"])
    source = home / "airflow.db"
    if not source.is_file():
        raise RuntimeError(f"{source} does not exist: run `make airflow-db` (airflow db migrate) before the tests")
    own = home / "xdist" / worker
    own.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, own / "airflow.db")
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{own / 'airflow.db'}"
    os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(own / "logs")


_own_airflow_database_per_worker()


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from scv.spark import build_spark_session

    base = Settings.from_env()
    settings = base.with_overrides(
        spark_master="local[2]",
        shuffle_partitions=2,
        driver_memory="6g",
        artifacts_dir=str(tmp_path_factory.mktemp("spark-artifacts")),
    )
    # 4 MB memory pages instead of the 32 MB Spark derives for this heap: every broadcast hash
    # join holds at least one page, and the tests' tables are tiny.
    session = build_spark_session(settings, app_name="scv-tests", **{"spark.buffer.pageSize": "4m"})
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _release_finished_query_jobs():
    """After every test, let the suite's one driver forget finished queries' jobs (Spark 4.2
    keeps some, with their broadcast tables, for good: ``scv.spark.release_finished_query_jobs``);
    without it the heap fills up about a hundred tests in."""
    yield
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        from scv.spark import release_finished_query_jobs

        release_finished_query_jobs(session)


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings pointing landing, lakehouse and artifacts at this test's own folders."""
    base = Settings.from_env()
    return base.with_overrides(
        landing_root=str(tmp_path / "landing"),
        lakehouse_root=str(tmp_path / "lakehouse"),
        artifacts_dir=str(tmp_path / "artifacts"),
        spark_master="local[2]",
        shuffle_partitions=2,
    )


@pytest.fixture
def http_sink(monkeypatch):
    """Start real HTTP servers on 127.0.0.1 that record every POST, each wired to an Airflow
    connection: ``received = http_sink("conn_id")`` gives the list of (path, headers, body)."""
    servers = []

    def start(conn_id: str) -> list[tuple[str, dict, bytes]]:
        received: list[tuple[str, dict, bytes]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", f"http://127.0.0.1:{server.server_port}")
        return received

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def pytest_configure(config):
    config.addinivalue_line("markers", "backends: object stores (moto S3), Spark standalone, Databricks API")


def pytest_collection_modifyitems(items):
    """Mark each test by the folder it lives in, so a test's cost is visible (-m unit, ...)."""
    for item in items:
        parts = os.path.normpath(str(item.fspath)).split(os.sep)
        for marker in ("unit", "spark", "e2e", "dags", "backends"):
            if marker in parts:
                item.add_marker(marker)
