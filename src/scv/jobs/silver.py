"""Silver jobs: canonical person records and events from bronze, standardised.

``silver/person_records`` holds the latest version (``scv.canonical``) of every bronze record of
every person source, standardised (``scv.standardise``); ``silver/events`` likewise the events of
the event sources. Each run is one Delta transaction per table, in one of two modes:

- **incremental** (the default once the table exists): only the keys with a bronze row of the
  run's logical date are read again, each at its latest version among *all* bronze rows (so a
  backfill of an earlier date after a later one still ends with the latest version), and only
  they are standardised. They are MERGEd by key: a row whose content differs from silver is
  updated, a new one inserted, an identical one left alone; rows whose record has no bronze row
  any more (privacy erasure, retention, a rerun of a date delivering fewer rows) are deleted.
  Looking for those means comparing every key of the table with every key of bronze, so it is
  done only when bronze may have lost rows since the table was last written: the table property
  ``scv.silver.bronzeCommits`` records the latest commit of every bronze table read (taken before
  reading), and the next run reads the bronze tables' history after those commits
  (``delta_io.rows_removed_since``). When every later commit only added rows (the daily
  ingestion of a new date), no key can have gone and the comparison is skipped; a DELETE, a
  rerun that replaced files, a RESTORE, a recreated table or a history it cannot read make it
  look. A rerun of a date commits nothing.
- **full**: everything is rebuilt from bronze and the table overwritten. It runs when asked
  (``full_rebuild``, also as the strings "True"/"False" of Airflow templating), when the table
  does not exist or its columns are not the job's, and when the inputs that decide silver's
  content changed since the table was last rebuilt: the source contracts of the sources read,
  the reference data of the standardiser, or the code of ``scv.canonical`` / ``scv.standardise``
  (a fingerprint kept in the table property ``scv.silver.inputsFingerprint``).

For any sequence of deliveries the incremental table equals the full rebuild in every column but
``_silver_logical_date``, with one documented difference: ``as_of`` (the "younger than 16" rule
of the date of birth) is the logical date of the run that last wrote the row, i.e. the date its
latest version arrived, where a full rebuild standardises every row as of its own run's date.

``silver/person_records._silver_logical_date`` (DATE) is the logical date of the run that last
wrote the row (a full rebuild writes every row), so the silver gate can validate only a run's
rows (row filter ``_silver_logical_date = '<ds>'``). It is not a linkage column: the linkage
record hash does not change when only it does. Both tables have deletion vectors on, so a MERGE
marks replaced rows instead of rewriting every file that holds one.

Not covered incrementally: a bronze row deleted while an *older* version of the same key stays
in bronze (the record is kept in silver at the deleted version until a full rebuild); erasure and
the inactive-customer purge delete every version and silver's rows themselves.

The summary's ``standardisation`` counts are those of the rows written by the run
(``standardisation_scope``: ``rows_written``; the whole table on a full rebuild, ``table``), so an
incremental day does not scan the whole table for them.
"""

from __future__ import annotations

import dataclasses
import functools
import datetime as dt
import hashlib
import importlib.resources
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import reduce

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from scv import delta_io
from scv.canonical import EVENT_COLUMNS, event_keys, events, person_record_ids, person_records
from scv.concurrent_spark import run_concurrently
from scv.config import Settings
from scv.contracts import SourceContract, load_contracts
from scv.jobs import parse_date
from scv.standardise import SILVER_COLUMNS, StandardisationReport, standardise_person_records
from scv.standardise.reference import DEFAULT_REFERENCE_DIR

log = logging.getLogger(__name__)

SILVER_LOGICAL_DATE = "_silver_logical_date"
PERSON_TABLE_COLUMNS = (*SILVER_COLUMNS, SILVER_LOGICAL_DATE)
PERSON_KEYS = ("record_id",)
EVENT_KEYS = ("source_system", "event_id")

