"""
# scv_retention: keep personal data no longer than declared

Every day, one task per policy in `include/privacy/retention.yml` deletes the rows of its table
older than the policy's keep period (measured on the policy's column, back from the logical
date), rewrites files that still hold deleted rows (`REORG TABLE ... APPLY (PURGE)` where
deletion vectors are on) and VACUUMs with the policy's retention. Each purge is recorded in
`privacy/retention_audit`. Reruns are idempotent.

**purge_inactive_customers** (kind `inactive_customers`): customers whose latest record update
and event are older than the keep period lose all their rows in every layer (bronze by lineage,
silver/staging/gold by record and customer ids, incl. the `_pii` tables and the
cross-reference), so the next `scv_daily` cannot rebuild them. They are not suppressed (they
may come back) and landing files are left to the landing zone's own lifecycle rule. It runs
after the per-table purges.

**check_open_erasure_requests** fails (and alerts) when a right-to-be-forgotten request
(`scv_erasure`) has stayed open longer than `open_request_alert_days` in
`include/privacy/erasure.yml` (GDPR: one month).

Params: `dry_run` reports what would be deleted and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, Param
from scv_airflow.notifiers import DataQualityNotifier
from scv_airflow.operators.erasure import OpenErasureRequestsCheckOperator
from scv_airflow.operators.retention import RetentionPurgeOperator

from scv.config import Settings
from scv.privacy.retention import load_policies, policies_path

alert = DataQualityNotifier(
    to=os.environ.get("SCV_ALERT_EMAIL_TO"),
    smtp_conn_id=os.environ.get("SCV_ALERT_SMTP_CONN_ID"),
    http_conn_id=os.environ.get("SCV_ALERT_WEBHOOK_CONN_ID"),
)

with DAG(
    dag_id="scv_retention",
    description="Delete rows past their retention period, purge files and VACUUM; audit each purge",
    doc_md=__doc__,
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "scv-data-engineering",
        "retries": int(os.environ.get("SCV_TASK_RETRIES", "2")),
        "retry_delay": dt.timedelta(seconds=int(os.environ.get("SCV_RETRY_DELAY_SECONDS", "120"))),
        "execution_timeout": dt.timedelta(hours=1),
    },
    tags=["scv", "privacy", "retention"],
    params={"dry_run": Param(False, type="boolean", description="Report what would be deleted; change nothing")},
) as dag:
    # The policy file is small YAML, validated without Spark: cheap enough for parse time.
    table_purges, customer_purges = [], []
    for policy in load_policies(policies_path(Settings.from_env())):
        task = RetentionPurgeOperator(
            task_id=f"purge_{policy.name}",
            policy=policy.name,
            dry_run="{{ params.dry_run }}",
            doc_md=(
                f"Delete every row, in every lakehouse table, of the customers whose latest activity "
                f"({', '.join(f'`{a}`' for a in policy.activity)}) is older than {policy.keep}"
                if policy.kind == "inactive_customers"
                else f"Delete rows of `{policy.table}` whose `{policy.column}` is older than {policy.keep}"
                + (f" (where `{policy.where}`)" if policy.where else "")
            )
            + f"; purge and VACUUM (retain {policy.vacuum_retain_hours} h).",
        )
        (customer_purges if policy.kind == "inactive_customers" else table_purges).append(task)
    # A customer purge DELETEs from many tables (some also purged per table): run it after the
    # table purges, not concurrently with them (concurrent DELETEs on one Delta table conflict).
    for task in customer_purges:
        table_purges >> task

    OpenErasureRequestsCheckOperator(
        task_id="check_open_erasure_requests",
        on_failure_callback=alert,
        doc_md="Fail and alert when an erasure request is open longer than the configured number of days.",
    )
