"""Running an scv job on a Spark cluster with ``spark-submit`` (the ``spark`` compute backend).

The Apache Spark provider's ``SparkSubmitHook`` does the submitting: its Airflow connection holds
the master URL (``spark://host:7077``, ``yarn``, ``k8s://...``), so the same DAG runs against any
cluster. What ships with the job: the thin entry point ``spark_jobs/<job>.py``, the ``scv``
package as a zip on ``--py-files`` and the JVM jars (Delta, object-store connectors) on
``--jars``. The entry point prints the job's JSON summary as a line of its own; it is read back
from the driver's output (client deploy mode, the default).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
from airflow.sdk.exceptions import AirflowException


def package_archive(dest_dir: str | os.PathLike) -> str:
    """A zip of the installed ``scv`` package (for ``--py-files``), written under ``dest_dir``.

    Built from the code this worker runs, so driver and executors run the same version. Byte
    code and caches are left out; entries are sorted so equal code gives an equal archive.
    """
    import scv

    package_dir = Path(scv.__file__).resolve().parent
    target = Path(dest_dir) / "scv.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package_dir.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(str(Path("scv") / path.relative_to(package_dir)), date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return str(target)


def last_json_object(lines) -> dict | None:
    """The last line that is a JSON object (the entry point's summary), if any."""
    for line in reversed(list(lines)):
        text = line.strip()
        if text.startswith("{") and text.endswith("}"):
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


class _OutputKeepingSparkSubmitHook(SparkSubmitHook):
    """``SparkSubmitHook`` that also keeps the tail of the driver's output for the summary."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.output_tail: deque[str] = deque(maxlen=200)

    def _process_spark_submit_log(self, itr: Iterator[Any]) -> None:
        def keep(lines: Iterator[Any]) -> Iterator[Any]:
            for line in lines:
                self.output_tail.append(line)
                yield line

        super()._process_spark_submit_log(keep(itr))


class SparkSubmitJobHook:
    """Submits ``spark_jobs/<job>.py`` through the provider's ``SparkSubmitHook``.

    :param conn_id: Airflow connection of the Spark master (``spark_default``).
    :param conf: extra ``--conf`` values (executor memory, ``spark.pyspark.python``...).

    Built inside ``execute``; ``cancel`` kills the spark-submit process and the processes it
    started (the client-mode Python driver), which ends the application on the cluster.
    """

    def __init__(self, conn_id: str = "spark_default", conf: dict[str, str] | None = None) -> None:
        self.conn_id = conn_id
        self.conf = dict(conf or {})
        self._submit_hook: _OutputKeepingSparkSubmitHook | None = None
        self._cancelled = False

    def master_url(self) -> str:
        return self._hook()._connection["master"]

    def _hook(self, **kwargs: Any) -> _OutputKeepingSparkSubmitHook:
        if self._submit_hook is None or kwargs:
            self._submit_hook = _OutputKeepingSparkSubmitHook(conn_id=self.conn_id, conf=self.conf, **kwargs)
        return self._submit_hook

    def submit(
        self,
        application: str,
        application_args: list[str],
        *,
        name: str,
        py_files: list[str],
        jars: list[str],
        env_vars: dict[str, str] | None = None,
    ) -> dict:
        """Run the application to completion; the job's summary (``{}`` if none was printed).

        Raises ``AirflowException`` (from the provider) with the tail of the output on failure.
        """
        master = self.master_url()
        hook = self._hook(
            name=name,
            application_args=application_args,
            py_files=",".join(py_files) or None,
            jars=",".join(jars) or None,
            # The entry point builds its session from SCV_* settings: it must keep this master.
            env_vars={**(env_vars or {}), "SCV_SPARK_MASTER": master},
        )
        if self._cancelled:  # killed while the package was being built: start nothing
            raise AirflowException(f"spark-submit of {application} cancelled before it started")
        hook.submit(application=application)
        return last_json_object(hook.output_tail) or {}

    def cancel(self, grace_seconds: float = 10.0) -> None:
        """Stop the submitted application (the operator's ``on_kill``).

        The provider's ``on_kill`` kills the spark-submit process (and, where it applies, the
        driver on the cluster, the YARN application or the driver pod). spark-submit ``exec``s
        into the SparkSubmit JVM, and for a Python application that JVM starts the driver as a
        child process, which outlives a killed JVM: a client-mode driver would go on running the
        job (and writing tables) after the task was killed. So the processes below spark-submit
        are collected first and, once the provider has killed spark-submit, terminated too
        (``SIGTERM``, then ``SIGKILL`` after ``grace_seconds``).
        """
        self._cancelled = True
        hook = self._submit_hook
        if hook is None:
            return
        descendants = _descendants(getattr(hook, "_submit_sp", None))
        hook.on_kill()
        _terminate(descendants, grace_seconds)


def _descendants(process) -> list:
    """The live processes under ``process`` (a ``subprocess.Popen``), as ``psutil`` handles
    (which refuse to signal a pid the system has since given to another process)."""
    if process is None or process.poll() is not None:
        return []
    try:
        return psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        return []


def _terminate(processes: list, grace_seconds: float) -> None:
    for process in processes:
        try:
            process.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(processes, timeout=grace_seconds)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
