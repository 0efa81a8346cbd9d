"""Stage entry points: one function per job, each ``run(spark, settings, **kwargs) -> summary``.

The same functions run in-process from an Airflow task, under spark-submit (``spark_jobs/``)
and on Databricks as a wheel task; each returns a small JSON-serialisable summary. Jobs are
looked up by name so that operators and entry points never import Spark code at parse time.
"""

from __future__ import annotations

import datetime as dt
import importlib
import time
from collections.abc import Callable
from contextlib import contextmanager

JOBS: dict[str, str] = {
    "bronze_ingest": "scv.jobs.bronze:run",
    "profile_bronze": "scv.jobs.profiling:run",
    "silver_standardise": "scv.jobs.silver:run",
    "train_linkage_model": "scv.jobs.linkage:train",
    "link_records": "scv.jobs.linkage:run",
    "steward_review": "scv.jobs.linkage:review",
    "build_golden": "scv.jobs.golden:run",
    "publish_gold": "scv.jobs.golden:publish",
    "customer_features": "scv.jobs.features:run",
    "gold_sql_models": "scv.sql_views:run",
    "train_propensity": "scv.jobs.propensity:train",
    "score_propensity": "scv.jobs.propensity:score",
}


def resolve(job: str) -> Callable[..., dict]:
    if job not in JOBS:
        raise KeyError(f"unknown scv job {job!r}; known jobs: {', '.join(sorted(JOBS))}")
    module, _, function = JOBS[job].partition(":")
    return getattr(importlib.import_module(module), function)


def parse_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


class StepClock:
    """Wall seconds per named step of one job run, reported in its summary."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 3)
