"""Golden-record jobs: stage the gold tables for a run, then publish them after the gate.

``run`` writes, for every definition in ``include/survivorship/`` (see :mod:`scv.golden.policy`),
``staging/<table>`` (analytics, pseudonymised) and ``staging/<pii_table>`` (restricted personal
values), plus ``staging/customer_xref``, from the same clusters. The gold validation gates read
those; ``publish`` MERGEs them into ``gold/``. A failed gate therefore leaves every gold table at
its previous version.

Two modes, recorded in each staged table's commit (``userMetadata``) so ``publish`` applies it:

* **full** (``full_rebuild``, or a gold table missing or laid out differently): full snapshots of
  every customer; ``publish`` makes gold equal to them (:func:`scv.golden.publish.merge_snapshot`).
* **incremental** (the default otherwise): only the customers whose golden rows would differ
  from what gold holds (:mod:`scv.golden.fingerprint`: input fingerprint changed or missing in any
  gold table, suppression state contradicted), with all their cross-reference rows; keys gold
  holds that no longer exist (customers merged away, split, erased; records gone) go to
  ``staging/<table>__deletes``. ``publish`` upserts the staged rows and deletes those keys
  (:func:`scv.golden.publish.merge_changes`). Gold afterwards equals a full rebuild's gold.

Every golden and cross-reference row carries its customer's ``_input_fingerprint``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import uuid
from collections.abc import Callable
from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from scv import delta_io
from scv.concurrent_spark import run_concurrently
from scv.config import Settings
from scv.golden.fingerprint import (
    FINGERPRINT_COLUMN,
    customer_fingerprints,
    fingerprint_mismatches,
    golden_inputs,
    run_digest,
    suppression_changed,
)
from scv.golden.policy import PRIMARY_TABLE, SurvivorshipPolicy, load_definitions
from scv.golden.pseudonymise import (
    ANALYTICS_COLUMNS,
    ANALYTICS_STATS_COLUMNS,
    PII_COLUMNS,
    PII_STATS_COLUMNS,
    split_personal,
)
from scv.golden.publish import HASH_COLUMN, merge_changes, merge_snapshot, with_content_hash
from scv.golden.survivorship import build_golden, with_record_flags
from scv.jobs import StepClock

log = logging.getLogger(__name__)

# Personal columns never get min/max statistics in the Delta log. Gold tables have deletion
# vectors: a daily publish updates a few percent of the rows, spread over every file.
XREF_PROPERTIES = {**delta_io.stats_columns_property(["customer_id", "source_system", "cluster_size"]), **delta_io.DELETION_VECTORS}
GOLDEN_PROPERTIES = {**delta_io.stats_columns_property(ANALYTICS_STATS_COLUMNS), **delta_io.DELETION_VECTORS}
PII_PROPERTIES = {**delta_io.stats_columns_property(PII_STATS_COLUMNS), **delta_io.DELETION_VECTORS}
XREF_COLUMNS = (
    "source_system",
    "source_record_id",
    "record_id",
    "customer_id",
    "match_probability_min",
    "match_probability_max",
    "cluster_size",
    "is_linkable",
    "is_company",
    "record_null_count",
    "is_most_complete",
    "is_most_recent",
    "is_golden_source",
    "duplicate_count",
    "is_duplicate",
    "model_version",
)
XREF_TABLE = "customer_xref"
XREF_KEYS = ["source_system", "source_record_id"]
# The keys of gold rows an incremental publish deletes (with record and customer ids, so the
# privacy jobs' deletes by key reach these tables too).
DELETES_SUFFIX = "__deletes"
XREF_DELETE_COLUMNS = (*XREF_KEYS, "record_id", "customer_id")
DELETES_PROPERTIES = delta_io.stats_columns_property(["customer_id"])
SUPPRESSION_TABLE = ("privacy", "suppression")
FULL, INCREMENTAL = "full", "incremental"
MODE_METADATA_KEY = "golden_mode"


def definitions_dir(settings: Settings) -> str:
    return os.path.join(settings.include_dir, "survivorship")


def definitions(settings: Settings) -> list[SurvivorshipPolicy]:
    return load_definitions(definitions_dir(settings))


def gold_tables(settings: Settings) -> list[tuple[str, list[str], dict[str, str]]]:
    """(table, MERGE keys, properties) of every table ``run`` stages and ``publish`` publishes."""
    tables = [(XREF_TABLE, list(XREF_KEYS), XREF_PROPERTIES)]
    for policy in definitions(settings):
        tables.append((policy.table, ["customer_id"], GOLDEN_PROPERTIES))
        tables.append((policy.pii_table, ["customer_id"], PII_PROPERTIES))
    return tables


def staged_layouts(policies: list[SurvivorshipPolicy]) -> dict[str, tuple[str, ...]]:
    """The columns of every staged (and so published) table."""
    extra = (FINGERPRINT_COLUMN, HASH_COLUMN)
    layouts = {XREF_TABLE: (*XREF_COLUMNS, *extra)}
    for policy in policies:
        layouts[policy.table] = (*ANALYTICS_COLUMNS, *extra)
        layouts[policy.pii_table] = (*PII_COLUMNS, *extra)
    return layouts


def deletes_table(name: str) -> str:
    return f"{name}{DELETES_SUFFIX}"


def _suppression(spark: SparkSession, settings: Settings):
    path = settings.table_path(*SUPPRESSION_TABLE)
    return spark.read.format("delta").load(path) if delta_io.table_exists(spark, path) else None


def _load(spark: SparkSession, path: str) -> DataFrame:
    return spark.read.format("delta").load(path)


def _as_flag(value: bool | str) -> bool:
    """A job argument that may arrive as Airflow's rendered template text ("True"/"False")."""
    return str(value).strip().lower() in ("true", "1", "yes")


