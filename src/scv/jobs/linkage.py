"""Linkage jobs: train a model on demand; daily, link records and keep customer ids stable;
then the steward's outputs.

``train`` writes a new model version under ``<artifacts>/models/linkage/`` and, when asked,
approves it (``approved.json`` names the approved version). ``run`` predicts with the approved
model, only for new and changed records unless a full re-link is asked for (or the model
changed), clusters all records and assigns persistent customer ids:

- ``silver/match_pairs``: scored pairs at or above the review band's lower bound, with their
  per-comparison match weights (a full snapshot of the current pairs).
- ``silver/record_customer``: record_id -> customer_id with cluster size, Zingg-style min/max
  match probability within the cluster, the record's content hash and the model version.
- ``silver/customer_id_history``: created, merged and split ids per logical date. A new
  customer never takes an id given out before (:func:`issued_customer_ids`).

Its summary reports the seconds of each step (``seconds``). ``review`` (the DAG's
``steward_review`` task, beside the golden build) then writes from those tables:

- ``silver/review_queue``: pairs in the review band that no steward has labelled yet, both
  records side by side with the per-comparison levels (``gamma_*``) and match weights (``mw_*``).
- ``<artifacts>/linkage/dashboards/<logical_date>/``: Splink's comparison viewer and cluster
  studio for a sample of the run's clusters (they hold record values: only in that folder).

Steward labels (``scv.steward``: CSVs dropped in ``<landing>/_steward/labels/`` are imported
first, and ``scv label`` writes directly) are honoured by clustering: forced links and forced
splits. The summary reports the model's precision and recall against them.

Every commit carries ``logical_date=<D>`` as Delta user metadata. The previous state of a run
for D is the table version last committed by an earlier logical date, so reruns of D see the
same inputs and write the same result.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from functools import reduce
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from scv import delta_io
from scv.config import Settings
from scv.identity import assign_customer_ids
from scv.jobs import StepClock, parse_date
from scv.linkage import LinkageConfig, cluster_records, latest_model, load_trained_model, predict_incremental, predict_pairs, train_model
from scv.linkage.blocking import blocking_field_coverage
from scv.linkage.dashboards import dashboards_dir, sample_clusters, write_dashboards
from scv.steward import agreement_with_labels, current_labels, import_label_inbox

log = logging.getLogger(__name__)

# Columns the model reads; a change in any of them makes the record "changed" for linkage.
LINKAGE_COLUMNS = (
    "first_name",
    "last_name",
    "first_name_canonical",
    "first_name_phonetic",
    "last_name_phonetic",
    "email",
    "phone",
    "date_of_birth",
    "address_line1",
    "city",
    "postcode",
    "country",
    "is_linkable",
    "is_company",
)
PAIR_PROPERTIES = delta_io.stats_columns_property(["record_id_l", "record_id_r", "match_probability"])
ASSIGNMENT_PROPERTIES = delta_io.stats_columns_property(["record_id", "customer_id", "cluster_size"])


def model_dir(settings: Settings) -> Path:
    return Path(settings.artifacts_dir) / "models" / "linkage"


def approved_model_path(settings: Settings) -> Path:
    return model_dir(settings) / "approved.json"


def approve(settings: Settings, version: str, approved_by: str) -> None:
    """Mark ``version`` as the model daily runs predict with."""
    load_trained_model(model_dir(settings) / version)  # fails clearly if it does not exist
    approved_model_path(settings).write_text(
        json.dumps({"version": version, "approved_by": approved_by, "approved_at": dt.datetime.now(dt.timezone.utc).isoformat()})
    )


def approved_model(settings: Settings):
    path = approved_model_path(settings)
    if not path.is_file():
        return None
    return load_trained_model(model_dir(settings) / json.loads(path.read_text())["version"])


def _silver(spark: SparkSession, settings: Settings) -> DataFrame:
    return spark.read.format("delta").load(settings.table_path("silver", "person_records"))


def train(spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str, approve_model: bool | str = False) -> dict:
    # Templated job arguments arrive as strings ("False" is truthy).
    approve_model = str(approve_model).strip().lower() in ("true", "1", "yes")
    model = train_model(spark, _silver(spark, settings), LinkageConfig(), model_dir(settings))
    if approve_model:
        approve(settings, model.version, approved_by=f"run {run_id}")
    log.info("trained linkage model %s (approved: %s) in %s", model.version, approve_model, model.directory)
    return {"logical_date": logical_date, "run_id": run_id, "model_version": model.version, "approved": approve_model}


def _version_before(spark: SparkSession, path: str, logical_date: dt.date) -> int | None:
    """The latest version of the table committed by a run of an earlier logical date."""
    if not delta_io.table_exists(spark, path):
        return None
    best = None
    for row in DeltaTable.forPath(spark, path).history().select("version", "userMetadata").collect():
        meta = row.userMetadata or ""
        if meta.startswith("logical_date="):
            committed = dt.date.fromisoformat(meta.split("=", 1)[1][:10])
            if committed < logical_date and (best is None or row.version > best):
                best = row.version
    return best


def _read_version(spark: SparkSession, path: str, version: int | None) -> DataFrame | None:
    if version is None:
        return None
    return spark.read.format("delta").option("versionAsOf", version).load(path)


def issued_customer_ids(
    spark: SparkSession, settings: Settings, previous_assignment: DataFrame | None, logical_date: dt.date
) -> DataFrame | None:
    """(customer_id) of every id given out before ``logical_date``: the whole previous assignment's
    (an incremental run re-assigns only its scope) and every id ``silver/customer_id_history``
    names for an earlier date (ids merged away or split off since). A new cluster never takes one.
    A rerun of ``logical_date`` does not count its own earlier ids, so it gives the same ids.
    ``None`` before the first run."""
    parts = [] if previous_assignment is None else [previous_assignment.select("customer_id")]
    path = settings.table_path("silver", "customer_id_history")
    if delta_io.table_exists(spark, path):
        earlier = spark.read.format("delta").load(path).where(F.col("logical_date") < F.lit(logical_date))
        parts += [earlier.select("customer_id"), earlier.select(F.col("other_customer_id").alias("customer_id"))]
    if not parts:
        return None
    return reduce(DataFrame.unionByName, parts).where(F.col("customer_id").isNotNull()).distinct()


def _with_record_hash(silver: DataFrame) -> DataFrame:
    return silver.withColumn("record_hash", F.sha2(F.to_json(F.struct(*[F.col(c) for c in LINKAGE_COLUMNS])), 256))


def _write(df: DataFrame, path: str, logical_date: dt.date, properties: dict[str, str]) -> None:
    delta_io.overwrite(df, path, properties=properties, user_metadata=f"logical_date={logical_date.isoformat()}")


ASSIGNMENT_COLUMNS = ("record_id", "customer_id", "customer_first_seen", "cluster_size", "match_probability_min",
                      "match_probability_max", "record_hash", "model_version", "logical_date")


def _touching(pairs: DataFrame, records: DataFrame, how: str) -> DataFrame:
    """``pairs`` with an end among ``records`` (``how="left_semi"``) or with neither end among
    them (``"left_anti"``). ``records`` is a day's changes, small beside the pairs: Spark's
    adaptive execution broadcasts it."""
    ids = records.select("record_id")
    left = ids.withColumnRenamed("record_id", "record_id_l")
    right = ids.withColumnRenamed("record_id", "record_id_r")
    if how == "left_anti":
        return pairs.join(left, "record_id_l", "left_anti").join(right, "record_id_r", "left_anti")
    return pairs.join(left, "record_id_l", "left_semi").unionByName(pairs.join(right, "record_id_r", "left_semi"))


def relink_scope(
    silver: DataFrame,
    previous_assignment: DataFrame,
    previous_pairs: DataFrame,
    changed: DataFrame,
    removed: DataFrame,
    new_pairs: DataFrame | None,
    labels: DataFrame | None,
) -> DataFrame:
    """``record_id`` of every current record whose cluster an incremental run can change.

    A record is *touched* when it is new or changed, was removed, is an end of a newly scored
    pair or of a pair that is gone (a previous pair with an end that changed or was removed),
    or is named by a steward label. Every customer that held a touched record is re-clustered
    whole, with the new and changed records: a cluster elsewhere has the same records and the
    same pairs as before, so clustering it again would give it the same id, size and
    probabilities.
    """
    def ends(pairs: DataFrame) -> DataFrame:
        return pairs.select(F.col("record_id_l").alias("record_id")).unionByName(
            pairs.select(F.col("record_id_r").alias("record_id")))

    keys = ["record_id_l", "record_id_r"]
    present = silver.select("record_id")
    stale = changed.select("record_id").unionByName(removed.select("record_id"))
    gone_pairs = _touching(previous_pairs.select(*keys), stale, "left_semi")
    touched = stale.unionByName(ends(gone_pairs))
    if new_pairs is not None:
        touched = touched.unionByName(ends(new_pairs.select(*keys)))
    if labels is not None:
        touched = touched.unionByName(ends(labels.select(*keys)))
    customers = previous_assignment.join(touched.distinct(), "record_id", "left_semi").select("customer_id").distinct()
    members = previous_assignment.join(customers, "customer_id", "left_semi").select("record_id")
    return present.join(members.unionByName(changed.select("record_id")).distinct(), "record_id", "left_semi")


REVIEW_FIELDS = ("first_name", "last_name", "email", "phone", "date_of_birth", "address_line1", "postcode")


def review_queue(
    silver: DataFrame, pairs: DataFrame, config: LinkageConfig, labels: DataFrame | None = None
) -> DataFrame:
    """Pairs whose probability lies in the review band and that no steward has labelled, both
    records side by side.

    The pair's ``gamma_*`` (level reached) and ``mw_*`` columns (per-comparison match weights)
    explain its score; ``conflict`` says clustering will not link it whatever its score.
    """
    low, high = config.review_band
    band = pairs.where((F.col("match_probability") >= low) & (F.col("match_probability") < high))
    if labels is not None:
        band = band.join(labels.select("record_id_l", "record_id_r"), ["record_id_l", "record_id_r"], "left_anti")
    left = silver.select(F.col("record_id").alias("record_id_l"), *[F.col(c).alias(f"{c}_l") for c in REVIEW_FIELDS])
    right = silver.select(F.col("record_id").alias("record_id_r"), *[F.col(c).alias(f"{c}_r") for c in REVIEW_FIELDS])
    return band.join(left, "record_id_l").join(right, "record_id_r")


def run(
    spark: SparkSession,
    settings: Settings,
    *,
    logical_date: str,
    run_id: str,
    full_relink: bool | str = False,
    bootstrap_model: bool = True,
) -> dict:
    date = parse_date(logical_date)
    full_relink = str(full_relink).lower() in ("true", "1", "yes")
    config = LinkageConfig()
    model = approved_model(settings)
    if model is None:
        if not bootstrap_model:
            raise FileNotFoundError(f"no approved linkage model in {approved_model_path(settings)}: run train_linkage_model")
        log.warning("no approved linkage model yet: training and approving one from today's silver (bootstrap)")
        train(spark, settings, logical_date=logical_date, run_id=run_id, approve_model=True)
        model = approved_model(settings)

    clock = StepClock()
    with clock.step("read"):
        silver = _with_record_hash(_silver(spark, settings)).persist()
        pairs_path = settings.table_path("silver", "match_pairs")
        assignment_path = settings.table_path("silver", "record_customer")
        previous_assignment = _read_version(spark, assignment_path, _version_before(spark, assignment_path, date))
        previous_pairs = _read_version(spark, pairs_path, _version_before(spark, pairs_path, date))
        same_model = (
            previous_assignment is not None
            and previous_assignment.select("model_version").distinct().collect() == [(model.version,)]
        )
    incremental = not full_relink and previous_pairs is not None and same_model
    with clock.step("predict"):
        if incremental:
            unchanged = silver.join(previous_assignment.select("record_id", "record_hash"), ["record_id", "record_hash"], "left_semi")
            changed = silver.join(unchanged.select("record_id"), "record_id", "left_anti").select("record_id").localCheckpoint()
            # Records of the previous run gone from silver (erased, retired, deleted at source).
            # The previous pairs are between records of the previous assignment (one run wrote
            # both), so the pairs still valid are those with no end changed or removed.
            removed = previous_assignment.select("record_id").join(
                silver.select("record_id"), "record_id", "left_anti").localCheckpoint()
            kept_pairs = _touching(previous_pairs, changed.unionByName(removed), "left_anti")
            changed_count = changed.count()
            new_pairs = None
            if changed_count:
                new_pairs = predict_incremental(spark, silver.join(changed, "record_id", "left_semi"), silver, model, config)
                pairs = kept_pairs.unionByName(new_pairs.select(*kept_pairs.columns))
            else:
                pairs = kept_pairs
            mode = "incremental"
        else:
            changed_count = silver.count()
            pairs = predict_pairs(spark, silver, model, config)
            mode = "full"
    with clock.step("coverage"):
        # Coverage of the blocking fields in what is linked this run: all records in a full run,
        # the new and changed ones in an incremental run (a delivery missing a field shows here).
        coverage_warnings = blocking_field_coverage(
            silver.join(changed, "record_id", "left_semi") if incremental else silver, config
        ).warnings if changed_count else []
    with clock.step("write_pairs"):
        pairs = pairs.where(F.col("match_probability") >= config.review_band[0])
        _write(pairs, pairs_path, date, PAIR_PROPERTIES)
        pairs = spark.read.format("delta").load(pairs_path)

    with clock.step("cluster"):
        import_label_inbox(spark, settings)
        labels = current_labels(spark, settings)
        if incremental:
            # Only customers a change can reach are re-clustered; every other record keeps its row.
            scope = relink_scope(silver, previous_assignment, previous_pairs, changed, removed, new_pairs,
                                 labels).localCheckpoint()
            scoped_records = silver.join(scope, "record_id", "left_semi")
            scoped_pairs = pairs.join(scope.select(F.col("record_id").alias("record_id_l")), "record_id_l", "left_semi").join(
                scope.select(F.col("record_id").alias("record_id_r")), "record_id_r", "left_semi")
            scoped_previous = previous_assignment.join(scope, "record_id", "left_semi")
            records_reclustered = scope.count()
        else:
            scoped_records, scoped_pairs, scoped_previous = silver, pairs, previous_assignment
            records_reclustered = None
        clusters = cluster_records(spark, scoped_records, scoped_pairs, config.match_threshold, config=config, labels=labels)
    with clock.step("assign_ids"):
        assignment, history = assign_customer_ids(
            clusters.select("record_id", "cluster_id"),
            scoped_previous.select("record_id", "customer_id", "customer_first_seen") if scoped_previous is not None else None,
            date,
            issued=issued_customer_ids(spark, settings, previous_assignment, date),
        )
        # Read by its write and the summary: computed once, not per action.
        history = history.localCheckpoint()
        record_customer = (
            assignment.join(clusters.select("record_id", F.col("min_match_probability").alias("match_probability_min"),
                                  F.col("max_match_probability").alias("match_probability_max")), "record_id")
            .join(silver.select("record_id", "record_hash"), "record_id")
            .withColumn("model_version", F.lit(model.version))
            .withColumn("logical_date", F.lit(date).cast("date"))
            .select(*ASSIGNMENT_COLUMNS)
        )
        if incremental:
            untouched = (
                previous_assignment.join(scope, "record_id", "left_anti")
                .join(silver.select("record_id"), "record_id", "left_semi")
                .withColumn("logical_date", F.lit(date).cast("date"))
                .select(*ASSIGNMENT_COLUMNS)
            )
            record_customer = record_customer.unionByName(untouched)
        record_customer = record_customer.localCheckpoint()
    with clock.step("write_assignment"):
        _write(record_customer, assignment_path, date, ASSIGNMENT_PROPERTIES)
        history = history.withColumn("logical_date", F.lit(date).cast("date")).withColumn("run_id", F.lit(run_id))
        delta_io.replace_where(history, settings.table_path("silver", "customer_id_history"),
                               f"logical_date = DATE {delta_io.sql_literal(date.isoformat())}", ["logical_date"])

    with clock.step("summary"):
        counts = record_customer.agg(F.countDistinct("customer_id").alias("customers"), F.count("*").alias("records")).first()
        pair_counts = pairs.agg(
            F.count("*").alias("stored"),
            F.sum(((F.col("match_probability") >= config.match_threshold) & ~F.col("conflict")).cast("int")).alias("linked"),
        ).first()
        summary = {
            "logical_date": logical_date,
            "run_id": run_id,
            "mode": mode,
            "model_version": model.version,
            "records": int(counts.records or 0),
            "records_linked_this_run": changed_count,
            "records_reclustered": records_reclustered,
            "customers": int(counts.customers),
            "pairs_stored": int(pair_counts.stored),
            "pairs_linked": int(pair_counts.linked or 0),
            "history": {r.event: r.n for r in history.groupBy("event").agg(F.count("*").alias("n")).collect()},
            "agreement_with_labels": agreement_with_labels(pairs, labels, config.match_threshold) if labels is not None else None,
            "blocking_coverage_warnings": coverage_warnings,
            "blocking_coverage_of": "new and changed records" if incremental else "all records",
        }
    summary["seconds"] = clock.seconds
    silver.unpersist()
    log.info("linkage %s: %s", mode, summary)
    return summary


def review(
    spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str, dashboard_records: int | str = 1000
) -> dict:
    """The steward's outputs of the latest linkage: ``silver/review_queue`` and the run's
    dashboards (Splink's comparison viewer and cluster studio for a sample of its clusters).

    Reads what ``run`` wrote (the pairs, the record -> customer assignment and the model version
    it recorded) and the current labels, so it runs beside the golden build, not before it.
    """
    date = parse_date(logical_date)
    dashboard_records = int(dashboard_records)
    config = LinkageConfig()
    clock = StepClock()
    silver = _silver(spark, settings)
    pairs = spark.read.format("delta").load(settings.table_path("silver", "match_pairs"))
    assignment = spark.read.format("delta").load(settings.table_path("silver", "record_customer"))
    versions = [row.model_version for row in assignment.select("model_version").distinct().collect()]
    if len(versions) != 1:
        raise ValueError(f"silver/record_customer holds {len(versions)} model versions {versions}: run link_records first")
    model = load_trained_model(model_dir(settings) / versions[0])
    labels = current_labels(spark, settings)
    with clock.step("review_queue"):
        queue_path = settings.table_path("silver", "review_queue")
        _write(review_queue(silver, pairs, config, labels), queue_path, date, PAIR_PROPERTIES)
        queued = spark.read.format("delta").load(queue_path).count()
    with clock.step("dashboards"):
        clusters = assignment.select("record_id", F.col("customer_id").alias("cluster_id"))
        dashboards = write_dashboards(
            spark, silver, sample_clusters(clusters, pairs, config, max_records=dashboard_records), model, config,
            dashboards_dir(settings.artifacts_dir, date.isoformat()),
        ) if dashboard_records else {}
    summary = {
        "logical_date": logical_date,
        "run_id": run_id,
        "model_version": model.version,
        "review_queue": queued,
        "dashboards": sorted(str(path) for path in dashboards.values()),
        "seconds": clock.seconds,
    }
    log.info("steward review outputs: %s", summary)
    return summary
