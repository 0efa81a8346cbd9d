"""Retention purges: delete rows older than a table's keep period, so no file still holds them.

Policies live in ``include/privacy/retention.yml`` (see the comments there). One purge:

1. counts the rows older than the cutoff (``logical date - keep``) and, unless dry-run,
2. ``DELETE``s them with a predicate naming only the column and the cutoff date (Delta records
   the statement in the table history, so no value from a row may be in it);
3. ``REORG TABLE ... APPLY (PURGE)`` when the table has deletion vectors enabled, because then a
   DELETE only marks rows and the data files still hold them;
4. ``VACUUM``s with the policy's retention, removing the files the DELETE replaced once they
   are older than that;
5. appends what it did to ``privacy/retention_audit``.

Guarantees
- Idempotent: a second run with the same cutoff matches and deletes nothing more.
- Dry-run deletes, rewrites and vacuums nothing; it reports the rows that would go (and records
  the dry run in the audit table, flagged as such).
- A table that does not exist yet is reported as such, not an error (sources arrive over time).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from scv import delta_io
from scv.config import Settings

RETENTION_FILE = ("privacy", "retention.yml")
AUDIT_TABLE = ("privacy", "retention_audit")
DEFAULT_VACUUM_RETAIN_HOURS = 168
_KEEP_RE = re.compile(r"^\s*(\d+)\s*(day|days|month|months|year|years)\s*$")

AUDIT_SCHEMA = T.StructType(
    [
        T.StructField("policy", T.StringType(), False),
        T.StructField("table", T.StringType(), False),
        T.StructField("column", T.StringType(), False),
        T.StructField("cutoff", T.TimestampType(), False),
        T.StructField("dry_run", T.BooleanType(), False),
        T.StructField("table_exists", T.BooleanType(), False),
        T.StructField("rows_matched", T.LongType(), False),
        T.StructField("rows_deleted", T.LongType(), False),
        T.StructField("files_purged", T.BooleanType(), False),
        T.StructField("vacuum_retain_hours", T.IntegerType(), False),
        T.StructField("version_before", T.LongType(), True),
        T.StructField("version_after", T.LongType(), True),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("logical_date", T.DateType(), False),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("completed_at", T.TimestampType(), False),
    ]
)
AUDIT_PROPERTIES = delta_io.stats_columns_property(["policy", "logical_date", "completed_at"])


class RetentionPolicyError(ValueError):
    """A retention policy file or entry is invalid (the message names the policy and key)."""


@dataclass(frozen=True)
class RetentionPolicy:
    name: str
    table: str
    column: str
    keep: str
    where: str | None = None
    vacuum_retain_hours: int = DEFAULT_VACUUM_RETAIN_HOURS

    def cutoff(self, logical_date: dt.date) -> dt.datetime:
        """Rows measured before this instant are out of retention."""
        number, unit = _parse_keep(self.keep, self.name)
        if unit.startswith("day"):
            day = logical_date - dt.timedelta(days=number)
        else:
            months = number * (12 if unit.startswith("year") else 1)
            year, month = divmod(logical_date.year * 12 + logical_date.month - 1 - months, 12)
            month += 1
            last_day = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
            day = dt.date(year, month, min(logical_date.day, last_day))
        return dt.datetime.combine(day, dt.time())

    def predicate(self, logical_date: dt.date) -> str:
        cutoff = self.cutoff(logical_date).strftime("%Y-%m-%d %H:%M:%S")
        condition = f"({self.column}) < TIMESTAMP '{cutoff}'"
        return f"({self.where}) AND {condition}" if self.where else condition


def _parse_keep(keep: str, name: str) -> tuple[int, str]:
    match = _KEEP_RE.match(str(keep))
    if not match:
        raise RetentionPolicyError(f"retention policy '{name}': keep {keep!r} is not '<n> days|months|years'")
    return int(match.group(1)), match.group(2)


def load_policies(path: str | Path) -> list[RetentionPolicy]:
    """Policies from the YAML file; raises :class:`RetentionPolicyError` naming the bad entry."""
    document = yaml.safe_load(Path(path).read_text()) or {}
    policies, names = [], set()
    for index, entry in enumerate(document.get("policies") or []):
        name = entry.get("name") or f"#{index}"
        missing = [k for k in ("name", "table", "column", "keep") if not entry.get(k)]
        if missing:
            raise RetentionPolicyError(f"retention policy '{name}' in {path}: missing {', '.join(missing)}")
        unknown = set(entry) - {"name", "table", "column", "keep", "where", "vacuum_retain_hours"}
        if unknown:
            raise RetentionPolicyError(f"retention policy '{name}' in {path}: unknown key(s) {', '.join(sorted(unknown))}")
        if name in names:
            raise RetentionPolicyError(f"retention policy '{name}' in {path}: duplicate name")
        if not re.match(r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$", entry["table"]):
            raise RetentionPolicyError(f"retention policy '{name}' in {path}: table must be '<layer>/<name>'")
        _parse_keep(entry["keep"], name)
        names.add(name)
        policies.append(
            RetentionPolicy(
                name=name,
                table=entry["table"],
                column=entry["column"],
                keep=str(entry["keep"]),
                where=entry.get("where"),
                vacuum_retain_hours=int(entry.get("vacuum_retain_hours", DEFAULT_VACUUM_RETAIN_HOURS)),
            )
        )
    return policies


def policies_path(settings: Settings) -> Path:
    return Path(settings.include_dir, *RETENTION_FILE)


@dataclass
class PurgeReport:
    policy: str
    table: str
    cutoff: str
    dry_run: bool
    table_exists: bool
    rows_matched: int = 0
    rows_deleted: int = 0
    files_purged: bool = False
    version_before: int | None = None
    version_after: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def deletion_vectors_enabled(spark: SparkSession, path: str) -> bool:
    properties = DeltaTable.forPath(spark, path).detail().select("properties").first()[0] or {}
    return str(properties.get("delta.enableDeletionVectors", "false")).lower() == "true"


def current_version(spark: SparkSession, path: str) -> int:
    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])


def purge_files(spark: SparkSession, path: str, retain_hours: int) -> bool:
    """Make deleted rows physically gone: REORG PURGE (if deletion vectors are on), then VACUUM.

    A retention below Delta's 7-day safety check is allowed deliberately for this call only: it
    is what a policy (or an erasure) asks for, and the caller runs when no writer is active.
    Returns whether REORG ran.
    """
    purged = False
    if deletion_vectors_enabled(spark, path):
        spark.sql(f"REORG TABLE delta.`{path}` APPLY (PURGE)")
        purged = True
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    previous = spark.conf.get(check, "true")
    if retain_hours < DEFAULT_VACUUM_RETAIN_HOURS:
        spark.conf.set(check, "false")
    try:
        DeltaTable.forPath(spark, path).vacuum(float(retain_hours))
    finally:
        spark.conf.set(check, previous)
    return purged


def purge(
    spark: SparkSession,
    settings: Settings,
    policy: RetentionPolicy,
    logical_date: dt.date,
    run_id: str,
    dry_run: bool = False,
) -> PurgeReport:
    """Apply one policy as of ``logical_date`` (see module docs); returns what was (or would be) done."""
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    layer, name = policy.table.split("/", 1)
    path = settings.table_path(layer, name)
    report = PurgeReport(policy.name, policy.table, policy.cutoff(logical_date).isoformat(), dry_run, False)
    if delta_io.table_exists(spark, path):
        report.table_exists = True
        predicate = policy.predicate(logical_date)
        report.version_before = current_version(spark, path)
        report.rows_matched = spark.read.format("delta").load(path).where(predicate).count()
        if not dry_run:
            if report.rows_matched:
                DeltaTable.forPath(spark, path).delete(predicate)
                report.rows_deleted = report.rows_matched
            report.files_purged = purge_files(spark, path, policy.vacuum_retain_hours)
        report.version_after = current_version(spark, path)
    completed = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    audit = spark.createDataFrame(
        [
            (
                policy.name, policy.table, policy.column, policy.cutoff(logical_date), dry_run, report.table_exists,
                report.rows_matched, report.rows_deleted, report.files_purged, policy.vacuum_retain_hours,
                report.version_before, report.version_after, run_id, logical_date, started, completed,
            )
        ],
        AUDIT_SCHEMA,
    )
    delta_io.append(audit, settings.table_path(*AUDIT_TABLE), properties=AUDIT_PROPERTIES)
    return report