INPUTS_FINGERPRINT_PROPERTY = "scv.silver.inputsFingerprint"
BRONZE_COMMITS_PROPERTY = "scv.silver.bronzeCommits"
SILVER_PERSON_PROPERTIES = {
    **delta_io.stats_columns_property(["record_id", "source_system", "updated_at", SILVER_LOGICAL_DATE]),
    **delta_io.DELETION_VECTORS,
}
SILVER_EVENT_PROPERTIES = {
    **delta_io.stats_columns_property(["source_system", "event_time", "event_type", "product_category"]),
    **delta_io.DELETION_VECTORS,
}

INCREMENTAL = "incremental"
FULL = "full"
_CHANGE = "_change"


@dataclass(frozen=True)
class TableWrite:
    """What one run did to one silver table."""

    mode: str
    full_rebuild_reason: str | None
    delivered: int  # rows read again from bronze (incremental: the day's keys)
    written: int  # rows inserted or updated
    deleted: int
    # Why the run compared the table's keys with bronze's to find rows gone from bronze (a full
    # rebuild: "full rebuild"); None when bronze only gained rows since the last run.
    gone_check: str | None = None


@dataclass(frozen=True)
class BronzeCommits:
    """The latest commit of each bronze table a silver table is built from, and why rows may have
    left bronze since the commits the silver table recorded (None: bronze only gained rows)."""

    latest: dict[str, delta_io.CommitMark]
    removal_reason: str | None

    def as_properties(self) -> dict[str, str]:
        marks = {name: [mark.version, mark.timestamp_ms] for name, mark in sorted(self.latest.items())}
        return {BRONZE_COMMITS_PROPERTY: json.dumps(marks, separators=(",", ":"))}


def _recorded_commits(text: str | None) -> dict[str, delta_io.CommitMark] | None:
    try:
        return {name: delta_io.CommitMark(int(v), int(ms)) for name, (v, ms) in json.loads(text).items()}
    except (TypeError, ValueError, AttributeError):
        return None


def bronze_commits(
    spark: SparkSession, settings: Settings, sources: Sequence[SourceContract], recorded: str | None
) -> BronzeCommits:
    """Read before the bronze data, so a commit landing while the job runs is looked at again by
    the next run. ``recorded`` is the silver table's ``scv.silver.bronzeCommits`` property."""
    marks = _recorded_commits(recorded)
    latest: dict[str, delta_io.CommitMark] = {}
    reasons: list[str] = []
    for contract in sources:
        mark, reason = delta_io.rows_removed_since(
            spark, settings.table_path("bronze", contract.name), (marks or {}).get(contract.name)
        )
        latest[contract.name] = mark
        if reason is not None and marks is not None:
            reasons.append(f"bronze/{contract.name}: {reason}")
    if marks is None:
        reasons = ["no bronze commits recorded by the table yet"]
    elif set(marks) - set(latest):
        reasons.append(f"no bronze table read any more for {sorted(set(marks) - set(latest))}")
    return BronzeCommits(latest, "; ".join(reasons) or None)


def _union(frames: list[DataFrame]) -> DataFrame:
    return reduce(lambda a, b: a.unionByName(b), frames)


def _as_flag(value: bool | str) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def _code_files(package: str, names: Iterable[str] | None = None) -> list[tuple[str, bytes]]:
    folder = importlib.resources.files(package)
    wanted = [folder / n for n in names] if names is not None else [p for p in folder.iterdir() if p.name.endswith(".py")]
    return [(f"{package}/{p.name}", p.read_bytes()) for p in sorted(wanted, key=lambda p: p.name)]


