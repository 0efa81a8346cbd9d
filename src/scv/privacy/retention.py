"""Retention purges: delete rows older than a table's keep period, so no file still holds them.

Policies live in ``include/privacy/retention.yml`` (see the comments there). Two kinds:

- ``table`` (the default): rows of one table whose column is older than the cutoff;
- ``inactive_customers``: every row of every customer whose latest activity is older than the
  cutoff, in every lakehouse table (:func:`purge_inactive_customers`).

One ``table`` purge:

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
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from scv import delta_io
from scv.config import Settings

log = logging.getLogger(__name__)

RETENTION_FILE = ("privacy", "retention.yml")
AUDIT_TABLE = ("privacy", "retention_audit")
DEFAULT_VACUUM_RETAIN_HOURS = 168
_KEEP_RE = re.compile(r"^\s*(\d+)\s*(day|days|month|months|year|years)\s*$")
_ACTIVITY_RE = re.compile(r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
TABLE_KIND = "table"
CUSTOMER_KIND = "inactive_customers"
# The customers' records: the population an inactive_customers policy is measured over.
CUSTOMER_RECORDS_TABLE = "silver/person_records"
_KEYS = {
    TABLE_KIND: ({"name", "table", "column", "keep"}, {"kind", "where", "vacuum_retain_hours"}),
    CUSTOMER_KIND: ({"name", "keep", "activity"}, {"kind", "vacuum_retain_hours"}),
}

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
        # Added with the inactive_customers kind: nullable, so appending to an audit table created
        # before them adds the columns (older rows read NULL). Counts and table names only.
        T.StructField("kind", T.StringType(), True),
        T.StructField("customers_matched", T.LongType(), True),
        T.StructField("records_matched", T.LongType(), True),
        T.StructField("rows_by_table", T.MapType(T.StringType(), T.LongType()), True),
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
    kind: str = TABLE_KIND
    activity: tuple[str, ...] = ()  # inactive_customers: "<layer>/<table>.<column>" per source

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
        kind = entry.get("kind") or TABLE_KIND
        if kind not in _KEYS:
            raise RetentionPolicyError(f"retention policy '{name}' in {path}: kind must be one of {', '.join(_KEYS)}")
        required, optional = _KEYS[kind]
        missing = [k for k in sorted(required) if not entry.get(k)]
        if missing:
            raise RetentionPolicyError(f"retention policy '{name}' in {path}: missing {', '.join(missing)}")
        unknown = set(entry) - required - optional
        if unknown:
            raise RetentionPolicyError(f"retention policy '{name}' in {path}: unknown key(s) {', '.join(sorted(unknown))}")
        if name in names:
            raise RetentionPolicyError(f"retention policy '{name}' in {path}: duplicate name")
        if kind == TABLE_KIND and not re.match(r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$", entry["table"]):
            raise RetentionPolicyError(f"retention policy '{name}' in {path}: table must be '<layer>/<name>'")
        activity = entry.get("activity") or []
        if kind == CUSTOMER_KIND and (
            not isinstance(activity, list) or not all(isinstance(a, str) and _ACTIVITY_RE.match(a) for a in activity)
        ):
            raise RetentionPolicyError(
                f"retention policy '{name}' in {path}: activity must be a list of '<layer>/<table>.<column>'"
            )
        _parse_keep(entry["keep"], name)
        names.add(name)
        policies.append(
            RetentionPolicy(
                name=name,
                table=entry["table"] if kind == TABLE_KIND else CUSTOMER_RECORDS_TABLE,
                column=entry["column"] if kind == TABLE_KIND else ", ".join(activity),
                keep=str(entry["keep"]),
                where=entry.get("where"),
                vacuum_retain_hours=int(entry.get("vacuum_retain_hours", DEFAULT_VACUUM_RETAIN_HOURS)),
                kind=kind,
                activity=tuple(activity),
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
    kind: str = TABLE_KIND
    customers_matched: int | None = None
    records_matched: int | None = None
    rows_by_table: dict[str, int] = field(default_factory=dict)

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
    if policy.kind == CUSTOMER_KIND:
        return purge_inactive_customers(spark, settings, policy, logical_date, run_id, dry_run)
    started = _now()
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
        report.rows_by_table = {policy.table: report.rows_matched}
    _audit(spark, settings, policy, logical_date, run_id, report, started)
    return report


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _audit(
    spark: SparkSession,
    settings: Settings,
    policy: RetentionPolicy,
    logical_date: dt.date,
    run_id: str,
    report: PurgeReport,
    started: dt.datetime,
) -> None:
    """Append one row to ``privacy/retention_audit``: counts, dates and table names, no row values."""
    row = (
        policy.name, policy.table, policy.column, policy.cutoff(logical_date), report.dry_run, report.table_exists,
        report.rows_matched, report.rows_deleted, report.files_purged, policy.vacuum_retain_hours,
        report.version_before, report.version_after, run_id, logical_date, started, _now(),
        policy.kind, report.customers_matched, report.records_matched, report.rows_by_table or None,
    )
    audit = spark.createDataFrame([row], AUDIT_SCHEMA)
    delta_io.append(audit, settings.table_path(*AUDIT_TABLE), properties=AUDIT_PROPERTIES)


# --- inactive customers ---------------------------------------------------------------------------

_NEVER = "TIMESTAMP '9999-12-31 00:00:00'"  # activity of a record nothing dates: never inactive


def _load(spark: SparkSession, settings: Settings, table: str) -> DataFrame:
    return spark.read.format("delta").load(settings.table_path(*table.split("/", 1)))


def _activity(spark: SparkSession, settings: Settings, policy: RetentionPolicy, tables: set[str]) -> DataFrame:
    """``record_id, last_activity``: the latest activity date of every record, over the policy's
    activity sources (each keyed by ``record_id``, or ``person_record_id`` for events). Records
    of the population or of a link table that no source dates get a far-future date."""
    from scv.privacy.erasure import LINK_TABLES

    dated = []
    for spec in policy.activity:
        table, column = spec.rsplit(".", 1)
        if table not in tables:
            continue  # sources arrive over time (e.g. no events yet)
        frame = _load(spark, settings, table)
        key = next((k for k in ("record_id", "person_record_id") if k in frame.columns), None)
        if key is None or column not in frame.columns:
            raise RetentionPolicyError(
                f"retention policy '{policy.name}': activity {spec} needs columns record_id or person_record_id, and {column}"
            )
        dated.append(
            frame.where(F.col(key).isNotNull()).select(F.col(key).alias("record_id"), F.col(column).cast("timestamp").alias("at"))
        )
    population = [_load(spark, settings, t).select("record_id") for t in (CUSTOMER_RECORDS_TABLE, *LINK_TABLES) if t in tables]
    records = population[0]
    for frame in population[1:]:
        records = records.unionByName(frame)
    records = records.where(F.col("record_id").isNotNull()).distinct()
    if dated:
        at = dated[0]
        for frame in dated[1:]:
            at = at.unionByName(frame)
        latest = at.groupBy("record_id").agg(F.max("at").alias("at"))
        records = records.join(latest, "record_id", "left")
    else:
        records = records.withColumn("at", F.lit(None).cast("timestamp"))
    return records.select("record_id", F.coalesce("at", F.expr(_NEVER)).alias("last_activity"))


def inactive_customers(
    spark: SparkSession, settings: Settings, policy: RetentionPolicy, logical_date: dt.date
) -> tuple[set[str], set[str]]:
    """(customer ids, record ids) out of retention as of ``logical_date``.

    A customer (a ``customer_id`` of any link table: ``silver/record_customer``,
    ``gold/customer_xref``, ``staging/customer_xref``) is inactive when the latest activity over
    all their records is before the cutoff; a record not linked to any customer yet counts as a
    customer of its own. A record goes when it is out of retention itself and every customer it
    is linked to is inactive (a stale link to an active customer keeps it). A record that no
    activity source dates is never inactive.
    """
    from scv.privacy.erasure import LINK_TABLES, lakehouse_tables

    tables = set(lakehouse_tables(settings))
    if CUSTOMER_RECORDS_TABLE not in tables:
        return set(), set()
    cutoff = F.expr(f"TIMESTAMP '{policy.cutoff(logical_date):%Y-%m-%d %H:%M:%S}'")
    activity = _activity(spark, settings, policy, tables).persist()
    try:
        links = [
            _load(spark, settings, t).select("record_id", "customer_id")
            for t in LINK_TABLES if t in tables
        ]
        link = None
        for frame in links:
            link = frame if link is None else link.unionByName(frame)
        old = activity.where(F.col("last_activity") < cutoff).select("record_id")
        if link is None:
            return set(), {r.record_id for r in old.collect()}
        link = link.where(F.col("customer_id").isNotNull()).distinct()
        customer_activity = link.join(activity, "record_id", "left").groupBy("customer_id").agg(
            F.max(F.coalesce("last_activity", F.expr(_NEVER))).alias("last_activity")
        )
        gone = customer_activity.where(F.col("last_activity") < cutoff).select("customer_id")
        kept = customer_activity.join(gone, "customer_id", "left_anti").select("customer_id")
        records = old.join(link.join(kept, "customer_id", "left_semi").select("record_id"), "record_id", "left_anti")
        return {r.customer_id for r in gone.collect()}, {r.record_id for r in records.collect()}
    finally:
        activity.unpersist()


def purge_inactive_customers(
    spark: SparkSession,
    settings: Settings,
    policy: RetentionPolicy,
    logical_date: dt.date,
    run_id: str,
    dry_run: bool = False,
) -> PurgeReport:
    """Delete every row of the customers inactive as of ``logical_date`` (:func:`inactive_customers`).

    Like an erasure, by surrogate key, one DELETE per table: bronze rows by their lineage
    (``_source_file``, ``_line_number``), found through the person sources' primary keys and the
    event sources' person references of the record ids; every other table outside ``privacy/``
    by its record and customer key columns (silver, staging, gold incl. the ``_pii`` tables, the
    cross-reference, features, scores). Statements name ids and lineage only. Then REORG PURGE
    and VACUUM with the policy's retention on every table that can hold customer rows, so files
    replaced by an earlier purge go once they are past the retention.

    Unlike an erasure it adds nothing to the suppression list (a returning customer is welcome)
    and does not touch the landing zone: landing files need their own lifecycle rule (e.g. an
    object-store expiry). A dry run counts the customers, records and rows per table that
    would go and changes no table. Idempotent: a rerun finds no inactive customer left.
    """
    from scv.privacy.erasure import (
        CUSTOMER_KEY_COLUMNS, PROTECTED_LAYERS, RECORD_KEY_COLUMNS, bronze_lineage, delete_by_keys, delete_by_lineage,
        lakehouse_tables,
    )

    started = _now()
    tables = [t for t in lakehouse_tables(settings) if t.split("/", 1)[0] not in PROTECTED_LAYERS]
    report = PurgeReport(
        policy.name, policy.table, policy.cutoff(logical_date).isoformat(), dry_run, CUSTOMER_RECORDS_TABLE in tables,
        kind=CUSTOMER_KIND,
    )
    customer_ids, record_ids = inactive_customers(spark, settings, policy, logical_date)
    report.customers_matched, report.records_matched = len(customer_ids), len(record_ids)
    rows: dict[str, int] = {}
    if customer_ids or record_ids:
        lineage = bronze_lineage(spark, settings, record_ids) if record_ids else {}
        rows.update(delete_by_lineage(spark, settings, lineage, dry_run))
        rows.update(delete_by_keys(spark, settings, tables, record_ids, customer_ids, dry_run))
    report.rows_by_table = {t: n for t, n in sorted(rows.items()) if n}
    report.rows_matched = sum(rows.values())
    if not dry_run:
        report.rows_deleted = report.rows_matched
        keys = set(RECORD_KEY_COLUMNS + CUSTOMER_KEY_COLUMNS)
        holders = [
            t for t in tables
            if t.startswith("bronze/") or keys & set(_load(spark, settings, t).columns)
        ]
        for table in holders:
            report.files_purged |= purge_files(spark, settings.table_path(*table.split("/", 1)), policy.vacuum_retain_hours)
    log.info(
        "retention %s: %d inactive customer(s), %d record(s); rows %s per table %s",
        policy.name, report.customers_matched, report.records_matched,
        "that would go" if dry_run else "deleted", report.rows_by_table,
    )
    _audit(spark, settings, policy, logical_date, run_id, report, started)
    return report
