"""
# scv_propensity_scoring: daily propensity scores for every customer and product group

Runs whenever `gold/customer_features` is updated (scheduled on its Asset, so after each
`scv_daily` run), or by hand for a chosen date.

1. **as_of_date** resolves the features snapshot to score: the `as_of_date` param if given,
   else the run's logical date (manual runs), else the logical date of the `scv_daily` run that
   updated the features; empty means the newest snapshot.
2. **score_&lt;group&gt;**, one per product group in `include/propensity/product_groups.yml`,
   loads `models:/scv_propensity_<group>@champion` (pinned to its version number), scores every
   customer of that snapshot and replaces the (date, group) partition of
   `gold/propensity_scores` (customer_id, product_group, score, model_name, model_version,
   as_of_date, scored_at).

Idempotent per date and group. A group without a champion (never trained, or the alias removed)
fails its own task with a message saying how to fix it; the other groups still score.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, Param, task
from scv_airflow.assets import table_asset
from scv_airflow.operators.spark_job import ScvSparkJobOperator

from scv.config import Settings
from scv.propensity.config import PropensityConfigError, config_path, load_config

RETRIES = int(os.environ.get("SCV_TASK_RETRIES", "2"))
RETRY_DELAY = dt.timedelta(seconds=int(os.environ.get("SCV_RETRY_DELAY_SECONDS", "120")))
GOLD_CUSTOMER_FEATURES = table_asset("gold", "customer_features")
GOLD_PROPENSITY_SCORES = table_asset("gold", "propensity_scores")

default_args = {
    "owner": "scv-data-science",
    "retries": RETRIES,
    "retry_delay": RETRY_DELAY,
    "execution_timeout": dt.timedelta(hours=1),
}

# Plain YAML, validated without Spark: cheap enough for parse time.
CONFIG_FILE = config_path(Settings.from_env().include_dir)
try:
    config, config_error = load_config(CONFIG_FILE), None
except PropensityConfigError as error:
    config, config_error = None, error

with DAG(
    dag_id="scv_propensity_scoring",
    description="Score every customer for every product group with the champion models",
    doc_md=__doc__,
    schedule=[GOLD_CUSTOMER_FEATURES],
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=2,  # each task runs Spark in-process: do not oversubscribe the workers
    default_args=default_args,
    tags=["scv", "propensity", "ml", "daily"],
    params={
        "as_of_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Features date to score (YYYY-MM-DD); empty: the date that triggered the run",
        ),
    },
) as dag:

    @task(
        task_id="as_of_date",
        doc_md="Which `gold/customer_features` snapshot this run scores (see the DAG docs); '' = newest.",
    )
    def as_of_date(params=None, logical_date=None, triggering_asset_events=None) -> str:
        from scv.propensity.dates import resolve_as_of_date

        upstream = []
        for event in (triggering_asset_events or {}).get(GOLD_CUSTOMER_FEATURES, []):
            try:
                source_run = event.source_dag_run
            except Exception:  # the producing run may have been deleted
                source_run = None
            upstream.append((event.extra, getattr(source_run, "logical_date", None)))
        return resolve_as_of_date((params or {}).get("as_of_date"), logical_date, upstream)

    resolved = as_of_date()

    if config is None:

        @task(task_id="product_groups_invalid", retries=0, doc_md=f"`{CONFIG_FILE}` is invalid: fix it to score.")
        def product_groups_invalid(message: str = str(config_error)) -> None:
            raise ValueError(message)

        resolved >> product_groups_invalid()
    else:
        for group in config.groups:
            ScvSparkJobOperator(
                task_id=f"score_{group.name}",
                job="score_propensity",
                job_kwargs={"as_of_date": resolved, "run_id": "{{ run_id }}", "group": group.name},
                inlets=[GOLD_CUSTOMER_FEATURES],
                outlets=[GOLD_PROPENSITY_SCORES],
                doc_md=(
                    f"Score every customer for **{group.name}** ({', '.join(group.categories)}; horizon "
                    f"{group.horizon_days} days) with `{config.model_name(group.name)}@champion` into "
                    "`gold/propensity_scores`. Fails (alone) if the group has no champion yet."
                ),
            )
