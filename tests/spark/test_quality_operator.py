"""The gate operator end to end: a real Delta table, a real SMTP server and a real webhook.

The operator's ``execute`` runs with a minimal context (a task instance that records XCom
pushes); its failure is handed to the notifier exactly as Airflow 3 hands a failed task's
exception to ``on_failure_callback``.
"""

from __future__ import annotations

import email
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from airflow.sdk.exceptions import AirflowFailException
from scv_airflow.links import XCOM_DATA_DOCS_URL, DataDocsLink
from scv_airflow.notifiers import DataQualityNotifier
from scv_airflow.operators.quality import (
    XCOM_SUMMARY,
    DataQualityGateFailed,
    DataQualityGateOperator,
    data_docs_url,
)

RUN_ID = "scheduled__2024-01-05T00:00:00+00:00"
CRM_COLUMNS = (
    "contactid firstname lastname companyname emailaddress1 mobilephone telephone1 birthdate address1_line1 "
    "address1_city address1_postalcode address1_country donotemail modifiedon _run_id _logical_date"
).split()
RAW_EMAILS = ["henrietta.pemberton@example.com", "octavius.quill@example.org"]
RAW_PHONES = ["+447700900777", "+447700900888"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_inbox(monkeypatch):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.envelopes = []

        async def handle_DATA(self, server, session, envelope):
            self.envelopes.append(envelope)
            return "250 OK"

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCV_DQ_SMTP",
        json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                    "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "scv@scv.test",
                              "timeout": 5, "retry_limit": 0}}),
    )
    yield inbox.envelopes
    controller.stop()


@pytest.fixture
def webhook_requests(monkeypatch):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AIRFLOW_CONN_SCV_DQ_WEBHOOK",
                       json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": server.server_port}))
    yield received
    server.shutdown()
    server.server_close()


@pytest.fixture
def scv_env(settings, monkeypatch):
    """The operator builds its settings from the environment, as in a deployment."""
    monkeypatch.setenv("SCV_LAKEHOUSE_ROOT", settings.lakehouse_root)
    monkeypatch.setenv("SCV_LANDING_ROOT", settings.landing_root)
    monkeypatch.setenv("SCV_ARTIFACTS_DIR", settings.artifacts_dir)
    return settings


class RecordingTI:
    dag_id, task_id, run_id, try_number, map_index = "scv_daily", "gate_bronze_crm", RUN_ID, 1, -1

    def __init__(self):
        self.xcom: dict = {}

    def xcom_push(self, key, value):
        self.xcom[key] = value


def _context():
    ti = RecordingTI()
    return {"ti": ti, "task_instance": ti, "run_id": RUN_ID}


def _write_crm(spark, settings, rows):
    schema = ", ".join(f"{c} string" for c in CRM_COLUMNS)
    spark.createDataFrame(rows, schema).write.format("delta").mode("overwrite").save(
        settings.table_path("bronze", "crm"))


def _row(contactid, email, phone, donotemail="0", day="2024-01-05"):
    return (contactid, "Henrietta", "Pemberton", None, email, phone, None, "1984-02-29", "1 High St", "London",
            "SW1A 1AA", "GB", donotemail, "2024-01-05T09:30:00Z", RUN_ID, day)


def _notifier():
    return DataQualityNotifier(to="dq@scv.test", smtp_conn_id="scv_dq_smtp", http_conn_id="scv_dq_webhook")


def _gate(**kwargs):
    notifier = _notifier()
    arguments = dict(
        task_id="gate_bronze_crm",
        table_path="bronze/crm",
        suite="bronze_crm",
        row_filter="_logical_date = '{{ ds }}'",
        on_failure_callback=notifier,
        warning_callback=notifier,
    )
    return DataQualityGateOperator(**{**arguments, **kwargs})


def _received_text(envelopes, bodies) -> str:
    texts = [body.decode() for body in bodies]
    for envelope in envelopes:
        message = email.message_from_bytes(envelope.original_content)
        texts.append(envelope.original_content.decode("utf-8", "replace"))
        texts += [p.get_payload(decode=True).decode() for p in message.walk() if p.get_content_type() == "text/html"]
    return "\n".join(texts)


