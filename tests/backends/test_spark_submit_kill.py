"""Killing a task on the ``spark`` compute backend ends the application it submitted.

``ScvSparkJobOperator`` runs a job through the same path as in production (scv zipped on
``--py-files``, the jars on ``--jars``, the provider's ``SparkSubmitHook``) against a
``local[1]`` master. The entry point is a stand-in that records its process ids and sleeps; it
starts no SparkContext, so the test is cheap, yet the process tree is the real one: spark-submit
``exec``s into the SparkSubmit JVM, which starts the Python driver as its child. ``on_kill``
must leave neither of them running (a driver left behind would keep writing to the lakehouse
after Airflow has marked the task as killed).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import psutil
import pytest
from airflow.sdk.exceptions import AirflowException

from scv_airflow.operators.spark_job import ScvSparkJobOperator

VENV_BIN = os.path.dirname(sys.executable)

ENTRY_POINT = '''\
"""Stand-in job: write this driver's pid and its parent's (the SparkSubmit JVM), then sleep."""
import os
import sys
import time

args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
target = args["pid_file"]
with open(target + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {os.getppid()}")
os.replace(target + ".tmp", target)
print("sleeper ready", flush=True)
time.sleep(600)
'''


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_on_kill_ends_the_spark_submit_jvm_and_its_python_driver(tmp_path, monkeypatch):
    jobs_dir = tmp_path / "spark_jobs"
    jobs_dir.mkdir()
    (jobs_dir / "sleeper.py").write_text(ENTRY_POINT)
    pid_file = tmp_path / "pids"

    monkeypatch.setenv("AIRFLOW_CONN_SCV_SPARK_LOCAL", json.dumps({"conn_type": "spark", "host": "local[1]"}))
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")  # spark-submit
    monkeypatch.setenv("SCV_COMPUTE_BACKEND", "spark")
    monkeypatch.setenv("SCV_SPARK_CONN_ID", "scv_spark_local")
    monkeypatch.setenv("SCV_SPARK_JOBS_DIR", str(jobs_dir))
    monkeypatch.setenv("SCV_SPARK_CONF", json.dumps({"spark.driver.memory": "512m", "spark.pyspark.python": sys.executable}))
    monkeypatch.setenv("SCV_LANDING_ROOT", str(tmp_path / "landing"))
    monkeypatch.setenv("SCV_LAKEHOUSE_ROOT", str(tmp_path / "lakehouse"))
    monkeypatch.setenv("SCV_ARTIFACTS_DIR", str(tmp_path / "artifacts"))

    op = ScvSparkJobOperator(
        task_id="sleeper",
        job="sleeper",
        job_kwargs={"logical_date": "2026-11-22", "pid_file": str(pid_file)},
    )
    outcome: dict = {}

    def run():
        try:
            outcome["summary"] = op.execute({})
        except BaseException as error:  # the killed submit fails the task
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 240
        while not pid_file.exists():
            assert worker.is_alive(), f"spark-submit ended before the job started: {outcome}"
            assert time.monotonic() < deadline, "the job did not start within 240 s"
            time.sleep(0.2)
        driver, jvm = (int(p) for p in pid_file.read_text().split())
        submit = op._hook._submit_hook._submit_sp
        # spark-submit exec's into the JVM: the process Airflow started *is* the driver's parent.
        assert submit.pid == jvm
        assert psutil.Process(driver).ppid() == jvm and "java" in psutil.Process(jvm).name()
        assert not gone(jvm) and not gone(driver)
        pids = [jvm, driver] + [c.pid for c in psutil.Process(jvm).children(recursive=True) if c.pid != driver]

        started = time.monotonic()
        op.on_kill()
        worker.join(60)
        assert not worker.is_alive(), "execute still blocked on the killed submit"
        deadline = started + 30
        while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {pid: psutil.Process(pid).cmdline()[:3] for pid in pids if not gone(pid)}
        assert not left, f"still running {time.monotonic() - started:.0f} s after on_kill: {left}"
        assert isinstance(outcome.get("error"), AirflowException), outcome
        assert "summary" not in outcome
    finally:
        for pid in pids:  # never leave the test's own processes behind
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                pass
        if worker.is_alive() and getattr(op, "_hook", None) is not None:
            op.on_kill()


def test_a_kill_before_spark_submit_starts_stops_the_submit(monkeypatch):
    """on_kill while the operator is still packaging scv: nothing to kill yet, so the submit
    that follows must not start (it would run unsupervised once the task is gone)."""
    from scv_airflow.hooks.spark_submit import SparkSubmitJobHook

    monkeypatch.setenv("AIRFLOW_CONN_SCV_SPARK_LOCAL", json.dumps({"conn_type": "spark", "host": "local[1]"}))
    hook = SparkSubmitJobHook(conn_id="scv_spark_local")
    assert hook.master_url() == "local[1]"
    hook.cancel()
    with pytest.raises(AirflowException, match="cancelled before it started"):
        hook.submit("/nonexistent/sleeper.py", [], name="scv-sleeper", py_files=[], jars=[])
    assert hook._submit_hook._submit_sp is None