def inputs_fingerprint(contracts: Sequence[SourceContract], *, standardised: bool) -> str:
    """A hash of what decides a silver table's content besides bronze: the contracts read, the
    code of ``scv.canonical`` and, for standardised tables, ``scv.standardise`` and its
    reference data. When it changes, the next run rebuilds the table in full."""
    digest = hashlib.sha256()
    for contract in sorted(contracts, key=lambda c: c.name):
        definition = {k: v for k, v in dataclasses.asdict(contract).items() if k not in ("file", "description", "owner")}
        digest.update(json.dumps(definition, sort_keys=True, default=str).encode("utf-8"))
    parts = _code_files("scv", ["canonical.py"])
    if standardised:
        parts += _code_files("scv.standardise")
        parts += [(f"reference/{p.name}", p.read_bytes()) for p in sorted(DEFAULT_REFERENCE_DIR.iterdir()) if p.is_file()]
    for name, content in parts:
        digest.update(name.encode("utf-8"))
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


def _existing_properties(spark: SparkSession, path: str) -> dict[str, str] | None:
    """The table's properties; None when there is no table at ``path``."""
    return delta_io.table_properties(spark, path) if delta_io.table_exists(spark, path) else None


def full_rebuild_reason(
    spark: SparkSession,
    path: str,
    columns: Sequence[str],
    fingerprint: str,
    *,
    requested: bool,
    properties: dict[str, str] | None,
) -> str | None:
    """Why the table at ``path`` (with table ``properties``, None when there is no table) must be
    rebuilt in full; None when a MERGE of the day's keys is enough."""
    if requested:
        return "requested"
    if properties is None:
        return "no table yet"
    if tuple(DeltaTable.forPath(spark, path).toDF().columns) != tuple(columns):
        return "table columns differ from the job's"
    recorded = properties.get(INPUTS_FINGERPRINT_PROPERTY)
    if recorded is None:
        return "no inputs fingerprint yet"
    if recorded != fingerprint:
        return "contracts, reference data or standardisation code changed"
    return None


def _overwrite(
    spark: SparkSession,
    frame: DataFrame,
    path: str,
    keys: Sequence[str],
    properties: dict[str, str],
    fingerprint: str,
    reason: str,
    bronze: BronzeCommits,
) -> TableWrite:
    """Replace the whole table with ``frame``; the fingerprint and the bronze commits read are set
    only after the data is in, so a failure in between leaves a table that the next run rebuilds
    again."""
    previous_version = (
        DeltaTable.forPath(spark, path).history(1).first().version if delta_io.table_exists(spark, path) else None
    )
    delta_io.overwrite(frame, path, properties=properties)
    delta_io.ensure_properties(spark, path, {**properties, INPUTS_FINGERPRINT_PROPERTY: fingerprint, **bronze.as_properties()})
    written = spark.read.format("delta").load(path)
    deleted = 0
    if previous_version is not None:
        before = spark.read.format("delta").option("versionAsOf", previous_version).load(path)
        if set(keys) <= set(before.columns):
            deleted = before.select(*keys).join(written.select(*keys), list(keys), "left_anti").count()
        else:
            deleted = before.count()
    count = written.count()
    return TableWrite(FULL, reason, delivered=count, written=count, deleted=deleted, gone_check="full rebuild")