def test_null_primary_keys_fail_the_gate_and_alert_once_without_personal_data(
    spark, scv_env, smtp_inbox, webhook_requests
):
    _write_crm(spark, scv_env, [_row(None, RAW_EMAILS[0], RAW_PHONES[0]), _row(None, RAW_EMAILS[1], RAW_PHONES[1]),
                                _row("c3", "ok@example.com", "+447700900003")])
    gate = _gate(row_filter="_logical_date = '2024-01-05'")
    context = _context()

    with pytest.raises(DataQualityGateFailed) as failure:
        gate.execute(context)

    assert isinstance(failure.value, AirflowFailException)  # no retries: the data will not change
    summary = context["ti"].xcom[XCOM_SUMMARY]
    assert summary["status"] == "failed" and summary == failure.value.summary
    assert [f["expectation"] for f in summary["critical_failures"]] == ["pk_not_null"]
    assert summary["critical_failures"][0]["unexpected_count"] == 2
    assert context["ti"].xcom[XCOM_DATA_DOCS_URL].startswith("file://")
    assert smtp_inbox == [] and webhook_requests == []  # nothing sent before Airflow calls back

    # Airflow 3 runs the task's on_failure_callback with the exception in the context.
    for callback in gate.on_failure_callback:
        callback({**context, "exception": failure.value})

    assert len(smtp_inbox) == 1 and len(webhook_requests) == 1
    received = _received_text(smtp_inbox, webhook_requests)
    for expected in ("CRITICAL", "scv_daily", RUN_ID, "gate_bronze_crm", "bronze/crm", "pk_not_null",
                     "2 unexpected", summary["data_docs_url"]):
        assert expected in received
    for raw in RAW_EMAILS + RAW_PHONES + ["henrietta", "Henrietta", "Pemberton"]:
        assert raw not in received
        assert raw not in str(failure.value)


def test_warning_only_failure_succeeds_and_alerts_once(spark, scv_env, smtp_inbox, webhook_requests):
    _write_crm(spark, scv_env, [_row("c1", RAW_EMAILS[0], RAW_PHONES[0], donotemail="perhaps"),
                                _row("c2", RAW_EMAILS[1], RAW_PHONES[1])])
    gate = _gate()
    gate.render_template_fields({"ds": "2024-01-05"})
    assert gate.row_filter == "_logical_date = '2024-01-05'"
    context = _context()

    summary = gate.execute(context)

    assert summary["status"] == "warning" and summary["success"] is True
    assert [f["expectation"] for f in summary["warning_failures"]] == ["donotemail_flag"]
    assert context["ti"].xcom[XCOM_SUMMARY] == summary
    assert len(smtp_inbox) == 1 and len(webhook_requests) == 1
    received = _received_text(smtp_inbox, webhook_requests)
    assert "WARNING" in received and "donotemail_flag" in received
    for raw in RAW_EMAILS + RAW_PHONES:
        assert raw not in received


def test_good_batch_passes_quietly(spark, scv_env, smtp_inbox, webhook_requests):
    _write_crm(spark, scv_env, [_row("c1", RAW_EMAILS[0], RAW_PHONES[0]), _row("c2", RAW_EMAILS[1], RAW_PHONES[1])])
    gate = _gate(row_filter="_logical_date = '2024-01-05'", data_docs_base_url="http://docs.scv.test/dq")
    context = _context()

    summary = gate.execute(context)

    assert summary["status"] == "passed"
    assert smtp_inbox == [] and webhook_requests == []
    url = context["ti"].xcom[XCOM_DATA_DOCS_URL]
    assert url.startswith("http://docs.scv.test/dq/scheduled__2024-01-05T00_00_00_00_00/") and url.endswith(
        "/index.html")


def test_operator_does_no_work_when_built():
    gate = DataQualityGateOperator(task_id="gate", table_path="bronze/does_not_exist", suite="no_such_suite")
    assert set(gate.template_fields) >= {"table_path", "suite", "row_filter", "suite_params", "table"}
    assert [link.name for link in gate.operator_extra_links] == ["Data Docs"]


def test_data_docs_link_reads_the_url_the_task_pushed(monkeypatch):
    from airflow.sdk.execution_time import xcom

    calls = []

    def fake_get_value(*, ti_key, key):
        calls.append((ti_key, key))
        return "file:///artifacts/data_docs/run/bronze_crm/index.html"

    monkeypatch.setattr(xcom.XCom, "get_value", staticmethod(fake_get_value))
    gate = DataQualityGateOperator(task_id="gate", table_path="bronze/crm", suite="bronze_crm")
    link = DataDocsLink().get_link(gate, ti_key="ti-key")
    assert link == "file:///artifacts/data_docs/run/bronze_crm/index.html"
    assert calls == [("ti-key", XCOM_DATA_DOCS_URL)]


def test_data_docs_link_survives_dag_serialization_without_a_plugin(monkeypatch):
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    # The API server deserializes with links. Airflow keeps that switch in a class attribute that
    # a scheduler-side read (SerializedDagModel with load_op_links=False, as in an earlier
    # dag.test() of this process) leaves False, so set it as the server has it.
    monkeypatch.setattr(DagSerialization, "_load_operator_extra_links", True)

    with DAG("dq_link_check", schedule=None) as dag:
        DataQualityGateOperator(task_id="gate", table_path="bronze/crm", suite="bronze_crm")
    restored = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task("gate")
    links = {link.name: link.xcom_key for link in restored.operator_extra_links}
    assert links == {"Data Docs": "_link_DataDocsLink"}


def test_data_docs_url():
    assert data_docs_url(None, "/a", None) is None
    assert data_docs_url("/a/data_docs/r 1/t/s/index.html", "/a", "https://h/docs/") == \
        "https://h/docs/r%201/t/s/index.html"
    assert data_docs_url("/a/data_docs/r/index.html", "/a", None) == "file:///a/data_docs/r/index.html"
