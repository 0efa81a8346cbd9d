"""Data-quality alerts arrive, once, at a real SMTP server and a real HTTP webhook, unmasked data never.

The servers are local (aiosmtpd and http.server on 127.0.0.1, free ports); Airflow connections
come from ``AIRFLOW_CONN_<ID>`` environment variables, as in a deployment.
"""

from __future__ import annotations

import email
import json
import socket
from types import SimpleNamespace

import pytest

from scv.quality.masking import Masker
from scv_airflow.notifiers import DataQualityNotifier, build_alert
from scv_airflow.operators.quality import DataQualityGateFailed

RAW_EMAIL = "margaret.thatcher-jones@example.co.uk"
RAW_PHONE = "+447700900123"
RAW_DOB = "1850-07-14"
SMTP_CONN = "scv_test_smtp"
WEBHOOK_CONN = "scv_test_webhook"
WEBHOOK_PATH = "/services/T000/B000/secret"


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
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{SMTP_CONN.upper()}",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "scv-alerts@scv.test",
                          "timeout": 5, "retry_limit": 0},
            }
        ),
    )
    yield inbox.envelopes
    controller.stop()


@pytest.fixture
def webhook_requests(http_sink):
    """(path, headers, body) of every POST to the webhook connection's real local HTTP server."""
    return http_sink(WEBHOOK_CONN)


def _summary(success: bool) -> dict:
    """A gate summary as the operator produces it: samples masked at the source."""
    masker = Masker()
    failure = {
        "expectation": "email_format",
        "type": "expect_column_values_to_match_regex",
        "severity": "critical" if not success else "warning",
        "unexpected_count": 3,
        "unexpected_percent": 1.5,
        "observed_value": None,
        "column": "email",
    }
    dob = {
        "expectation": "dob_min",
        "type": "expect_column_min_to_be_between",
        "severity": "warning",
        "unexpected_count": None,
        "observed_value": masker.mask(RAW_DOB, "date_of_birth"),
        "column": "date_of_birth",
    }
    return {
        "suite": "silver_person_records",
        "table": "silver/person_records",
        "run_id": "scheduled__2024-01-05T00:00:00+00:00",
        "success": success,
        "status": "failed" if not success else "warning",
        "critical_failures": [] if success else [failure],
        "warning_failures": [dob] + ([failure] if success else []),
        "data_docs_url": "file:///artifacts/data_docs/scheduled__2024-01-05/silver/index.html",
    }


def _context(**extra):
    ti = SimpleNamespace(dag_id="scv_daily", task_id="gate_silver", run_id="scheduled__2024-01-05T00:00:00+00:00",
                         try_number=1)
    return {"ti": ti, "run_id": ti.run_id, **extra}


def _notifier() -> DataQualityNotifier:
    return DataQualityNotifier(
        to=["data-quality@scv.test"], smtp_conn_id=SMTP_CONN, http_conn_id=WEBHOOK_CONN, webhook_endpoint=WEBHOOK_PATH
    )


def _mail_text(envelope) -> str:
    message = email.message_from_bytes(envelope.original_content)
    parts = [message["Subject"] or ""]
    for part in message.walk():
        if part.get_content_type() == "text/html":
            parts.append(part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8"))
    return "\n".join(parts)


def _assert_no_personal_data(*texts: str) -> None:
    for text in texts:
        for raw in (RAW_EMAIL, "margaret", RAW_PHONE, "7700900123", RAW_DOB):
            assert raw not in text, f"raw personal data {raw!r} leaked into an alert"


def test_failure_alert_arrives_once_by_email_and_webhook_without_personal_data(smtp_inbox, webhook_requests):
    failure = DataQualityGateFailed(_summary(success=False))

    _notifier()(_context(exception=failure))  # how Airflow calls an on_failure_callback

    assert len(smtp_inbox) == 1 and len(webhook_requests) == 1
    envelope = smtp_inbox[0]
    assert envelope.rcpt_tos == ["data-quality@scv.test"]
    mail = _mail_text(envelope)
    for expected in ("CRITICAL", "scv_daily", "gate_silver", "scheduled__2024-01-05T00:00:00+00:00",
                     "silver/person_records", "silver_person_records", "email_format", "3 unexpected",
                     "file:///artifacts/data_docs/scheduled__2024-01-05/silver/index.html"):
        assert expected in mail

    path, headers, body = webhook_requests[0]
    assert path == WEBHOOK_PATH
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert "email_format" in payload["text"] and payload["blocks"]
    assert payload["scv"]["level"] == "CRITICAL"
    assert payload["scv"]["dag_id"] == "scv_daily" and payload["scv"]["task_id"] == "gate_silver"
    assert [f["expectation"] for f in payload["scv"]["failures"]] == ["email_format", "dob_min"]
    assert payload["scv"]["failures"][1]["observed_value"] == "1850-**-**"
    _assert_no_personal_data(mail, envelope.original_content.decode("utf-8", "replace"), body.decode())


def test_warning_alert_called_directly_arrives_once(smtp_inbox, webhook_requests):
    _notifier()(_context(dq_summary=_summary(success=True)))

    assert len(smtp_inbox) == 1 and len(webhook_requests) == 1
    mail = _mail_text(smtp_inbox[0])
    assert "WARNING" in mail and "Promotion stopped" not in mail
    assert json.loads(webhook_requests[0][2])["scv"]["level"] == "WARNING"
    _assert_no_personal_data(mail, webhook_requests[0][2].decode())


def test_other_task_failures_are_alerted_with_the_error_scrubbed(smtp_inbox, webhook_requests):
    error = ValueError(f"cannot cast '{RAW_EMAIL}' (phone {RAW_PHONE}) to a date")

    _notifier()(_context(exception=error))

    assert len(smtp_inbox) == 1 and len(webhook_requests) == 1
    mail = _mail_text(smtp_inbox[0])
    assert "FAILED" in mail and "ValueError" in mail
    _assert_no_personal_data(mail, webhook_requests[0][2].decode())


def test_a_failing_channel_does_not_stop_the_other(webhook_requests, monkeypatch):
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{SMTP_CONN.upper()}",
        json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": _free_port(),
                    "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "a@scv.test",
                              "timeout": 2, "retry_limit": 0}}),
    )
    with pytest.raises(Exception):
        _notifier()(_context(exception=DataQualityGateFailed(_summary(success=False))))
    assert len(webhook_requests) == 1


def test_alert_lists_every_failure_with_counts():
    alert = build_alert(_context(exception=DataQualityGateFailed(_summary(success=False))))
    assert alert.level == "CRITICAL"
    assert "[critical] email_format on email: 3 unexpected, 1.5%" in alert.text
    assert "[warning] dob_min on date_of_birth: observed 1850-**-**" in alert.text
    assert alert.subject.startswith("[scv] CRITICAL: Data quality critical: silver/person_records")