def merge_delivery(
    spark: SparkSession,
    path: str,
    delivered: DataFrame,
    keys_in_bronze: DataFrame | None,
    keys: Sequence[str],
    *,
    stamp: dict[str, Column] | None = None,
    on_rows_to_write: Callable[[DataFrame], None] | None = None,
) -> TableWrite:
    """MERGE the day's rows ``delivered`` (one per key) into the table at ``path`` in one commit.

    Rows identical to the table's (every column of ``delivered``, null-safe) are left alone; the
    others are updated or inserted with the ``stamp`` columns added. Table rows whose key is not
    in ``keys_in_bronze`` are deleted (None: bronze lost no row, nothing is looked for).
    ``on_rows_to_write`` is called with the rows to be inserted or updated (cached) before the
    commit, while they still read as computed. Nothing is committed when nothing changed.
    """
    target = DeltaTable.forPath(spark, path)
    current = target.toDF()
    delivered = delivered.persist(StorageLevel.MEMORY_AND_DISK)
    changes = None
    try:
        # Only the table rows of the day's keys can equal a delivered row: filtering the table by
        # them first (a broadcast join when the day is small, decided by adaptive execution at
        # run time) keeps the comparison from shuffling the whole table.
        current_of_delivered = current.join(delivered.select(*keys), list(keys), "left_semi")
        same_row = reduce(lambda a, b: a & b, [F.col(f"d.`{c}`").eqNullSafe(F.col(f"t.`{c}`")) for c in delivered.columns])
        upserts = delivered.alias("d").join(current_of_delivered.alias("t"), same_row, "left_anti")
        for name, value in (stamp or {}).items():
            upserts = upserts.withColumn(name, value)
        changes = upserts.select(*current.columns).withColumn(_CHANGE, F.lit("upsert"))
        if keys_in_bronze is not None:
            gone = current.select(*keys).join(keys_in_bronze.select(*keys), list(keys), "left_anti")
            gone = gone.select(
                *[F.col(c) if c in keys else F.lit(None).cast(current.schema[c].dataType).alias(c) for c in current.columns]
            )
            changes = changes.unionByName(gone.withColumn(_CHANGE, F.lit("delete")))
        changes = changes.persist(StorageLevel.MEMORY_AND_DISK)
        counts = {row[_CHANGE]: row["count"] for row in changes.groupBy(_CHANGE).count().collect()}
        delivered_count = delivered.count()
        written, deleted = counts.get("upsert", 0), counts.get("delete", 0)
        if on_rows_to_write is not None:
            on_rows_to_write(changes.where(F.col(_CHANGE) == "upsert").drop(_CHANGE))
        if written or deleted:
            assignments = {f"`{c}`": f"c.`{c}`" for c in current.columns}
            (
                target.alias("t")
                .merge(changes.alias("c"), " AND ".join(f"t.`{k}` = c.`{k}`" for k in keys))
                .whenMatchedDelete(condition=f"c.{_CHANGE} = 'delete'")
                .whenMatchedUpdate(condition=f"c.{_CHANGE} = 'upsert'", set=assignments)
                .whenNotMatchedInsert(condition=f"c.{_CHANGE} = 'upsert'", values=assignments)
                .execute()
            )
        return TableWrite(INCREMENTAL, None, delivered=delivered_count, written=written, deleted=deleted)
    finally:
        if changes is not None:
            changes.unpersist()
        delivered.unpersist()


def _person_records(
    spark: SparkSession, settings: Settings, persons: list[SourceContract], day: dt.date, *, requested_full: bool
) -> tuple[TableWrite, dict]:
    path = settings.table_path("silver", "person_records")
    fingerprint = inputs_fingerprint(persons, standardised=True)
    properties = _existing_properties(spark, path)
    bronze = bronze_commits(spark, settings, persons, (properties or {}).get(BRONZE_COMMITS_PROPERTY))
    reason = full_rebuild_reason(spark, path, PERSON_TABLE_COLUMNS, fingerprint, requested=requested_full,
                                 properties=properties)
    if reason is not None:
        canonical = _union([person_records(spark, settings, c) for c in persons])
        silver = standardise_person_records(canonical, as_of=day).withColumn(SILVER_LOGICAL_DATE, F.lit(day))
        write = _overwrite(spark, silver, path, PERSON_KEYS, SILVER_PERSON_PROPERTIES, fingerprint, reason, bronze)
        report = StandardisationReport.from_silver(spark.read.format("delta").load(path)).as_dict()
        return write, report

    reports: list[dict] = []
    delivered = standardise_person_records(
        _union([person_records(spark, settings, c, delivered_on=day) for c in persons]), as_of=day
    )
    write = merge_delivery(
        spark,
        path,
        delivered,
        _union([person_record_ids(spark, settings, c) for c in persons]) if bronze.removal_reason else None,
        PERSON_KEYS,
        stamp={SILVER_LOGICAL_DATE: F.lit(day)},
        on_rows_to_write=lambda rows: reports.append(StandardisationReport.from_silver(rows).as_dict()),
    )
    delta_io.ensure_properties(spark, path, bronze.as_properties(), current=properties)
    return dataclasses.replace(write, gone_check=bronze.removal_reason), reports[0]


