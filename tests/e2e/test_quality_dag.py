"""The quality gates inside whole runs of scv_daily (dag.test() on real Spark, Delta, Airflow).

Alerts go to a real SMTP server (aiosmtpd) and a real HTTP server on 127.0.0.1; the DAG's
notifier reads its channels (SCV_ALERT_*) when the DAG file is parsed, and the Airflow
connections come from AIRFLOW_CONN_* variables, so both are set before the DagBag is built.
One small generated landing zone is shared by the module; each test copies it, breaks what it
needs to break, and gets its own lakehouse and artifacts.
"""

from __future__ import annotations

import csv
import datetime as dt
import email
import json
import re
import shutil
import socket
from pathlib import Path

import pytest

from scv.config import PROJECT_ROOT

RUN_DATE = dt.date(2026, 11, 22)
LOGICAL_DATE = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)
PEOPLE = 300
SMTP_CONN, WEBHOOK_CONN = "scv_e2e_smtp", "scv_e2e_webhook"
ALERT_TO = "data-quality@scv.test"
EMAIL_RE = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
DOWNSTREAM = ("silver_standardise", "gate_silver", "link_records", "build_golden", "gate_gold.customer_xref",
              "gate_gold.customer_golden", "publish_gold")


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    from scv.generate import generate_landing

    root = tmp_path_factory.mktemp("dq-landing")
    generate_landing(root, people=PEOPLE, seed=23, run_date=RUN_DATE)
    return root


def crm_file(landing_root: Path) -> Path:
    return landing_root / "crm" / f"crm_contacts_{RUN_DATE:%Y%m%d}.csv"


def rewrite_crm(landing_root: Path, rows_to_change: set[int], **values: str) -> list[dict]:
    """Rewrite the CRM delivery with ``values`` set on the data rows ``rows_to_change`` (0-based);
    returns those rows as they were before."""
    path = crm_file(landing_root)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    changed = []
    for index, row in enumerate(rows):
        if index in rows_to_change:
            changed.append(dict(row))
            row.update(values)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return changed


def landing_emails(landing_root: Path) -> set[bytes]:
    """Every email address anywhere in the delivery (lower-cased bytes)."""
    found = set()
    for path in landing_root.rglob("*"):
        if path.is_file() and "_truth" not in path.parts:
            found |= {m.lower() for m in EMAIL_RE.findall(path.read_bytes())}
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_inbox(monkeypatch):
    """A real SMTP server on 127.0.0.1; yields the list of received envelopes."""
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.envelopes = []

        async def handle_DATA(self, server, session, envelope):
            self.envelopes.append(envelope)
            return "250 OK"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{SMTP_CONN.upper()}",
        json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": controller.port,
                    "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "scv-alerts@scv.test",
                              "timeout": 5, "retry_limit": 0}}),
    )
    yield inbox.envelopes
    controller.stop()


@pytest.fixture
def webhook_posts(http_sink):
    """(path, headers, body) of every POST to the webhook connection's real local HTTP server."""
    return http_sink(WEBHOOK_CONN)


