"""Peak memory of the Spark driver, sampled in a background thread.

In local mode the driver is the JVM that PySpark starts as a child of this Python process
(executors are threads inside it), so the driver's memory is that JVM's resident set size.
Three figures are sampled every ``interval`` seconds:

- ``driver_rss_mb``: RSS of the driver JVM (psutil): heap, metaspace, off-heap buffers, thread
  stacks; what the operating system charges and what a 12 GB limit applies to;
- ``jvm_heap_used_mb``: heap in use as the JVM reports it (``MemoryMXBean`` through py4j);
- ``process_tree_rss_mb``: RSS of this Python process and all its descendants (driver JVM,
  Python UDF workers, baseline subprocesses), i.e. everything the benchmark holds.

Sampling can miss a spike shorter than the interval; the JVM heap cannot exceed
``spark.driver.memory`` anyway.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import psutil

MB = 1024 * 1024


def driver_jvm_process(root_pid: int | None = None) -> psutil.Process | None:
    """The Java process among the descendants of ``root_pid`` (default: this process)."""
    root = psutil.Process(root_pid or os.getpid())
    for child in root.children(recursive=True):
        try:
            if "java" in child.name().lower():
                return child
        except psutil.Error:
            continue
    return None


def tree_rss(root: psutil.Process) -> int:
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


class MemorySampler:
    """Background sampler; :meth:`watch` / :meth:`release` give the peaks between two points.

    ``spark`` is optional: without it (DuckDB baseline) only process-tree RSS is sampled.
    """

    def __init__(self, spark: Any = None, interval: float = 0.25, root_pid: int | None = None):
        self.interval = interval
        self._root = psutil.Process(root_pid or os.getpid())
        self._jvm_process = driver_jvm_process(self._root.pid) if spark is not None else None
        self._memory_bean = None
        if spark is not None:
            management = spark._jvm.java.lang.management.ManagementFactory  # type: ignore[union-attr]
            self._memory_bean = management.getMemoryMXBean()
        self._lock = threading.Lock()
        self._watchers: dict[int, dict[str, float]] = {}
        self._next_token = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.overall: dict[str, float] = {}

    @property
    def method(self) -> str:
        return (
            f"psutil RSS of the driver JVM (pid {self._jvm_process.pid if self._jvm_process else 'n/a'}) and of the "
            f"whole process tree, plus JVM MemoryMXBean heap used via py4j, sampled every {self.interval}s"
        )

    def sample(self) -> dict[str, float]:
        values = {"process_tree_rss_mb": tree_rss(self._root) / MB}
        if self._jvm_process is not None:
            try:
                values["driver_rss_mb"] = self._jvm_process.memory_info().rss / MB
            except psutil.Error:
                pass
        if self._memory_bean is not None:
            try:
                values["jvm_heap_used_mb"] = self._memory_bean.getHeapMemoryUsage().getUsed() / MB
            except Exception:  # the gateway is closing; keep the RSS figures
                pass
        with self._lock:
            for peaks in [*self._watchers.values(), self.overall]:
                for key, value in values.items():
                    if value > peaks.get(key, 0.0):
                        peaks[key] = value
        return values

    def watch(self) -> int:
        with self._lock:
            token = self._next_token
            self._next_token += 1
            self._watchers[token] = {}
        self.sample()
        return token

    def release(self, token: int) -> dict[str, float]:
        self.sample()
        with self._lock:
            peaks = self._watchers.pop(token)
        return {k: round(v, 1) for k, v in peaks.items()}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> "MemorySampler":
        self._thread = threading.Thread(target=self._run, name="scv-bench-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
