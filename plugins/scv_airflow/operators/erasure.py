"""Operators of right-to-be-forgotten requests: erase, verify, and watch for late requests.

The subject's identifiers come from the DAG run's params and are read inside ``execute`` only:
they are never template fields (rendered fields are stored and shown by Airflow), never pushed
to XCom and never logged. Between tasks the subject travels as keyed hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException


def _hook(name: str):
    from scv_airflow.hooks.compute import LocalSparkHook

    return LocalSparkHook(app_name=f"scv-{name}")


class EraseSubjectOperator(BaseOperator):
    """Find and erase one person everywhere (``scv.privacy.erasure.erase_subject``).

    :param hmac_conn_id: Airflow connection whose password is the HMAC key.

    Reads ``email``, ``phone``, ``customer_id`` and ``request_reference`` from the run's params,
    appends a ``received`` row to ``privacy/erasure_audit``, erases, and returns counts, table
    versions before the erasure and the subject's keyed-hash fingerprint (for verification).
    Idempotent: a retry finds nothing left and deletes nothing more.
    """

    template_fields: Sequence[str] = ()
    ui_color = "#f4e8e8"

    def __init__(self, *, hmac_conn_id: str = "scv_pii_hmac", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hmac_conn_id = hmac_conn_id

    def execute(self, context: Any) -> dict:
        from scv.privacy import audit
        from scv.privacy.erasure import ErasureRequest, ErasureRequestInvalid, erase_subject
        from scv.privacy.keyed_hash import resolve_hmac_key

        try:
            request = ErasureRequest.from_params(dict(context["params"]))
        except ErasureRequestInvalid as error:
            raise AirflowFailException(str(error)) from None
        key = resolve_hmac_key(self.hmac_conn_id)
        hook = _hook("erasure")
        settings = hook.get_settings()
        spark = hook.get_session(settings)
        run_id = str(context.get("run_id"))
        received = audit.received_at(spark, settings, request.reference)
        if received is None:
            received = audit._now()
            audit.record(spark, settings, request_reference=request.reference, subject_hash=request.subject_hash(key),
                         event="received", received_at=received, dag_run_id=run_id)
        try:
            report = erase_subject(spark, settings, request, key, run_id)
        except ErasureRequestInvalid as error:  # e.g. a phone shared by several people: no retry helps
            raise AirflowFailException(f"request {request.reference}: {error}") from None
        self.log.info(
            "request %s: erased %d record(s) of %d customer(s) from %d table(s); %d landing line(s), %d artefact(s)",
            request.reference, report.records_found, report.customers_found, len(report.tables_touched),
            report.landing_lines_removed, report.artefacts_removed,
        )
        return {**report.as_dict(), "received_at": received.isoformat()}


class VerifyErasureOperator(BaseOperator):
    """Decode every file and time-travel every table; fail loudly if the subject is still there.

    :param erase_task_id: the task whose XCom holds the erasure report. Appends the ``completed``
        (or ``failed``) audit row either way.
    """

    template_fields: Sequence[str] = ()
    ui_color = "#f4e8e8"

    def __init__(self, *, erase_task_id: str, hmac_conn_id: str = "scv_pii_hmac", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.erase_task_id = erase_task_id
        self.hmac_conn_id = hmac_conn_id

    def execute(self, context: Any) -> dict:
        import datetime as dt

        from scv.privacy import audit
        from scv.privacy.erasure import verify_erasure
        from scv.privacy.keyed_hash import resolve_hmac_key
        from scv.privacy.subject import SubjectFingerprint

        report = context["ti"].xcom_pull(task_ids=self.erase_task_id)
        key = resolve_hmac_key(self.hmac_conn_id)
        hook = _hook("erasure-verify")
        settings = hook.get_settings()
        spark = hook.get_session(settings)
        result = verify_erasure(
            spark, settings, SubjectFingerprint.from_dict(report["fingerprint"]), key, report["versions_before"]
        )
        audit.record(
            spark, settings,
            request_reference=report["request_reference"], subject_hash=report["subject_hash"],
            event="completed" if result.passed else "failed",
            received_at=dt.datetime.fromisoformat(report["received_at"]), completed_at=audit._now(),
            tables_touched=report["tables_touched"], rows_deleted={k: int(v) for k, v in report["rows_deleted"].items()},
            landing_lines_removed=report["landing_lines_removed"], artefacts_removed=report["artefacts_removed"],
            files_scanned=result.files_scanned, findings=len(result.findings),
            verification="passed" if result.passed else "failed", dag_run_id=str(context.get("run_id")),
        )
        self.log.info("request %s: scanned %d file(s); time travel %s", report["request_reference"],
                      result.files_scanned, result.time_travel_checked)
        if not result.passed:
            where = "; ".join(f"{f['path']} ({','.join(f['kinds'])} at {f['location']})" for f in result.findings[:20])
            stale = {t: s for t, s in result.time_travel_checked.items() if s not in ("unreadable", "clean", "absent")}
            raise AirflowFailException(
                f"erasure {report['request_reference']} NOT complete: {len(result.findings)} file location(s) still "
                f"hold the subject: {where or 'none'}; old versions still readable: {stale or 'none'}"
            )
        return result.as_dict()


class OpenErasureRequestsCheckOperator(BaseOperator):
    """Fail (so the task's failure callback alerts) when erasure requests stay open too long.

    :param max_days: days a request may stay open; default ``open_request_alert_days`` of
        ``include/privacy/erasure.yml``. (templated)
    """

    template_fields: Sequence[str] = ("max_days",)

    def __init__(self, *, max_days: int | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_days = max_days

    def execute(self, context: Any) -> list[dict]:
        from scv.privacy import audit
        from scv.privacy.erasure import load_config

        hook = _hook("erasure-open-requests")
        settings = hook.get_settings()
        days = int(self.max_days) if self.max_days not in (None, "", "None") else load_config(settings).open_request_alert_days
        late = audit.open_requests(hook.get_session(settings), settings, days)
        if late:
            listing = ", ".join(f"{r['request_reference']} (open {r['days_open']} days)" for r in late)
            raise AirflowFailException(f"{len(late)} erasure request(s) open longer than {days} days: {listing}")
        self.log.info("no erasure request open longer than %d days", days)
        return late