@pytest.fixture
def dq_env(monkeypatch, tmp_path, landing, smtp_inbox, webhook_posts):
    """This test's own copy of the landing zone, lakehouse and artifacts, and alert channels."""
    own_landing = tmp_path / "landing"
    shutil.copytree(landing, own_landing)
    monkeypatch.setenv("SCV_LANDING_ROOT", str(own_landing))
    monkeypatch.setenv("SCV_LAKEHOUSE_ROOT", str(tmp_path / "lakehouse"))
    monkeypatch.setenv("SCV_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SCV_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("SCV_SHUFFLE_PARTITIONS", "2")
    # Retries stay on (and quick): a failed gate must still alert once, not once per try.
    monkeypatch.setenv("SCV_TASK_RETRIES", "2")
    monkeypatch.setenv("SCV_RETRY_DELAY_SECONDS", "1")
    # Read by dags/scv_daily.py when it is parsed: set before the DagBag is built.
    monkeypatch.setenv("SCV_ALERT_EMAIL_TO", ALERT_TO)
    monkeypatch.setenv("SCV_ALERT_SMTP_CONN_ID", SMTP_CONN)
    monkeypatch.setenv("SCV_ALERT_WEBHOOK_CONN_ID", WEBHOOK_CONN)
    return tmp_path


def run_scv_daily():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    dag = bag.get_dag("scv_daily")
    dag_run = dag.test(logical_date=LOGICAL_DATE)
    return dag_run, {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def mail_text(envelope) -> str:
    message = email.message_from_bytes(envelope.original_content)
    parts = [message["Subject"] or ""]
    for part in message.walk():
        if not part.is_multipart():
            parts.append(part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8"))
    return "\n".join(parts)


def assert_no_raw_emails(raw_emails: set[bytes], *texts: bytes | str) -> None:
    assert raw_emails, "the batch should contain email addresses to look for"
    for text in texts:
        data = (text.encode("utf-8") if isinstance(text, str) else text).lower()
        leaked = [raw for raw in raw_emails if raw in data]
        assert not leaked, f"raw email addresses leaked: {leaked[:3]}"


def delta_state(spark, path: Path) -> tuple[int, list]:
    from delta.tables import DeltaTable

    version = DeltaTable.forPath(spark, str(path)).history(1).first()["version"]
    rows = sorted(tuple(r) for r in spark.read.format("delta").load(str(path)).collect())
    return version, rows


def test_null_primary_keys_stop_the_run_at_the_bronze_gate_and_alert_once(
    spark, dq_env, smtp_inbox, webhook_posts
):
    landing_root = dq_env / "landing"
    blanked = rewrite_crm(landing_root, {3, 10, 25}, contactid="")
    assert len(blanked) == 3
    failing_emails = {r["emailaddress1"].lower().encode() for r in blanked if r["emailaddress1"]}
    batch_emails = landing_emails(landing_root)
    # Silver as an earlier day left it: promotion must not touch it.
    silver = dq_env / "lakehouse" / "silver" / "person_records"
    spark.createDataFrame([("crm:earlier-1", "crm", "earlier-1"), ("crm:earlier-2", "crm", "earlier-2")],
                          "record_id string, source_system string, source_record_id string").write.format(
        "delta").save(str(silver))
    silver_before = delta_state(spark, silver)

    dag_run, states = run_scv_daily()

    assert str(dag_run.state) == "failed", states
    assert states["bronze.ingest_crm"] == "success"
    assert states["bronze.gate_bronze_crm"] == "failed", states
    for source in ("webshop", "loyalty", "pos", "web_events"):
        assert states[f"bronze.gate_bronze_{source}"] == "success", states
    for task_id in DOWNSTREAM:
        assert states[task_id] in ("upstream_failed", "None"), (task_id, states)
    assert delta_state(spark, silver) == silver_before
    assert not (dq_env / "lakehouse" / "gold").exists()

    # Exactly one email and one webhook POST, naming DAG, task, table and the failed expectation.
    assert len(smtp_inbox) == 1, [mail_text(e)[:200] for e in smtp_inbox]
    assert len(webhook_posts) == 1, webhook_posts
    envelope = smtp_inbox[0]
    assert envelope.rcpt_tos == [ALERT_TO]
    text = mail_text(envelope)
    assert "CRITICAL" in text and "scv_daily" in text and "bronze.gate_bronze_crm" in text
    assert "bronze/crm" in text and "pk_not_null" in text and "3 unexpected" in text
    _, _, body = webhook_posts[0]
    payload = json.loads(body)
    assert payload["scv"]["level"] == "CRITICAL"
    assert (payload["scv"]["dag_id"], payload["scv"]["task_id"], payload["scv"]["table"]) == (
        "scv_daily", "bronze.gate_bronze_crm", "bronze/crm")
    assert [(f["expectation"], f["unexpected_count"]) for f in payload["scv"]["failures"]] == [("pk_not_null", 3)]
    assert_no_raw_emails(batch_emails, envelope.original_content, body)

    # Data Docs exist for every gate of the run (one run folder), and those of the failing
    # validation carry no raw email of the failing rows (nor of the rest of the batch).
    run_docs = list((dq_env / "artifacts" / "data_docs").glob("*/bronze_*/bronze_*/index.html"))
    assert sorted(p.parent.name for p in run_docs) == [f"bronze_{s}" for s in sorted(
        ("crm", "webshop", "loyalty", "pos", "web_events"))], run_docs
    assert len({p.parents[2] for p in run_docs}) == 1
    docs = [p for p in run_docs if p.parent.name == "bronze_crm"]
    assert payload["scv"]["data_docs_url"].endswith("bronze_crm/bronze_crm/index.html")
    pages = [p for p in docs[0].parent.rglob("*.html")]
    validation_pages = [p for p in pages if "validations" in p.parts]
    assert validation_pages, pages
    assert any(b"pk_not_null" in p.read_bytes() or b"contactid" in p.read_bytes() for p in validation_pages)
    assert_no_raw_emails(failing_emails | batch_emails, *[p.read_bytes() for p in pages])


def test_warning_only_failure_lets_the_run_finish_and_alerts_once(spark, dq_env, smtp_inbox, webhook_posts):
    landing_root = dq_env / "landing"
    flagged = rewrite_crm(landing_root, {7}, donotemail="maybe")
    assert len(flagged) == 1
    batch_emails = landing_emails(landing_root)

    dag_run, states = run_scv_daily()

    assert str(dag_run.state) == "success", states
    assert set(states.values()) == {"success"}, states
    assert (dq_env / "lakehouse" / "gold" / "customer_golden").exists()
    assert len(smtp_inbox) == 1, [mail_text(e)[:200] for e in smtp_inbox]
    assert len(webhook_posts) == 1, webhook_posts
    text = mail_text(smtp_inbox[0])
    assert "WARNING" in text and "bronze.gate_bronze_crm" in text and "donotemail_flag" in text
    assert "Promotion stopped" not in text
    payload = json.loads(webhook_posts[0][2])
    assert payload["scv"]["level"] == "WARNING" and payload["scv"]["task_id"] == "bronze.gate_bronze_crm"
    assert [f["expectation"] for f in payload["scv"]["failures"]] == ["donotemail_flag"]
    assert_no_raw_emails(batch_emails, smtp_inbox[0].original_content, webhook_posts[0][2])
