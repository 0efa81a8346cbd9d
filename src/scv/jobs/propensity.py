"""Propensity jobs: weekly training per product group, daily scoring per product group.

``train`` reads ``silver/events`` and ``gold/customer_xref`` and trains, evaluates, registers and
gates one group's model (:func:`scv.propensity.training.train_group`). ``score`` scores one
``gold/customer_features`` snapshot with the group's champion into ``gold/propensity_scores``.
Groups are independent: each task touches only its own registered model and score partition.
"""

from __future__ import annotations

import datetime as dt
import logging

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from scv import delta_io
from scv.config import Settings
from scv.jobs import parse_date
from scv.propensity.config import config_path, load_config

log = logging.getLogger(__name__)

SCORES_TABLE = ("gold", "propensity_scores")
FEATURES_TABLE = ("gold", "customer_features")
SCORES_PROPERTIES = delta_io.stats_columns_property(["customer_id", "score"])  # partitions need none


def _optional(value) -> str | None:
    """Templated kwargs arrive as strings: '', 'None' and 'null' mean "not given"."""
    if value is None:
        return None
    text = str(value).strip()
    return None if text in ("", "None", "null") else text


def train(spark: SparkSession, settings: Settings, *, logical_date: str, run_id: str, group: str, margin=None) -> dict:
    """Train ``group``'s model as of ``logical_date`` (labels up to the day before it).

    ``margin`` overrides ``training.promotion_margin`` (the DAG's ``promotion_margin`` param).
    Not idempotent in the registry (a rerun registers another version) but safe: a rerun's model
    cannot beat an identical champion by a positive margin, so the champion stays.
    """
    from scv.propensity.training import train_group

    config = load_config(config_path(settings.include_dir))
    margin_value = _optional(margin)
    events = spark.read.format("delta").load(settings.table_path("silver", "events"))
    xref = spark.read.format("delta").load(settings.table_path("gold", "customer_xref"))
    result = train_group(
        events,
        xref,
        parse_date(logical_date),
        group,
        config,
        settings,
        margin=float(margin_value) if margin_value is not None else None,
        airflow_run_id=run_id,
    )
    return {"logical_date": logical_date, "run_id": run_id, **result.as_dict()}


def _require_features_table(spark: SparkSession, settings: Settings) -> str:
    path = settings.table_path(*FEATURES_TABLE)
    if not delta_io.table_exists(spark, path):
        raise FileNotFoundError(f"{path} is not a Delta table: run the features job (scv_daily) first")
    return path


def latest_features_date(spark: SparkSession, settings: Settings) -> dt.date:
    """The newest ``as_of_date`` in ``gold/customer_features``."""
    path = _require_features_table(spark, settings)
    latest = spark.read.format("delta").load(path).agg(F.max("as_of_date")).first()[0]
    if latest is None:
        raise ValueError(f"{path} has no rows: run the features job (scv_daily) first")
    return latest


def score(spark: SparkSession, settings: Settings, *, run_id: str, group: str, as_of_date: str | None = None) -> dict:
    """Score every customer of the ``as_of_date`` features snapshot (default: the latest) with
    ``group``'s champion, replacing that date's and group's rows of ``gold/propensity_scores``.

    Idempotent per (date, group): the partition is replaced atomically; a rerun writes the same
    customers, scores and model version (only ``scored_at`` moves). Raises
    ``MissingChampionError`` when the group has no champion, leaving its scores untouched.
    """
    from scv.propensity.scoring import load_champion, score_features

    config = load_config(config_path(settings.include_dir))
    config.group(group)
    _require_features_table(spark, settings)
    given = _optional(as_of_date)
    as_of = parse_date(given) if given else latest_features_date(spark, settings)
    path = settings.table_path(*FEATURES_TABLE)
    features = spark.read.format("delta").load(path).where(F.col("as_of_date") == F.lit(as_of))
    customers = features.count()
    if customers == 0:
        raise ValueError(f"gold/customer_features has no rows as of {as_of}: run the features job for that date first")
    champion = load_champion(config, group, settings)
    scored_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    scores = score_features(features, champion, scored_at)
    delta_io.replace_where(
        scores,
        settings.table_path(*SCORES_TABLE),
        f"as_of_date = {delta_io.sql_literal(as_of.isoformat())} AND product_group = {delta_io.sql_literal(group)}",
        # One partition per date and group, so that the groups' tasks can write concurrently.
        partition_by=["as_of_date", "product_group"],
        properties=SCORES_PROPERTIES,
    )
    written = (
        spark.read.format("delta").load(settings.table_path(*SCORES_TABLE))
        .where((F.col("as_of_date") == F.lit(as_of)) & (F.col("product_group") == group))
        .agg(F.count("*").alias("rows"), F.avg("score").alias("mean_score"))
        .first()
    )
    summary = {
        "run_id": run_id,
        "group": group,
        "as_of_date": as_of.isoformat(),
        "model_name": champion.version.name,
        "model_version": champion.version.version,
        "customers": customers,
        "scored": int(written["rows"]),
        "mean_score": round(float(written["mean_score"]), 5),
    }
    log.info("gold/propensity_scores %s: %s", group, summary)
    return summary
