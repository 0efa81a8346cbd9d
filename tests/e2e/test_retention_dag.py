"""scv_retention end to end (dag.test(), real Spark and Delta, the project's own policy file):
a dry run deletes nothing, a real run leaves no row older than its cutoff, the inactive-customers
purge runs after the table purges (here, a lakehouse without customers, it finds none); and the
open erasure request check fails and alerts exactly once, to a real local HTTP server, only for
late requests.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from scv.config import PROJECT_ROOT

LOGICAL_DATE = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)
WEBHOOK_CONN = "scv_test_privacy_webhook"
# Cutoffs of include/privacy/retention.yml as of 2026-11-22.
WEB_EVENTS_CUTOFF = dt.datetime(2025, 10, 22)  # 13 months
QUARANTINE_CUTOFF = dt.date(2026, 8, 24)  # 90 days


@pytest.fixture
def webhook_posts(http_sink):
    """(path, headers, body) of every POST to the webhook connection's real local HTTP server."""
    return http_sink(WEBHOOK_CONN)


@pytest.fixture
def env(monkeypatch, tmp_path, webhook_posts):
    from scv.config import Settings

    for name, value in {
        "SCV_LANDING_ROOT": str(tmp_path / "landing"), "SCV_LAKEHOUSE_ROOT": str(tmp_path / "lakehouse"),
        "SCV_ARTIFACTS_DIR": str(tmp_path / "artifacts"), "SCV_SPARK_MASTER": "local[2]",
        "SCV_SHUFFLE_PARTITIONS": "2",
        # One retry, quickly: the alert must still arrive once, not once per try.
        "SCV_TASK_RETRIES": "1", "SCV_RETRY_DELAY_SECONDS": "1",
        "SCV_ALERT_WEBHOOK_CONN_ID": WEBHOOK_CONN,  # read when dags/scv_retention.py is parsed
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SCV_ALERT_EMAIL_TO", raising=False)
    monkeypatch.delenv("SCV_ALERT_SMTP_CONN_ID", raising=False)
    return Settings.from_env()


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag("scv_retention")


def _write_tables(spark, settings) -> dict[str, int]:
    """Two tables of real policies, each with rows on both sides of its cutoff; returns old counts."""
    events = [(f"e{i}", (WEB_EVENTS_CUTOFF + dt.timedelta(days=40 * (i - 5))).strftime("%Y-%m-%dT%H:%M:%S")) for i in range(10)]
    spark.createDataFrame(events, "event_id string, event_ts string").write.format("delta").save(
        settings.table_path("bronze", "web_events"))
    quarantined = [(f"line {i}", QUARANTINE_CUTOFF + dt.timedelta(days=30 * (i - 3))) for i in range(6)]
    spark.createDataFrame(quarantined, "raw_text string, _logical_date date").write.format("delta").save(
        settings.table_path("quarantine", "rows"))
    return {
        "web_events_raw": sum(dt.datetime.fromisoformat(ts) < WEB_EVENTS_CUTOFF for _, ts in events),
        "quarantined_rows": sum(d < QUARANTINE_CUTOFF for _, d in quarantined),
    }


def _counts(spark, settings) -> dict[str, tuple[int, int]]:
    """(rows, rows older than the cutoff) per table."""
    events = spark.read.format("delta").load(settings.table_path("bronze", "web_events"))
    rows = spark.read.format("delta").load(settings.table_path("quarantine", "rows"))
    return {
        "web_events_raw": (events.count(), events.where(f"to_timestamp(event_ts) < TIMESTAMP '{WEB_EVENTS_CUTOFF}'").count()),
        "quarantined_rows": (rows.count(), rows.where(f"_logical_date < DATE '{QUARANTINE_CUTOFF}'").count()),
    }


def test_dry_run_deletes_nothing_and_a_real_run_leaves_no_row_past_its_cutoff(spark, env, webhook_posts):
    settings = env
    old = _write_tables(spark, settings)
    assert all(0 < n for n in old.values())
    before = _counts(spark, settings)
    dag = _dag()
    # The customer purge deletes from tables the table purges also delete from: it runs after them.
    table_purges = {t.task_id for t in dag.tasks if t.task_id.startswith("purge_")} - {"purge_inactive_customers"}
    assert dag.get_task("purge_inactive_customers").upstream_task_ids == table_purges and table_purges

    dry = dag.test(logical_date=LOGICAL_DATE, run_conf={"dry_run": True})
    states = {ti.task_id: str(ti.state) for ti in dry.get_task_instances()}
    assert set(states.values()) == {"success"} and "check_open_erasure_requests" in states, states
    assert _counts(spark, settings) == before
    audit = spark.read.format("delta").load(settings.table_path("privacy", "retention_audit"))
    dry_rows = {r.policy: r for r in audit.collect()}
    assert {p: (r.rows_matched, r.rows_deleted, r.dry_run) for p, r in dry_rows.items() if p in old} == {
        p: (n, 0, True) for p, n in old.items()
    }
    customers = dry_rows["inactive_customers"]  # the customer-level policy: no silver records here
    assert (customers.kind, customers.table_exists, customers.customers_matched, customers.rows_matched) == (
        "inactive_customers", False, 0, 0)

    real = dag.test(logical_date=LOGICAL_DATE + dt.timedelta(hours=1), run_conf={"dry_run": False})
    states = {ti.task_id: str(ti.state) for ti in real.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    after = _counts(spark, settings)
    assert after == {p: (before[p][0] - old[p], 0) for p in old}
    audit = spark.read.format("delta").load(settings.table_path("privacy", "retention_audit"))
    real_rows = {r.policy: r for r in audit.where("NOT dry_run").collect()}
    assert {p: (real_rows[p].rows_matched, real_rows[p].rows_deleted) for p in old} == {p: (n, n) for p, n in old.items()}
    assert webhook_posts == []


def _audit_request(spark, settings, reference: str, days_ago: float) -> None:
    from scv.privacy import audit

    received = audit._now() - dt.timedelta(days=days_ago)
    audit.record(spark, settings, request_reference=reference, subject_hash="0" * 64, event="received",
                 received_at=received, dag_run_id="manual")


def _check_only(dag):
    return dag.partial_subset(task_ids=["check_open_erasure_requests"], include_upstream=False)


def test_an_erasure_request_open_too_long_fails_the_check_and_alerts_once(spark, env, webhook_posts):
    settings = env
    _audit_request(spark, settings, "DSR-FRESH-1", days_ago=2)
    run = _check_only(_dag()).test(logical_date=LOGICAL_DATE)
    assert {ti.task_id: str(ti.state) for ti in run.get_task_instances()} == {"check_open_erasure_requests": "success"}
    assert webhook_posts == []  # a fresh request is no alert

    _audit_request(spark, settings, "DSR-LATE-7", days_ago=45)
    run = _check_only(_dag()).test(logical_date=LOGICAL_DATE + dt.timedelta(hours=1))
    assert {ti.task_id: str(ti.state) for ti in run.get_task_instances()} == {"check_open_erasure_requests": "failed"}
    assert len(webhook_posts) == 1, webhook_posts
    body = json.loads(webhook_posts[0][2])
    text = json.dumps(body)
    assert "check_open_erasure_requests" in text and "DSR-LATE-7" in text and "DSR-FRESH-1" not in text
