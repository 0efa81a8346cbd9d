"""The typed result of one validation gate, free of personal data.

Everything here is already masked (see :mod:`scv.quality.masking`): an outcome can be logged,
pushed to XCom, written to the ops table and sent in an alert as it is. This module imports
neither Spark nor Great Expectations, so notifiers and DAG files can use it cheaply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["critical", "warning"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result.

    ``observed_value`` is the masked observation as a string (a row count, a proportion, the
    masked minimum of a column...), ``None`` for expectations that only count unexpected rows.
    ``unexpected_count`` is the number of failing rows (for SQL checks: rows the query returned).
    ``sample`` holds a few masked failing values. ``error`` is set, scrubbed, when the check could
    not be evaluated (e.g. a missing column); such an expectation counts as failed.
    """

    name: str
    expectation_type: str
    severity: Severity
    success: bool
    column: str | None = None
    observed_value: str | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    element_count: int | None = None
    sample: tuple[str, ...] = ()
    description: str | None = None
    error: str | None = None

    def brief(self) -> dict[str, Any]:
        """A few fields for XCom and alerts (no samples)."""
        out: dict[str, Any] = {
            "expectation": self.name,
            "type": self.expectation_type,
            "severity": self.severity,
            "unexpected_count": self.unexpected_count,
            "observed_value": self.observed_value,
        }
        if self.column:
            out["column"] = self.column
        if self.unexpected_percent is not None:
            out["unexpected_percent"] = round(self.unexpected_percent, 4)
        if self.error:
            out["error"] = self.error[:300]
        return out


@dataclass(frozen=True)
class ValidationOutcome:
    """The result of validating one table (or one batch of it) against one suite.

    ``success`` is True when no ``critical`` expectation failed: warnings never fail a gate.
    """

    suite: str
    table: str
    run_id: str
    results: tuple[ExpectationOutcome, ...]
    validated_at: dt.datetime
    dag_id: str | None = None
    task_id: str | None = None
    row_filter: str | None = None
    data_docs_path: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def critical_failures(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(r for r in self.results if not r.success and r.severity == "critical")

    @property
    def warning_failures(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(r for r in self.results if not r.success and r.severity == "warning")

    @property
    def success(self) -> bool:
        return not self.critical_failures

    @property
    def status(self) -> Literal["passed", "warning", "failed"]:
        if self.critical_failures:
            return "failed"
        return "warning" if self.warning_failures else "passed"

    def summary(self, data_docs_url: str | None = None) -> dict[str, Any]:
        """A small JSON-serialisable summary for XCom and alerts (masked, no samples)."""
        return {
            "suite": self.suite,
            "table": self.table,
            "run_id": self.run_id,
            "dag_id": self.dag_id,
            "task_id": self.task_id,
            "row_filter": self.row_filter,
            "status": self.status,
            "success": self.success,
            "evaluated": len(self.results),
            "failed": len(self.critical_failures) + len(self.warning_failures),
            "critical_failures": [r.brief() for r in self.critical_failures],
            "warning_failures": [r.brief() for r in self.warning_failures],
            "data_docs_path": self.data_docs_path,
            "data_docs_url": data_docs_url or self.data_docs_path,
            "validated_at": self.validated_at.isoformat(),
        }

    def report(self) -> str:
        """A plain-text table of every expectation, for task logs (masked)."""
        lines = [
            f"suite {self.suite} on {self.table} ({self.status}; "
            f"{len(self.critical_failures)} critical, {len(self.warning_failures)} warning failures "
            f"of {len(self.results)})"
        ]
        for r in self.results:
            mark = "ok  " if r.success else ("FAIL" if r.severity == "critical" else "WARN")
            detail = []
            if r.unexpected_count is not None:
                detail.append(f"unexpected={r.unexpected_count}")
            if r.observed_value is not None:
                detail.append(f"observed={r.observed_value[:80]}")
            if r.sample and not r.success:
                detail.append(f"sample={list(r.sample)}")
            if r.error:
                detail.append(f"error={r.error[:200]}")
            lines.append(f"  {mark} [{r.severity}] {r.name}: {' '.join(detail)}")
        if self.data_docs_path:
            lines.append(f"  data docs: {self.data_docs_path}")
        return "\n".join(lines)