def gold_layout_is_current(spark: SparkSession, settings: Settings, layouts: dict[str, tuple[str, ...]]) -> bool:
    """Whether every gold table exists with exactly the columns this build stages."""
    for name, columns in layouts.items():
        path = settings.table_path("gold", name)
        if not delta_io.table_exists(spark, path):
            return False
        if sorted(DeltaTable.forPath(spark, path).toDF().columns) != sorted(columns):
            return False
    return True


def cross_reference(records: DataFrame, primary_golden: DataFrame) -> DataFrame:
    """The cross-reference rows of ``records`` (with record flags), marking each customer's
    golden source record of the primary definition."""
    sources = primary_golden.select("customer_id", F.col("golden_source_record_id").alias("record_id"))
    return (
        records.join(sources.withColumn("is_golden_source", F.lit(True)), ["customer_id", "record_id"], "left")
        .withColumn("is_golden_source", F.coalesce("is_golden_source", F.lit(False)))
        .select(*XREF_COLUMNS)
    )


def _stage(frame: DataFrame, fingerprints: DataFrame, path: str, properties: dict[str, str], metadata: str) -> None:
    staged = frame.join(fingerprints, "customer_id", "inner").select(*frame.columns, FINGERPRINT_COLUMN)
    delta_io.overwrite(with_content_hash(staged), path, properties=properties, user_metadata=metadata)


def _published(
    spark: SparkSession, settings: Settings, policies: list[SurvivorshipPolicy], *, incremental: bool
) -> dict[str, DataFrame]:
    """Every existing gold table; for an ``incremental`` build (whose gold tables all have the
    current layout) projected on the columns it compares, deletes and counts with, which that
    build caches so each table is read once, not three times."""
    analytics = {policy.table for policy in policies}
    frames = {}
    for name in staged_layouts(policies):
        path = settings.table_path("gold", name)
        if not delta_io.table_exists(spark, path):
            continue
        if name == XREF_TABLE:
            columns = [*XREF_DELETE_COLUMNS, FINGERPRINT_COLUMN]
        elif name in analytics:
            columns = ["customer_id", FINGERPRINT_COLUMN, "email_hmac", "phone_hmac", "is_suppressed",
                       "email_contactable", "postal_contactable"]
        else:
            columns = ["customer_id", FINGERPRINT_COLUMN]
        frames[name] = _load(spark, path).select(*columns) if incremental else _load(spark, path)
    return frames


def _customers_to_restage(
    published: dict[str, DataFrame],
    policies: list[SurvivorshipPolicy],
    fingerprints: DataFrame,
    inputs: DataFrame,
    suppression: DataFrame | None,
) -> DataFrame:
    """``customer_id`` of current customers whose golden rows in some gold table may differ
    from what this build makes: fingerprint missing or different, or suppression contradicted."""
    stale = []
    for policy in policies:
        for name in (policy.table, policy.pii_table):
            stale.append(fingerprint_mismatches(fingerprints, published[name]))
        stale.append(suppression_changed(published[policy.table], suppression))
    expected_xref = inputs.select(*XREF_KEYS, "customer_id").join(fingerprints, "customer_id")
    stale.append(fingerprint_mismatches(expected_xref, published[XREF_TABLE], XREF_KEYS))
    return reduce(DataFrame.unionByName, stale).distinct().join(fingerprints.select("customer_id"), "customer_id", "left_semi")


