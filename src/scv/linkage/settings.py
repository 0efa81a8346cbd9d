"""Splink settings for the silver records, the columns a model reads, and the linkable subset.

All record pairs are found in one ``dedupe_only`` model over the union of sources: pairs within a
source and across sources are scored alike, and ``source_system`` travels along as a column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlglot
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from sqlglot import exp
from splink import SettingsCreator

from scv.linkage.config import LinkageConfig
from scv.linkage.errors import ModelColumnMismatch

UNIQUE_ID = "record_id"
SOURCE_COLUMN = "source_system"
# Contract flags deciding which records take part in linkage at all.
FLAG_COLUMNS = ("is_linkable", "is_company")


def build_settings(config: LinkageConfig) -> SettingsCreator:
    """Splink settings for the silver contract: untrained comparisons and prediction rules.

    Intermediate columns are retained because the per-comparison match weights (``mw_*``) are
    what explains a score to a steward; matching columns are retained for the level each pair
    reached (``gamma_*``, which Splink only outputs with them) and for Splink's dashboards.
    """
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=UNIQUE_ID,
        comparisons=list(config.comparisons),
        blocking_rules_to_generate_predictions=list(config.prediction_blocking_rules),
        additional_columns_to_retain=[SOURCE_COLUMN],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        max_iterations=config.em_max_iterations,
        em_convergence=config.em_convergence,
    )


def training_settings_dict(config: LinkageConfig) -> dict[str, Any]:
    """The untrained settings as Splink writes them to a model file (Spark SQL dialect)."""
    return build_settings(config).create_settings_dict("spark")


def load_model(model_path: str | Path) -> dict[str, Any]:
    """Read a model JSON file; a missing or unreadable file fails naming the path."""
    path = Path(model_path)
    try:
        model = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise FileNotFoundError(f"linkage model file not found: {path}") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"linkage model file {path} is not valid JSON: {error}") from error
    if not isinstance(model, dict) or "comparisons" not in model:
        raise ValueError(f"linkage model file {path} has no 'comparisons': not a Splink model")
    return model


def model_for_prediction(model: dict[str, Any], config: LinkageConfig) -> dict[str, Any]:
    """A copy of ``model`` that blocks with the configured prediction rules and keeps the
    columns ``predict_*`` returns, whatever the file was saved with."""
    settings = dict(model)
    settings["blocking_rules_to_generate_predictions"] = list(config.prediction_blocking_rules)
    settings["retain_intermediate_calculation_columns"] = True
    settings["retain_matching_columns"] = True
    settings["additional_columns_to_retain"] = [SOURCE_COLUMN]
    # Model files carry a random uid; Splink makes a fresh one per linker when it is absent.
    settings.pop("linker_uid", None)
    return settings


def columns_in_rules(rules: list[str] | tuple[str, ...]) -> set[str]:
    """Input columns read by blocking rules (``l.x``/``r.x`` references)."""
    columns: set[str] = set()
    for rule in rules:
        for column in sqlglot.parse_one(rule, read="spark").find_all(exp.Column):
            columns.add(column.name)
    return columns


def model_input_columns(settings: dict[str, Any], extra_rules: tuple[str, ...] = ()) -> set[str]:
    """Input columns a Splink settings dict reads: comparison levels (``x_l``/``x_r``),
    term-frequency columns, blocking rules, the unique id and retained columns."""
    columns = {settings.get("unique_id_column_name", "unique_id")}
    columns.update(settings.get("additional_columns_to_retain") or [])
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("tf_adjustment_column"):
                columns.add(level["tf_adjustment_column"].strip("`\""))
            condition = level.get("sql_condition", "ELSE")
            if condition.strip().upper() == "ELSE":
                continue
            for column in sqlglot.parse_one(condition, read="spark").find_all(exp.Column):
                name = column.name
                if name.endswith(("_l", "_r")):
                    columns.add(name[:-2])
    rules = [
        rule["blocking_rule"] if isinstance(rule, dict) else rule
        for rule in settings.get("blocking_rules_to_generate_predictions") or []
    ]
    columns.update(columns_in_rules([*rules, *extra_rules]))
    return columns


def require_columns(
    df: DataFrame, columns: set[str], model_path: str | Path | None = None
) -> None:
    """Raise :class:`ModelColumnMismatch` naming every column of ``columns`` not in ``df``."""
    available = set(df.columns)
    missing = sorted(columns - available)
    if missing:
        raise ModelColumnMismatch(
            missing, str(model_path) if model_path else None, sorted(available)
        )


def linkable_records(silver_df: DataFrame, columns: set[str]) -> DataFrame:
    """The records that take part in linkage, projected to ``columns``.

    Companies and records with no identifying field left (``is_linkable`` false or null) are
    excluded: clustering turns them into single-record customers. Projection keeps Splink's
    working tables as narrow as the model allows.
    """
    require_columns(silver_df, set(FLAG_COLUMNS) | columns)
    linkable = F.coalesce(F.col("is_linkable"), F.lit(False)) & ~F.coalesce(
        F.col("is_company"), F.lit(False)
    )
    ordered = [UNIQUE_ID] + sorted(columns - {UNIQUE_ID})
    return silver_df.where(linkable).select(*ordered)
