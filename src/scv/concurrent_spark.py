"""Run independent Spark actions of one job concurrently, from threads of one session.

A daily run's small writes (five gold MERGEs, a build's staged tables and their deletes) spend
most of their time in the driver (planning, reading and committing the Delta log) and in tiny
Spark jobs that leave the cores idle. Started from threads, such actions overlap: Spark's
scheduler runs jobs from several threads at once, and each Delta write to its own table is its
own transaction, so none of them waits for or conflicts with another.

Use it only for actions that are independent: different target tables, inputs that none of the
others writes. Every thread inherits the caller's Spark local properties (job group, scheduler
pool). The call returns when all have finished; if any failed, it re-raises the first failure (in
the order given, with a note naming the task) after the others completed, so no write is left
running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pyspark.sql import SparkSession

from pyspark.util import inheritable_thread_target

log = logging.getLogger(__name__)

T = TypeVar("T")

# One at a time unless a caller asks for more: on the 2-core machine concurrent writes inside a
# job gained little (four concurrent gold MERGEs took 18 s where one took 5 s) and raised the
# driver's peak memory enough to exhaust a small test JVM's heap. The benchmark runs the DAG's
# parallel branches with an explicit ``max_workers``.
DEFAULT_MAX_WORKERS = 1


def run_concurrently(
    spark: SparkSession, tasks: Mapping[str, Callable[[], T]], max_workers: int = DEFAULT_MAX_WORKERS
) -> dict[str, T]:
    """Run every task of ``tasks`` (name -> callable without arguments) in a thread pool of at
    most ``max_workers`` threads, each with ``spark``'s local properties and tags; returns
    name -> result, in the order of ``tasks``."""
    if not tasks:
        return {}
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, not {max_workers}")
    if len(tasks) == 1 or max_workers == 1:
        return {name: task() for name, task in tasks.items()}
    inherit = inheritable_thread_target(spark)
    with ThreadPoolExecutor(max_workers=min(max_workers, len(tasks)), thread_name_prefix="scv-spark") as pool:
        futures = {name: pool.submit(inherit(task)) for name, task in tasks.items()}
        errors = {name: future.exception() for name, future in futures.items()}
    for name, error in errors.items():
        if error is not None:
            failed = [n for n, e in errors.items() if e is not None]
            log.error("concurrent task(s) failed: %s", ", ".join(failed))
            error.add_note(f"in the concurrent task {name!r}")
            raise error
    return {name: future.result() for name, future in futures.items()}