def _gone_keys(spark: SparkSession, published: DataFrame | None, name: str, inputs: DataFrame, customers: DataFrame) -> DataFrame:
    """The keys of gold table ``name`` (``published``; None while there is none) this build no
    longer produces."""
    if name == XREF_TABLE:
        if published is None:
            return spark.createDataFrame([], ", ".join(f"{c} string" for c in XREF_DELETE_COLUMNS))
        return published.select(*XREF_DELETE_COLUMNS).join(inputs.select(*XREF_KEYS), XREF_KEYS, "left_anti")
    if published is None:
        return spark.createDataFrame([], "customer_id string")
    return published.select("customer_id").join(customers, "customer_id", "left_anti")


def _counts(frame: DataFrame) -> dict[str, int]:
    row = frame.agg(
        F.count("*").alias("customers"),
        F.sum(F.col("email_contactable").cast("int")).alias("email_contactable"),
        F.sum(F.col("postal_contactable").cast("int")).alias("postal_contactable"),
    ).first()
    return {k: int(row[k] or 0) for k in ("customers", "email_contactable", "postal_contactable")}


def run(
    spark: SparkSession,
    settings: Settings,
    *,
    logical_date: str,
    run_id: str,
    full_rebuild: bool | str = False,
) -> dict:
    """Stage every golden definition, its personal table and the cross-reference.

    Incremental unless ``full_rebuild`` (a bool, or Airflow's "True"/"False") or a gold table is
    missing or laid out differently (see the module docs). Summary: ``customers`` and each
    definition's ``customers`` / ``email_contactable`` / ``postal_contactable`` count the golden
    table as it is after publishing this staging; ``customers_staged`` and ``customers_deleted``
    what this run changes; ``mode``; ``seconds``, the wall time of each step (fingerprint,
    compare, deletes, stage, count). Needs the HMAC key (:func:`scv.privacy.keyed_hash.resolve_hmac_key`).
    """
    from scv.privacy.keyed_hash import resolve_hmac_key

    key = resolve_hmac_key()
    policies = definitions(settings)
    primary = next((p for p in policies if p.table == PRIMARY_TABLE), policies[0])
    layouts = staged_layouts(policies)
    mode = FULL if _as_flag(full_rebuild) or not gold_layout_is_current(spark, settings, layouts) else INCREMENTAL
    metadata = json.dumps({MODE_METADATA_KEY: mode, "build": uuid.uuid4().hex, "logical_date": logical_date, "run_id": run_id})

    clock = StepClock()
    cached: list[DataFrame] = []  # released in the finally, so a failed build leaves nothing cached

    def cache(frame: DataFrame) -> DataFrame:
        cached.append(frame.persist())
        return frame

    try:
        summary = _build(spark, settings, policies, primary, layouts, mode, metadata, key, clock, cache)
    finally:
        for frame in cached:
            frame.unpersist()
    summary.update(logical_date=logical_date, run_id=run_id, seconds=clock.seconds)
    log.info("build_golden %s: %d customer(s) staged, %d deleted, %d in total; seconds %s", mode,
             summary["customers_staged"], summary["customers_deleted"], summary["customers"], clock.seconds)
    return summary


