"""
# scv_erasure: right to be forgotten

Trigger from the UI with the form: the subject's **email**, **phone** and/or **customer_id**, and
the **request_reference** (the ticket id; no personal data in it).

1. **erase_subject** finds every record of the person through the identifiers and the
   `customer_xref` links, adds their keyed hashes to `privacy/suppression` (so re-ingested old
   files do not bring them back), deletes them by surrogate key from every layer (bronze,
   quarantine, silver, pairs and review queue, clusters, golden, features, scores, ops results),
   blanks their lines in the landing files, removes artefacts that mention them (Data Docs,
   profiles, Splink dashboards), then purges and VACUUMs with zero retention.
2. **verify_erasure** decodes every Parquet file, Delta log and checkpoint file under the lakehouse,
   the landing zone and the artefacts, and time-travels every table to its version before the
   erasure; it **fails loudly** if the email, phone or name is still found anywhere, and records
   the outcome in the append-only `privacy/erasure_audit` (keyed hashes and counts only).

The identifiers are never logged, templated or pushed to XCom; only their keyed hashes travel
between the tasks (HMAC key: password of connection `scv_pii_hmac`). The run's params stay in
Airflow's metadata database: clean old runs with `airflow db clean`.
Do not run it while `scv_daily` writes: the zero-retention VACUUM would remove files of a write
in progress (only tables the erasure changed are vacuumed).
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, Param
from scv_airflow.operators.erasure import EraseSubjectOperator, VerifyErasureOperator

with DAG(
    dag_id="scv_erasure",
    description="Right-to-be-forgotten erasure everywhere, verified by decoding every file",
    doc_md=__doc__,
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "scv-data-engineering",
        "retries": int(os.environ.get("SCV_TASK_RETRIES", "2")),
        "retry_delay": dt.timedelta(seconds=int(os.environ.get("SCV_RETRY_DELAY_SECONDS", "120"))),
        "execution_timeout": dt.timedelta(hours=2),
    },
    tags=["scv", "privacy", "erasure", "gdpr"],
    params={
        "request_reference": Param("", type="string", title="Request reference",
                                   description="Ticket id of the request (no personal data)", minLength=1, maxLength=64),
        "email": Param(None, type=["null", "string"], title="Email", description="The subject's email address"),
        "phone": Param(None, type=["null", "string"], title="Phone", description="The subject's phone number"),
        "customer_id": Param(None, type=["null", "string"], title="Customer id", description="The subject's scv customer id"),
    },
) as dag:
    erase = EraseSubjectOperator(
        task_id="erase_subject",
        doc_md="Find the person, suppress, delete by surrogate key everywhere, blank landing lines, "
        "remove artefacts, purge and VACUUM.",
    )
    verify = VerifyErasureOperator(
        task_id="verify_erasure",
        erase_task_id="erase_subject",
        doc_md="Decode every file and time-travel every table; fail loudly if the subject is found. Audit the outcome.",
    )
    erase >> verify
