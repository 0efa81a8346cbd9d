"""Scoring record pairs with a trained model: all pairs, or only those touching new records.

Both functions return the same columns, one row per scored pair with ``record_id_l <
record_id_r``, keeping pairs at or above ``config.pair_threshold`` (the lower of the review band
and the match threshold; pairs below it neither link nor need review):

``record_id_l, record_id_r, match_probability, match_weight, match_key`` (index of the blocking
rule that found the pair), ``source_system_l, source_system_r``, ``conflict`` (true when a
comparison of ``config.conflicting_comparisons`` fell to its bottom level: clustering will not
link the pair), then per comparison ``gamma_<c>`` (the level reached: -1 null, 0 the bottom
level, higher is closer), ``mw_<c>`` (its match weight) and, for comparisons with
term-frequency adjustments, ``mw_tf_adj_<c>``. ``match_weight`` is the prior's weight plus
every ``mw_*`` column, so the columns explain the score exactly.

The returned DataFrame is already computed (a local checkpoint in Spark's block store) and does
not depend on Splink's intermediate tables, which are gone by the time it is returned.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from splink import Linker

from scv.linkage._backend import SplinkSession, materialise
from scv.linkage.blocking import comparison_upper_bound, enforce_comparison_budget
from scv.linkage.config import LinkageConfig
from scv.linkage.settings import (
    FLAG_COLUMNS,
    UNIQUE_ID,
    linkable_records,
    load_model,
    model_for_prediction,
    model_input_columns,
    require_columns,
)
from scv.linkage.training import TrainedModel

logger = logging.getLogger(__name__)

ModelRef = str | Path | TrainedModel
_PAIR_KEYS = ("record_id", "source_system")


def predict_pairs(
    spark: SparkSession,
    silver_df: DataFrame,
    model_json_path: ModelRef,
    config: LinkageConfig,
    *,
    check_budget: bool = True,
) -> DataFrame:
    """Score every blocked pair of linkable silver records (within and across sources).

    Before scoring, the comparison budget is checked (see :mod:`scv.linkage.blocking`) unless
    ``check_budget`` is false: first an upper bound from block sizes (one Spark job); only when
    that exceeds the budget the exact check, which fails naming the rule or block. Raises :class:`ModelColumnMismatch` if the data lacks a column
    the model reads, and :class:`ComparisonBudgetExceeded` if blocking is over budget.
    """
    model_path, settings = _prediction_settings(model_json_path, config)
    columns = model_input_columns(settings)
    require_columns(silver_df, columns | set(FLAG_COLUMNS), model_path)

    with SplinkSession(spark, config) as session:
        records = linkable_records(silver_df, columns)
        registered = session.register(records, "predict")
        if check_budget:
            rules = config.prediction_blocking_rules
            bound = comparison_upper_bound(records, rules)
            if bound is None or bound > config.comparison_budget:
                enforce_comparison_budget(registered, records.count(), rules, config)
            else:
                logger.info("comparisons at most %s, within the budget of %s", f"{bound:,}",
                            f"{config.comparison_budget:,}")
        linker = Linker(registered, settings, log_level=None)
        predictions = linker.inference.predict(
            threshold_match_probability=config.pair_threshold
        )
        pairs, n_pairs = materialise(_pair_columns(predictions.as_spark_dataframe(), config))
    logger.info("scored pairs kept at p >= %s: %s", config.pair_threshold, n_pairs)
    return pairs


def predict_incremental(
    spark: SparkSession,
    new_df: DataFrame,
    existing_df: DataFrame,
    model: ModelRef,
    config: LinkageConfig,
) -> DataFrame:
    """Score only the pairs that involve a new (or changed) record.

    New records are compared with each other (Splink's ``predict_within``) and with the
    existing records (``predict_between``); pairs among existing records are not scored again.
    A record present in both inputs is taken from ``new_df`` (a changed record replaces its
    previous version). Term frequencies come from new and existing records together, as in a
    full run, so a pair scores the same whichever way it was found.
    """
    model_path, settings = _prediction_settings(model, config)
    columns = model_input_columns(settings)
    required = columns | set(FLAG_COLUMNS)
    require_columns(new_df, required, model_path)
    require_columns(existing_df, required, model_path)

    tf_columns = sorted(
        {
            level["tf_adjustment_column"].strip("`\"")
            for comparison in settings["comparisons"]
            for level in comparison["comparison_levels"]
            if level.get("tf_adjustment_column")
        }
    )
    with SplinkSession(spark, config) as session:
        new = linkable_records(new_df, columns)
        existing = linkable_records(existing_df, columns).join(
            new.select(UNIQUE_ID), on=UNIQUE_ID, how="left_anti"
        )
        new_registered = session.register(new, "new")
        existing_registered = session.register(existing, "existing")
        # Both parts are cached already; the union only feeds the term-frequency tables.
        everything = session.register(new.unionByName(existing), "all", cache=False)

        linker = Linker(everything, settings, log_level=None)
        for column in tf_columns:
            linker.table_management.compute_tf_table(column)
        within = linker.inference.predict_within(
            new_registered, threshold_match_probability=config.pair_threshold
        )
        between = linker.inference.predict_between(
            new_registered, existing_registered, threshold_match_probability=config.pair_threshold
        )
        pairs = _pair_columns(within.as_spark_dataframe(), config).unionByName(
            _pair_columns(between.as_spark_dataframe(), config)
        )
        pairs, n_pairs = materialise(_orient(pairs))
    logger.info("incremental pairs kept at p >= %s: %s", config.pair_threshold, n_pairs)
    return pairs


def _prediction_settings(model: ModelRef, config: LinkageConfig) -> tuple[str, dict[str, Any]]:
    if isinstance(model, TrainedModel):
        return str(model.model_path), model_for_prediction(model.settings, config)
    return str(model), model_for_prediction(load_model(model), config)


def _pair_columns(predictions: DataFrame, config: LinkageConfig) -> DataFrame:
    """The documented pair columns in a stable order (Splink's compared values and ``tf_*``
    inputs are dropped: review reads the records from silver)."""
    conflict = F.lit(False)
    for comparison in config.conflicting_comparisons:
        if f"gamma_{comparison}" in predictions.columns:
            conflict = conflict | F.coalesce(F.col(f"gamma_{comparison}") == 0, F.lit(False))
    leading = [
        F.col("record_id_l"),
        F.col("record_id_r"),
        F.col("match_probability"),
        F.col("match_weight"),
        F.col("match_key"),
        F.col("source_system_l"),
        F.col("source_system_r"),
        conflict.alias("conflict"),
    ]
    explaining = [c for c in predictions.columns if c.startswith(("gamma_", "mw_"))]
    return predictions.select(*leading, *explaining)


def _orient(pairs: DataFrame) -> DataFrame:
    """Swap the sides of pairs found new-vs-existing so that ``record_id_l < record_id_r``
    (comparisons are symmetric, so only the ``_l``/``_r`` keys move)."""
    swap = F.col("record_id_l") > F.col("record_id_r")
    swapped = {}
    for key in _PAIR_KEYS:
        left, right = F.col(f"{key}_l"), F.col(f"{key}_r")
        swapped[f"{key}_l"] = F.when(swap, right).otherwise(left)
        swapped[f"{key}_r"] = F.when(swap, left).otherwise(right)
    return pairs.withColumns(swapped)
