"""
# scv_propensity_retrain: weekly propensity models, one per product group

Every Monday, for its logical date `ds`, one task per product group declared in
`include/propensity/product_groups.yml` (`SCV_INCLUDE_DIR`):

1. builds a point-in-time training set from `silver/events` and `gold/customer_xref`: customer
   features recomputed as of each cutoff (no event from after it), label = a purchase from the
   group within its horizon after the cutoff;
2. trains a Spark MLlib pipeline on the earlier cutoffs and evaluates it on the latest complete
   horizon (`ds - horizon`): ROC AUC, average precision, Brier score, reliability bins;
3. logs parameters, metrics and the model to MLflow (experiment `scv_propensity`; local SQLite
   store under `SCV_ARTIFACTS_DIR/mlflow` unless `MLFLOW_TRACKING_URI` is set) and registers a
   version of `scv_propensity_<group>`;
4. evaluates the current `@champion` on the same hold-out and moves `champion` to the new
   version only if its AUC is higher by more than `promotion_margin`; otherwise the new version
   becomes `@challenger`. The task's return value (XCom) and the MLflow run say why.

Groups are independent: one failing group leaves the others' models alone. Rerunning a week
registers another version but cannot change the champion (a model does not beat itself).
Params: `promotion_margin` (default from the YAML).
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
RUN = {"logical_date": "{{ ds }}", "run_id": "{{ run_id }}"}
SILVER_EVENTS = table_asset("silver", "events")
GOLD_CUSTOMER_XREF = table_asset("gold", "customer_xref")

default_args = {
    "owner": "scv-data-science",
    "retries": RETRIES,
    "retry_delay": RETRY_DELAY,
    "execution_timeout": dt.timedelta(hours=2),
}

# Plain YAML, validated without Spark: cheap enough for parse time.
CONFIG_FILE = config_path(Settings.from_env().include_dir)
try:
    config, config_error = load_config(CONFIG_FILE), None
except PropensityConfigError as error:
    config, config_error = None, error

with DAG(
    dag_id="scv_propensity_retrain",
    description="Weekly retraining, evaluation and gated promotion of the propensity models",
    doc_md=__doc__,
    schedule="0 4 * * 1",  # Mondays 04:00, after scv_daily has landed Sunday's events
    start_date=dt.datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,  # one writer per registered model
    max_active_tasks=2,  # each task runs Spark in-process: do not oversubscribe the workers
    default_args=default_args,
    tags=["scv", "propensity", "ml", "weekly"],
    params={
        "promotion_margin": Param(
            config.training.promotion_margin if config else 0.005,
            type="number",
            minimum=0,
            description="A new version becomes champion only if its hold-out AUC exceeds the champion's by more than this",
        ),
    },
) as dag:
    if config is None:

        @task(task_id="product_groups_invalid", retries=0, doc_md=f"`{CONFIG_FILE}` is invalid: fix it to train.")
        def product_groups_invalid(message: str = str(config_error)) -> None:
            raise ValueError(message)

        product_groups_invalid()
    else:
        for group in config.groups:
            ScvSparkJobOperator(
                task_id=f"train_{group.name}",
                job="train_propensity",
                job_kwargs={**RUN, "group": group.name, "margin": "{{ params.promotion_margin }}"},
                inlets=[SILVER_EVENTS, GOLD_CUSTOMER_XREF],
                doc_md=(
                    f"Train, evaluate and register `{config.model_name(group.name)}` for **{group.name}** "
                    f"({', '.join(group.categories)}; horizon {group.horizon_days} days). {group.description}. "
                    "Promoted to `@champion` only if it beats the current champion's hold-out AUC by more "
                    "than `promotion_margin`; otherwise `@challenger`."
                ),
            )
