"""
# scv_daily: raw customer data to a single customer view

Every day, for its logical date (`ds`):

1. **bronze**: one task per source contract in `include/sources/` (`SCV_SOURCES_DIR`) lands that
   day's files in `bronze/<source>`; unparseable rows go to `quarantine/rows`. A broken contract
   fails only its own task, with the file and key in the message.
2. **gate_bronze_<source>**: the source's Great Expectations suite; critical failures stop here.
3. **silver_standardise**: canonical person records from every person source, standardised
   (names, nicknames, phones E.164, emails, postcodes, dates, countries) into
   `silver/person_records`; events into `silver/events`. Then **gate_silver**.
4. **link_records**: Splink on Spark predicts matches with the latest approved model (training
   one first if none exists), clusters at the configured threshold and assigns persistent
   `customer_id`s (`silver/record_customer`). **steward_review** then writes the review queue
   (`silver/review_queue`) and the run's Splink dashboards, beside the golden build (stewards'
   outputs do not hold up gold).
5. **build_golden**: survivorship stages `customer_xref` and, for every golden definition in
   `include/survivorship/` (e.g. `customer_golden` for marketing, `customer_service`), its
   pseudonymised analytics table and its restricted personal table (`customer_pii`, ...);
   **gate_gold** validates the staged tables; **publish_gold** MERGEs them into `gold/`, so a
   failed gate leaves gold untouched.
6. **customer_features**: `gold/customer_features` as of the run date (updates its Asset, with
   `as_of_date` in the event, which starts `scv_propensity_scoring`); then **gold_sql_models**
   runs `include/sql/` (`dim_customer` with SCD2 history, `fact_purchase`, `customer_360`).

Reruns of a date are idempotent. Params: `full_relink` re-links every record from scratch;
`full_rebuild` rebuilds silver and the staged gold tables from everything instead of the day's
changes.
"""

from __future__ import annotations

import datetime as dt
import os

from pathlib import Path

from airflow.sdk import DAG, Param, TaskGroup, task
from scv_airflow import assets
from scv_airflow.notifiers import DataQualityNotifier
from scv_airflow.operators.quality import DataQualityGateOperator
from scv_airflow.operators.spark_job import ScvSparkJobOperator

from scv.config import Settings
from scv.contracts import load_contracts
from scv.golden.policy import load_definitions

RETRIES = int(os.environ.get("SCV_TASK_RETRIES", "2"))
RETRY_DELAY = dt.timedelta(seconds=int(os.environ.get("SCV_RETRY_DELAY_SECONDS", "120")))
RUN = {"logical_date": "{{ ds }}", "run_id": "{{ run_id }}"}

# Alerts go to the channels whose Airflow connection ids are configured (none in the demo).
dq_alert = DataQualityNotifier(
    to=os.environ.get("SCV_ALERT_EMAIL_TO"),
    smtp_conn_id=os.environ.get("SCV_ALERT_SMTP_CONN_ID"),
    http_conn_id=os.environ.get("SCV_ALERT_WEBHOOK_CONN_ID"),
)


def quality_gate(task_id: str, table_path: str, suite: str, row_filter: str | None = None, doc: str = "",
                 suite_params: dict | None = None):
    return DataQualityGateOperator(
        task_id=task_id,
        table_path=table_path,
        suite=suite,
        row_filter=row_filter,
        suite_params=suite_params,
        on_failure_callback=dq_alert,
        warning_callback=dq_alert,
        doc_md=doc or f"Great Expectations suite `{suite}` on `{table_path}`: critical failures stop the run.",
    )


default_args = {
    "owner": "scv-data-engineering",
    "retries": RETRIES,
    "retry_delay": RETRY_DELAY,
    "execution_timeout": dt.timedelta(hours=2),
}