def _build(
    spark: SparkSession,
    settings: Settings,
    policies: list[SurvivorshipPolicy],
    primary: SurvivorshipPolicy,
    layouts: dict[str, tuple[str, ...]],
    mode: str,
    metadata: str,
    key: bytes,
    clock: StepClock,
    cache: Callable[[DataFrame], DataFrame],
) -> dict:
    """The body of :func:`run`: stages every table and returns its summary (without the run's
    ids). ``cache`` persists a frame for the rest of the build."""
    with clock.step("fingerprint"):
        silver = _load(spark, settings.table_path("silver", "person_records"))
        assignment = _load(spark, settings.table_path("silver", "record_customer"))
        inputs = cache(golden_inputs(silver, assignment))
        fingerprints = cache(customer_fingerprints(inputs, run_digest(policies, key)))
        customers = fingerprints.select("customer_id")
        summary: dict = {"mode": mode, "records": inputs.count(), "definitions": {}}
    suppression = _suppression(spark, settings)
    published = _published(spark, settings, policies, incremental=mode == INCREMENTAL)
    with clock.step("compare"):
        if mode == INCREMENTAL:
            published = {name: cache(frame) for name, frame in published.items()}
            affected = cache(_customers_to_restage(published, policies, fingerprints, inputs, suppression))
            records = inputs.join(affected, "customer_id", "left_semi")
            # What the staged rows carry: the restaged customers' fingerprints, a small frame.
            staged_fingerprints = cache(fingerprints.join(affected, "customer_id", "left_semi"))
        else:
            affected = customers
            records = inputs
            staged_fingerprints = fingerprints
        records = cache(with_record_flags(records))
        summary["customers_staged"] = affected.count()

    # The deletes first, the staged rows last: the staged table's commit says what publish does.
    # (Delta skips committing an empty table over an empty one, so only the staged rows carry
    # the build's metadata reliably.)
    # Every table is its own Delta transaction: each group is written concurrently.
    def write_gone(name: str) -> None:
        gone = _gone_keys(spark, published.get(name), name, inputs, customers)
        delta_io.overwrite(gone, settings.table_path("staging", deletes_table(name)), properties=DELETES_PROPERTIES)

    with clock.step("deletes"):
        run_concurrently(spark, {name: functools.partial(write_gone, name) for name in layouts})
        gone_customers = cache(reduce(
            DataFrame.unionByName,
            [_load(spark, settings.table_path("staging", deletes_table(name))) for name in layouts if name != XREF_TABLE],
        ).distinct())  # read again by every definition's counts
        summary["customers_deleted"] = gone_customers.count()

    with clock.step("stage"):
        goldens = {policy.table: cache(build_golden(records, policy)) for policy in policies}
        stages = {}
        for policy in policies:
            golden = goldens[policy.table]
            if policy is primary:
                stages[XREF_TABLE] = (cross_reference(records, golden), XREF_PROPERTIES)
            analytics, personal = split_personal(golden, key, suppression)
            stages[policy.table] = (analytics, GOLDEN_PROPERTIES)
            stages[policy.pii_table] = (personal, PII_PROPERTIES)
        run_concurrently(spark, {
            name: functools.partial(_stage, frame, staged_fingerprints, settings.table_path("staging", name), properties, metadata)
            for name, (frame, properties) in stages.items()
        })

    def definition_counts(policy: SurvivorshipPolicy) -> dict[str, int]:
        counts = _counts(_load(spark, settings.table_path("staging", policy.table)))
        if mode == INCREMENTAL:
            # The rows gold keeps: every published customer neither restaged nor deleted.
            kept = _counts(
                published[policy.table]
                .join(affected, "customer_id", "left_anti")
                .join(gone_customers, "customer_id", "left_anti")
            )
            counts = {k: counts[k] + kept[k] for k in counts}
        return counts

    with clock.step("count"):
        summary["definitions"] = run_concurrently(
            spark,
            {policy.table: functools.partial(definition_counts, policy) for policy in policies}
        )
    for policy in policies:
        log.info("staged %s and %s (%s): %s", policy.table, policy.pii_table, mode, summary["definitions"][policy.table])
    summary["customers"] = summary["definitions"][primary.table]["customers"]
    return summary


def staged_metadata(spark: SparkSession, path: str) -> dict:
    """The build metadata of the latest staging commit that has it (later commits, such as a
    privacy job's DELETE, keep the staging's meaning); ``{}`` for a staging written without."""
    history = DeltaTable.forPath(spark, path).history().select("version", "userMetadata")
    for row in history.where(F.col("userMetadata").contains(MODE_METADATA_KEY)).orderBy(F.col("version").desc()).limit(1).collect():
        return json.loads(row.userMetadata)
    return {}


def publish(spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str) -> dict:
    """Publish every staged table into gold (after the gold gates passed); idempotent.

    A full staging is MERGEd as a snapshot; an incremental one as changes plus its deletes.
    """
    def publish_table(name: str, keys: list[str], properties: dict[str, str]) -> tuple[str, dict]:
        staged_path = settings.table_path("staging", name)
        staged = _load(spark, staged_path)
        mode = staged_metadata(spark, staged_path).get(MODE_METADATA_KEY, FULL)
        target = settings.table_path("gold", name)
        if delta_io.table_exists(spark, target):
            delta_io.ensure_properties(spark, target, properties)  # a table made before a property existed
        if mode == INCREMENTAL:
            deletes = _load(spark, settings.table_path("staging", deletes_table(name)))
            published = merge_changes(staged, deletes, target, keys)
        else:
            published = merge_snapshot(staged, target, keys, properties)
        log.info("published gold/%s (%s): %s", name, mode, published)
        return mode, published

    # Each table is its own Delta transaction: they are MERGEd concurrently (scv.concurrent_spark).
    outcomes = run_concurrently(
        spark,
        {name: functools.partial(publish_table, name, keys, properties) for name, keys, properties in gold_tables(settings)}
    )
    modes = {mode for mode, _ in outcomes.values()}
    result = {name: published for name, (_, published) in outcomes.items()}
    return {"logical_date": logical_date, "run_id": run_id, "mode": "/".join(sorted(modes)), **result}
