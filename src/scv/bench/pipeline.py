"""The daily DAG's stages run in-process, in the DAG's order, through the DAG's own job functions.

``scv_daily`` runs, per logical date: one ``bronze_ingest`` per source contract, each followed by
its bronze gate and a ``profile_bronze``; ``silver_standardise`` and its gate;
``link_records`` (which trains and approves a model first when none is approved); then
``steward_review`` (review queue and dashboards, beside the golden build in the DAG),
``build_golden``, the two gold gates and ``publish_gold``. Here the same functions
(``scv.jobs.resolve``) and the same gate (``scv.quality.run_gate``, with the suites the DAG
names) run one after the other in one Spark session, each timed as a stage:

``ingest, profile, validate (all gates), standardise, train, predict, cluster, review, golden, gold``.

Where the DAG has parallel branches, they run side by side here too, from threads of the one
session (:func:`scv.concurrent_spark.run_concurrently`, at most :data:`DAG_BRANCHES` at once):
the five sources' bronze chains (ingest, gate, profile), and ``steward_review`` beside
``build_golden`` and what follows it. Great Expectations keeps one current project per process, so the gates take
turns (in Airflow each task is its own process). Stages that ran side by side overlap in time:
a stage's seconds are the wall time during which any of its calls ran, and the run's total is
its wall time (:class:`scv.bench.timing.StageTimer`).

Training is the explicit ``train_linkage_model`` job with ``approve_model=True`` (what the
DAG's bootstrap does inside ``link_records`` on a first run), so that its time is its own
stage. ``predict`` is the time spent inside ``predict_pairs``/``predict_incremental`` called
by ``link_records``; ``cluster`` is the rest of ``link_records`` (clustering, persistent ids,
writing the linkage tables). A failed critical gate is recorded, not raised: the benchmark
measures the whole flow even on data the gates reject, and reports the failure.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from scv.concurrent_spark import run_concurrently
from scv.bench.timing import StageTimer, instrumented, timed_as, timed_detail
from scv.config import Settings
from scv.contracts import load_contracts
from scv.jobs import resolve

log = logging.getLogger(__name__)

STAGES = ("ingest", "profile", "validate", "standardise", "train", "predict", "cluster", "review", "golden", "gold")
LINKAGE_STAGES = ("train", "predict", "cluster")

SILVER_GATE = ("silver/person_records", "silver_person_records")
# The branches of scv_daily that Airflow runs side by side (each source's bronze chain, all five at
# once under Airflow's default max_active_tasks of 16; steward_review beside build_golden), run
# here from at most this many threads of the one session.
DAG_BRANCHES = 5
GOLD_GATES = (("staging/customer_xref", "gold_customer_xref"), ("staging/customer_golden", "gold_customer_golden"))


def _bronze_suite(settings: Settings, source: str) -> str:
    suites = {p.stem for p in Path(settings.include_dir, "expectations").glob("*.json")}
    return f"bronze_{source}" if f"bronze_{source}" in suites else "bronze_default"


def run_daily(
    spark: SparkSession,
    settings: Settings,
    logical_date: str,
    timer: StageTimer,
    *,
    run_id: str,
    train: bool,
    branches: int = DAG_BRANCHES,
) -> dict[str, Any]:
    """Run the daily flow for ``logical_date``; returns every job's summary and the gates'
    statuses. ``train`` runs ``train_linkage_model`` (approving the model) before linking.
    ``branches``: how many of the DAG's parallel branches run at once (1: one after the other)."""
    from scv.quality.gate import RunInfo, run_gate
    import scv.jobs.linkage as linkage_job

    run = {"logical_date": logical_date, "run_id": run_id}
    gx_turn = threading.Lock()
    summaries: dict[str, Any] = {"gates": {}}

    def gate(task_id: str, table_path: str, suite: str, row_filter: str | None = None) -> None:
        with gx_turn, timer.stage("validate"):
            outcome = run_gate(
                spark, settings, table_path=table_path, suite=suite, row_filter=row_filter,
                run=RunInfo(run_id=run_id, dag_id="scv_daily", task_id=task_id, try_number=1),
            )
        summaries["gates"][task_id] = outcome.status
        if not outcome.success:
            log.warning("gate %s failed (%d critical): the DAG would stop here; the benchmark goes on",
                        task_id, len(outcome.critical_failures))

    contracts = load_contracts(settings.sources_dir)
    if contracts.errors:
        raise ValueError(f"broken source contracts: {sorted(contracts.errors)}")

    def bronze_branch(name: str) -> dict[str, Any]:
        with timer.stage("ingest"):
            summary = resolve("bronze_ingest")(spark, settings, source=name, **run)
        gate(f"bronze.gate_bronze_{name}", f"bronze/{name}", _bronze_suite(settings, name),
             row_filter=f"_logical_date = '{logical_date}'")
        with timer.stage("profile"):
            resolve("profile_bronze")(spark, settings, source=name, **run)
        return summary

    summaries["bronze"] = run_concurrently(
        spark, {name: functools.partial(bronze_branch, name) for name in contracts.contracts}, max_workers=branches
    )

    with timer.stage("standardise"):
        summaries["silver"] = resolve("silver_standardise")(spark, settings, **run)
    gate("gate_silver", *SILVER_GATE, row_filter=f"_silver_logical_date = '{logical_date}'")

    if train:
        with timer.stage("train"):
            summaries["train"] = resolve("train_linkage_model")(spark, settings, approve_model=True, **run)
    predict_wrapper = timed_as(timer, "predict")
    with instrumented(linkage_job, ("predict_pairs", "predict_incremental"), predict_wrapper), \
            instrumented(linkage_job, ("cluster_records",), timed_detail(timer, "cluster_records")), \
            timer.stage("cluster"):
        summaries["link"] = resolve("link_records")(spark, settings, full_relink=False, bootstrap_model=False, **run)

    def review_branch() -> dict[str, Any]:
        with timer.stage("review"):
            return resolve("steward_review")(spark, settings, **run)

    def golden_branch() -> dict[str, Any]:
        with timer.stage("golden"):
            summaries["golden"] = resolve("build_golden")(spark, settings, **run)
        for table_path, suite in GOLD_GATES:
            gate(f"gate_gold.{table_path.split('/')[-1]}", table_path, suite)
        with timer.stage("gold"):
            return resolve("publish_gold")(spark, settings, **run)

    done = run_concurrently(spark, {"review": review_branch, "gold": golden_branch}, max_workers=branches)
    summaries.update(done)
    return summaries