with DAG(
    dag_id="scv_daily",
    description="Raw multi-source customer data to gold single-customer-view Delta tables",
    doc_md=__doc__,
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # one writer per table: runs of this DAG never overlap
    default_args=default_args,
    tags=["scv", "daily", "lakehouse"],
    params={
        "full_relink": Param(False, type="boolean", description="Re-link every record from scratch"),
        "full_rebuild": Param(False, type="boolean",
                              description="Rebuild silver and the staged gold tables from everything, not the day's changes"),
    },
) as dag:
    # Contracts are plain YAML, validated without Spark: cheap enough for parse time.
    settings = Settings.from_env()
    contracts = load_contracts(settings.sources_dir)
    suites = {p.stem for p in Path(settings.include_dir, "expectations").glob("*.json")}
    golden_definitions = load_definitions(Path(settings.include_dir, "survivorship"))

    ingests = {}
    with TaskGroup("bronze", tooltip="Land each source's files for the day, then gate them") as bronze:
        for name, contract in contracts.contracts.items():
            ingest = ingests[name] = ScvSparkJobOperator(
                task_id=f"ingest_{name}",
                job="bronze_ingest",
                job_kwargs={"source": name, **RUN},
                outlets=[assets.bronze(name)],
                doc_md=f"Ingest `{contract.path}` ({contract.format}) into `bronze/{name}`. {contract.description}",
                execution_timeout=dt.timedelta(minutes=60),
            )
            suite = f"bronze_{name}" if f"bronze_{name}" in suites else "bronze_default"
            ingest >> quality_gate(
                f"gate_bronze_{name}",
                f"bronze/{name}",
                suite,
                row_filter="_logical_date = '{{ ds }}'",
            )
        for name, error in contracts.errors.items():

            @task(task_id=f"ingest_{name}", retries=0, doc_md=f"Contract `{name}` is broken: fix it to ingest.")
            def broken_contract(message: str = str(error)) -> None:
                raise ValueError(message)

            broken_contract()

    # Profiles hang off ingestion, not the gate: a batch the gate rejects is the one worth
    # profiling. They are outside the bronze group, so silver does not wait for them.
    with TaskGroup("profile", tooltip="Column profiles of each source's bronze batch (not a gate)"):
        for name, ingest in ingests.items():
            ingest >> ScvSparkJobOperator(
                task_id=f"profile_{name}",
                job="profile_bronze",
                job_kwargs={"source": name, **RUN},
                doc_md=f"Column profiles of `bronze/{name}` for the day into `ops/column_profiles` and "
                f"`artifacts/profiles/{name}/<ds>.md` (values masked).",
            )

    silver_standardise = ScvSparkJobOperator(
        task_id="silver_standardise",
        job="silver_standardise",
        job_kwargs={**RUN, "full_rebuild": "{{ params.full_rebuild }}"},
        outlets=[assets.SILVER_PERSON_RECORDS, assets.SILVER_EVENTS],
        doc_md="Canonical person records and events from bronze, standardised into silver: the day's keys are "
        "MERGEd (param `full_rebuild`, or changed contracts/reference data/code, rebuilds everything).",
    )

    link_records = ScvSparkJobOperator(
        task_id="link_records",
        job="link_records",
        job_kwargs={**RUN, "full_relink": "{{ params.full_relink }}"},
        outlets=[assets.SILVER_RECORD_CUSTOMER, assets.SILVER_MATCH_PAIRS],
        doc_md="Splink prediction, clustering and persistent customer ids.",
    )

    steward_review = ScvSparkJobOperator(
        task_id="steward_review",
        job="steward_review",
        job_kwargs=RUN,
        doc_md="Pairs in the review band that no steward labelled into `silver/review_queue` (both records side by "
        "side with the per-comparison match weights), and Splink's comparison viewer and cluster studio for a "
        "sample of the run's clusters under `artifacts/linkage/dashboards/<ds>/`.",
    )

    build_golden = ScvSparkJobOperator(
        task_id="build_golden",
        job="build_golden",
        job_kwargs={**RUN, "full_rebuild": "{{ params.full_rebuild }}"},
        doc_md="Survivorship: stage customer_xref and every golden definition's analytics and personal "
        "tables (" + ", ".join(f"`{d.table}`/`{d.pii_table}`" for d in golden_definitions) + ") for the gold gate.",
    )

    publish_gold = ScvSparkJobOperator(
        task_id="publish_gold",
        job="publish_gold",
        job_kwargs=RUN,
        outlets=[assets.GOLD_CUSTOMER_XREF, *[assets.gold(t) for d in golden_definitions for t in (d.table, d.pii_table)]],
        doc_md="MERGE the validated staging tables into gold (unchanged rows are not rewritten).",
    )

    customer_features = ScvSparkJobOperator(
        task_id="customer_features",
        job="customer_features",
        job_kwargs=RUN,
        outlets=[assets.GOLD_CUSTOMER_FEATURES],
        # The features event carries the snapshot date, which scv_propensity_scoring scores.
        post_execute=assets.summary_to_event_extra(assets.GOLD_CUSTOMER_FEATURES, "as_of_date"),
        doc_md="Customer features (recency, frequency, spend, channel mix per product group) as of `ds` into "
        "`gold/customer_features`; its Asset event (extra `as_of_date`) starts `scv_propensity_scoring`.",
    )

    gold_sql_models = ScvSparkJobOperator(
        task_id="gold_sql_models",
        job="gold_sql_models",
        job_kwargs=RUN,
        outlets=[assets.gold("dim_customer"), assets.gold("fact_purchase"), assets.gold("customer_360")],
        doc_md="Spark SQL models of `include/sql/` over gold: `dim_customer` (SCD type 2 history by MERGE), "
        "`fact_purchase`, `customer_360`. No personal columns; reruns of a date change nothing.",
    )

    # Only the rows this run wrote (all of them after a full rebuild): the rest passed before.
    gate_silver = quality_gate("gate_silver", "silver/person_records", "silver_person_records",
                               row_filter="_silver_logical_date = '{{ ds }}'")
    with TaskGroup("gate_gold", tooltip="Validate the staged gold tables before publishing") as gate_gold:
        quality_gate("customer_xref", "staging/customer_xref", "gold_customer_xref")
        for definition in golden_definitions:
            quality_gate(definition.table, f"staging/{definition.table}", "gold_customer_golden",
                         suite_params={"golden_table": definition.table},
                         doc=f"Suite `gold_customer_golden` on the staged `{definition.table}` (pseudonymised layout, "
                         "provenance, consent).")
            quality_gate(definition.pii_table, f"staging/{definition.pii_table}", "gold_customer_pii",
                         suite_params={"pii_table": definition.pii_table, "golden_path": f"staging/{definition.table}"},
                         doc=f"Suite `gold_customer_pii` on the staged `{definition.pii_table}`: golden attributes come "
                         "from a record of that customer.")

    bronze >> silver_standardise >> gate_silver >> link_records >> build_golden >> gate_gold >> publish_gold
    publish_gold >> customer_features >> gold_sql_models
    link_records >> steward_review
