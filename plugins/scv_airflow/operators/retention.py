"""The operator that applies one retention policy (``include/privacy/retention.yml``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator


def _as_bool(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class RetentionPurgeOperator(BaseOperator):
    """Delete the rows of ``policy``'s table older than its keep period, then purge and VACUUM;
    for an ``inactive_customers`` policy, every row of the customers inactive for longer than it,
    in every lakehouse table (:func:`scv.privacy.retention.purge_inactive_customers`).

    :param policy: name of the policy in the retention file.
    :param logical_date: the date the keep period is measured back from. (templated)
    :param dry_run: report what would be deleted and change nothing (bool or "true"/"false"). (templated)
    :param policies_file: policy file; default ``<include>/privacy/retention.yml`` at run time.

    Idempotent (a rerun for the same date deletes nothing more). ``__init__`` only stores
    arguments: the policy file is read and Spark started in ``execute``. Returns the purge report
    (counts, cutoff, table versions, rows per table), which is pushed to XCom and recorded in
    ``privacy/retention_audit``; it holds no row values.
    """

    template_fields: Sequence[str] = ("logical_date", "dry_run")
    ui_color = "#f3e8f4"

    def __init__(
        self,
        *,
        policy: str,
        logical_date: str = "{{ ds }}",
        dry_run: bool | str = False,
        policies_file: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.logical_date = logical_date
        self.dry_run = dry_run
        self.policies_file = policies_file

    def _make_hook(self):
        from scv_airflow.hooks.compute import LocalSparkHook

        return LocalSparkHook(app_name=f"scv-retention-{self.policy}")

    def execute(self, context: Any) -> dict:
        from scv.jobs import parse_date
        from scv.privacy.retention import load_policies, policies_path, purge

        hook = self._make_hook()
        settings = hook.get_settings()
        policies = {p.name: p for p in load_policies(self.policies_file or policies_path(settings))}
        if self.policy not in policies:
            raise KeyError(f"retention policy {self.policy!r} not found; known: {', '.join(sorted(policies))}")
        report = purge(
            hook.get_session(settings),
            settings,
            policies[self.policy],
            parse_date(self.logical_date),
            run_id=str(context.get("run_id") or "manual"),
            dry_run=_as_bool(self.dry_run),
        )
        verb = "would delete" if report.dry_run else "deleted"
        missing = "" if report.table_exists else "; table does not exist yet"
        if report.customers_matched is not None:  # an inactive_customers policy: counts only, no ids
            self.log.info(
                "retention %s: %d customer(s) inactive since before %s, %d record(s); %s %d row(s): %s%s",
                report.policy, report.customers_matched, report.cutoff, report.records_matched, verb,
                report.rows_matched if report.dry_run else report.rows_deleted, report.rows_by_table, missing,
            )
        else:
            self.log.info(
                "retention %s on %s: %s %d row(s) older than %s (matched %d)%s",
                report.policy, report.table, verb, report.rows_matched if report.dry_run else report.rows_deleted,
                report.cutoff, report.rows_matched, missing,
            )
        return report.as_dict()