def _events(
    spark: SparkSession, settings: Settings, sources: list[SourceContract], day: dt.date, *, requested_full: bool
) -> TableWrite:
    path = settings.table_path("silver", "events")
    fingerprint = inputs_fingerprint(sources, standardised=False)
    properties = _existing_properties(spark, path)
    bronze = bronze_commits(spark, settings, sources, (properties or {}).get(BRONZE_COMMITS_PROPERTY))
    reason = full_rebuild_reason(spark, path, EVENT_COLUMNS, fingerprint, requested=requested_full, properties=properties)
    if reason is not None:
        return _overwrite(spark, _union([events(spark, settings, c) for c in sources]), path, EVENT_KEYS,
                          SILVER_EVENT_PROPERTIES, fingerprint, reason, bronze)
    write = merge_delivery(
        spark,
        path,
        _union([events(spark, settings, c, delivered_on=day) for c in sources]),
        _union([event_keys(spark, settings, c) for c in sources]) if bronze.removal_reason else None,
        EVENT_KEYS,
    )
    delta_io.ensure_properties(spark, path, bronze.as_properties(), current=properties)
    return dataclasses.replace(write, gone_check=bronze.removal_reason)


def run(
    spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str, full_rebuild: bool | str = False
) -> dict:
    day = parse_date(logical_date)
    requested_full = _as_flag(full_rebuild)
    contracts = load_contracts(settings.sources_dir)
    persons = [c for c in contracts.persons() if delta_io.table_exists(spark, settings.table_path("bronze", c.name))]
    if not persons:
        raise RuntimeError(f"no bronze table of any person source under {settings.lakehouse_root}/bronze")
    event_sources = [c for c in contracts.events() if delta_io.table_exists(spark, settings.table_path("bronze", c.name))]

    def write_events() -> tuple[TableWrite, int]:
        write = _events(spark, settings, event_sources, day, requested_full=requested_full)
        return write, spark.read.format("delta").load(settings.table_path("silver", "events")).count()

    # The two tables share no input they write: they are built concurrently (scv.concurrent_spark).
    tasks = {"person_records": functools.partial(_person_records, spark, settings, persons, day, requested_full=requested_full)}
    if event_sources:
        tasks["events"] = write_events
    written = run_concurrently(spark, tasks)
    person_write, report = written["person_records"]
    log.info(
        "silver person_records (%s%s): %d delivered, %d written, %d deleted (looked for rows gone from bronze: %s); "
        "written rows: %s",
        person_write.mode, f": {person_write.full_rebuild_reason}" if person_write.full_rebuild_reason else "",
        person_write.delivered, person_write.written, person_write.deleted,
        person_write.gone_check or "no, bronze only gained rows", report,
    )
    event_write, event_count = written.get("events", (None, 0))
    if event_write is not None:
        log.info("silver events (%s): %d written, %d deleted, %d in the table, from %s", event_write.mode,
                 event_write.written, event_write.deleted, event_count, [c.name for c in event_sources])
    return {
        "logical_date": logical_date,
        "run_id": run_id,
        "person_sources": [c.name for c in persons],
        "mode": person_write.mode,
        "full_rebuild_reason": person_write.full_rebuild_reason,
        "records_delivered": person_write.delivered,
        "records_written": person_write.written,
        "records_deleted": person_write.deleted,
        # Why the run looked for rows gone from bronze; None: bronze only gained rows, not looked for.
        "records_gone_check": person_write.gone_check,
        "standardisation": report,
        "standardisation_scope": "table" if person_write.mode == FULL else "rows_written",
        "events": event_count,
        "events_mode": event_write.mode if event_write else None,
        "events_written": event_write.written if event_write else 0,
        "events_deleted": event_write.deleted if event_write else 0,
        "events_gone_check": event_write.gone_check if event_write else None,
    }
