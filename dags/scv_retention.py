"""
# scv_retention: keep personal data no longer than declared

Every day, one task per policy in `include/privacy/retention.yml` deletes the rows of its table
older than the policy's keep period (measured on the policy's column, back from the logical
date), rewrites files that still hold deleted rows (`REORG TABLE ... APPLY (PURGE)` where
deletion vectors are on) and VACUUMs with the policy's retention. Each purge is recorded in
`privacy/retention_audit`. Reruns are idempotent.

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
    for policy in load_policies(policies_path(Settings.from_env())):
        RetentionPurgeOperator(
            task_id=f"purge_{policy.name}",
            policy=policy.name,
            dry_run="{{ params.dry_run }}",
            doc_md=f"Delete rows of `{policy.table}` whose `{policy.column}` is older than {policy.keep}"
            + (f" (where `{policy.where}`)" if policy.where else "")
            + f"; purge and VACUUM (retain {policy.vacuum_retain_hours} h).",
        )

    OpenErasureRequestsCheckOperator(
        task_id="check_open_erasure_requests",
        on_failure_callback=alert,
        doc_md="Fail and alert when an erasure request is open longer than the configured number of days.",
    )
