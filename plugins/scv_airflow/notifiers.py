"""Data-quality alerts through Airflow's notifier mechanism: email and a Slack-style webhook.

One :class:`DataQualityNotifier` serves both uses:

- ``on_failure_callback=notifier`` on a gate (or in ``default_args``): Airflow calls it once when
  the task fails for good (a failed gate raises ``AirflowFailException``, so there is no retry
  and exactly one call). The gate's masked summary travels on the exception.
- ``warning_callback=notifier`` on a gate: the operator calls it once when only warnings failed,
  with the summary in the context under ``dq_summary``.

Both channels are configured by Airflow connections (ids are parameters): email through the
SMTP provider's hook (``smtp`` connection: host, port, login; extras ``from_email``,
``disable_tls``, ``disable_ssl``, ``timeout``, ``retry_limit``), the webhook through the HTTP
provider's hook (``http`` connection whose host, or host plus ``webhook_endpoint``, is the
webhook URL; the secret path of a Slack webhook can live in the connection's host so it never
appears in DAG code). Either channel may be left out.

Guarantees
- The alert names the DAG, run, task, table and suite, lists the failed expectations with their
  severity and unexpected counts, and links the Data Docs. It carries no raw personal data: it
  is built from the gate's masked summary, and any other text (e.g. the message of an
  unexpected exception) is scrubbed of emails, phones and dates first.
- One call sends at most one message per channel. Every configured channel is attempted even
  if another fails; the first error is re-raised afterwards so that Airflow logs it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow.sdk import BaseNotifier

from scv.quality.masking import scrub_text

SUMMARY_KEY = "dq_summary"


@dataclass(frozen=True)
class Alert:
    """One alert, rendered for each channel."""

    level: str  # CRITICAL | WARNING | FAILED
    subject: str
    text: str
    html: str
    payload: dict[str, Any]


def _context_value(context: Mapping[str, Any], key: str) -> Any:
    try:
        return context.get(key)
    except Exception:  # Airflow's lazy context entries can raise outside a running task
        return None


def _ids(context: Mapping[str, Any]) -> tuple[str | None, str | None, str | None, Any]:
    ti = _context_value(context, "ti") or _context_value(context, "task_instance")
    dag = _context_value(context, "dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None)
    task_id = getattr(ti, "task_id", None)
    run_id = _context_value(context, "run_id") or getattr(ti, "run_id", None)
    return dag_id, run_id, task_id, getattr(ti, "try_number", None)


def summary_from_context(context: Mapping[str, Any]) -> dict[str, Any] | None:
    """The gate summary of this call: passed by the operator for warnings, or carried by the
    exception of a failed gate."""
    summary = _context_value(context, SUMMARY_KEY)
    if summary is None:
        summary = getattr(_context_value(context, "exception"), "summary", None)
    if not isinstance(summary, Mapping):
        return None
    summary = dict(summary)
    # Values are masked at the source (scv.quality); error texts are scrubbed once more because
    # they quote whatever a failing engine said. Ids, paths and counts are left readable.
    for key in ("critical_failures", "warning_failures"):
        summary[key] = [
            {**failure, "error": scrub_text(failure.get("error"))} if failure.get("error") else dict(failure)
            for failure in summary.get(key) or []
        ]
    return summary


def _failure_lines(failures: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for failure in failures:
        detail = []
        if failure.get("unexpected_count") is not None:
            detail.append(f"{failure['unexpected_count']} unexpected")
        if failure.get("unexpected_percent") is not None:
            detail.append(f"{failure['unexpected_percent']}%")
        if failure.get("observed_value") is not None and failure.get("unexpected_count") is None:
            detail.append(f"observed {str(failure['observed_value'])[:80]}")
        if failure.get("error"):
            detail.append(f"error: {str(failure['error'])[:160]}")
        column = f" on {failure['column']}" if failure.get("column") else ""
        lines.append(f"[{failure.get('severity')}] {failure.get('expectation')}{column}: {', '.join(detail) or 'failed'}")
    return lines


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn reserves &, < and > (links and mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_alert(context: Mapping[str, Any], subject_prefix: str = "[scv]") -> Alert:
    """The alert for ``context`` (see the module docstring for what it contains)."""
    dag_id, run_id, task_id, try_number = _ids(context)
    summary = summary_from_context(context)
    where = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "try_number": try_number}

    if summary is not None:
        level = "WARNING" if summary.get("success") else "CRITICAL"
        critical = summary.get("critical_failures") or []
        warnings = summary.get("warning_failures") or []
        docs = summary.get("data_docs_url") or summary.get("data_docs_path")
        headline = (
            f"Data quality {level.lower()}: {summary.get('table')} ({summary.get('suite')}): "
            f"{len(critical)} critical, {len(warnings)} warning expectation(s) failed"
        )
        lines = [headline, f"DAG {dag_id} | run {run_id} | task {task_id}"]
        if summary.get("row_filter"):
            lines.append(f"Rows validated: {summary['row_filter']}")
        lines += _failure_lines(critical) + _failure_lines(warnings)
        if level == "CRITICAL":
            lines.append("Promotion stopped: downstream tasks of this gate do not run.")
        lines.append(f"Data Docs: {docs}")
        payload_extra = {
            "table": summary.get("table"),
            "suite": summary.get("suite"),
            "failures": critical + warnings,
            "data_docs_url": docs,
        }
    else:
        level = "FAILED"
        error = _context_value(context, "exception")
        if error is not None:
            reason = scrub_text(f"{type(error).__name__}: {error}"[:500])
        else:  # a DAG-level callback carries a reason, not an exception
            reason = scrub_text(str(_context_value(context, "reason") or "unknown error"))
        headline = f"Task failed: {dag_id}.{task_id}" if task_id else f"DAG run failed: {dag_id}"
        lines = [headline, f"DAG {dag_id} | run {run_id} | task {task_id}", f"Reason: {reason}"]
        payload_extra = {"reason": reason}

    subject = f"{subject_prefix} {level}: {headline}"
    details = lines[1:]
    body = "".join(
        [f"<p><b>{html.escape(headline)}</b></p>", f"<p>{html.escape(details[0])}</p><ul>"]
        + [f"<li>{html.escape(line)}</li>" for line in details[1:]]
        + ["</ul>"]
    )
    payload = {
        "text": _slack_escape(f"{subject}\n" + "\n".join(details)),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape("\n".join(details))[:2900]}},
        ],
        "scv": {"level": level, **where, **payload_extra},
    }
    return Alert(level=level, subject=subject, text="\n".join(lines), html=f"<html><body>{body}</body></html>",
                 payload=payload)


class DataQualityNotifier(BaseNotifier):
    """Send data-quality alerts by email (SMTP connection) and webhook (HTTP connection).

    :param to: email recipients (str, comma/semicolon separated, or list); email is sent only
        when both ``to`` and ``smtp_conn_id`` are set. (templated)
    :param smtp_conn_id: SMTP connection id, e.g. ``scv_smtp``. (templated)
    :param http_conn_id: HTTP connection id of the webhook, e.g. ``scv_dq_webhook``. (templated)
    :param webhook_endpoint: path appended to the connection's URL; default none. (templated)
    :param from_email: sender; default the SMTP connection's ``from_email`` extra. (templated)
    :param subject_prefix: prefix of subjects and webhook headers.
    """

    template_fields = ("to", "smtp_conn_id", "http_conn_id", "webhook_endpoint", "from_email")

    def __init__(
        self,
        *,
        to: str | Iterable[str] | None = None,
        smtp_conn_id: str | None = None,
        http_conn_id: str | None = None,
        webhook_endpoint: str | None = None,
        from_email: str | None = None,
        subject_prefix: str = "[scv]",
    ):
        super().__init__()
        self.to = to if to is None or isinstance(to, str) else list(to)
        self.smtp_conn_id = smtp_conn_id
        self.http_conn_id = http_conn_id
        self.webhook_endpoint = webhook_endpoint
        self.from_email = from_email
        self.subject_prefix = subject_prefix

    def notify(self, context: Mapping[str, Any]) -> None:
        alert = build_alert(context, self.subject_prefix)
        channels = []
        if self.smtp_conn_id and self.to:
            channels.append(("email", self.smtp_conn_id, self.send_email))
        if self.http_conn_id:
            channels.append(("webhook", self.http_conn_id, self.post_webhook))
        errors: list[Exception] = []
        for channel, conn_id, send in channels:
            try:
                send(alert)
                self.log.info("Data-quality alert sent by %s (%s): %s", channel, conn_id, alert.subject)
            except Exception as error:
                self.log.exception("Data-quality alert by %s (%s) failed", channel, conn_id)
                errors.append(error)
        if errors:
            raise errors[0]

    def send_email(self, alert: Alert) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        with SmtpHook(smtp_conn_id=self.smtp_conn_id) as hook:
            hook.send_email_smtp(
                to=self.to,
                subject=alert.subject,
                html_content=alert.html,
                from_email=self.from_email,
                custom_headers={"X-SCV-Alert-Level": alert.level},
            )

    def post_webhook(self, alert: Alert) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        hook = HttpHook(method="POST", http_conn_id=self.http_conn_id)
        hook.run(
            endpoint=self.webhook_endpoint,
            data=json.dumps(alert.payload),
            headers={"Content-Type": "application/json"},
        )
